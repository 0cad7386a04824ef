import type { EventEmitter } from 'node:events';

/** Adds `listener` for `event` and returns the function that removes it: every listener has one owner. */
export function on<A extends unknown[]>(emitter: EventEmitter, event: string, listener: (...args: A) => void): () => void {
  const bound = listener as (...args: unknown[]) => void;
  emitter.on(event, bound);
  return () => {
    emitter.removeListener(event, bound);
  };
}
