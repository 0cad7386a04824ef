/**
 * Watches the process while each test of a file runs and fails the test when anything escaped the
 * library: an unhandled promise rejection, an uncaught exception (an `'error'` event nobody heard
 * is thrown as one), a `MaxListenersExceededWarning` (listeners piling up on an emitter), or rhea
 * printing to the console — rhea prints when a protocol error, a disconnect or a write error finds
 * no listener, so output there means an event went unhandled.
 */
import { afterEach, beforeEach, expect, vi } from 'vitest';

export interface Escaped {
  readonly kind: 'unhandledRejection' | 'uncaughtException' | 'warning' | 'console.error' | 'console.warn' | 'console.log';
  readonly detail: string;
}

/**
 * rhea diagnostics that a peer's bytes cause and that do not mean an event went unhandled: rhea
 * prints them (console.error / console.warn) and goes on. The client then handles what follows:
 *  - `unrecognised outcome: …` — a disposition whose state is no outcome (an explicit null, a
 *    described value of another type); the delivery counts as settled with no outcome, that is with
 *    the default outcome (accepted);
 *  - `WARNING: expected described message section got …` / `did not recognise message section …` —
 *    a message with malformed or unknown sections; rhea decodes what it can;
 *  - `Unknown terminus: …` — a source or target of an unknown type in an attach;
 *  - `Received transfer when credit was 0` — a peer sending beyond the credit granted (RabbitMQ does
 *    it in normal operation; the receiver holds such deliveries back, see receiveLink);
 *  - `ERROR: received flow with drain set, but non zero credit` — a malformed flow.
 * rhea's other console output (a protocol error, a disconnect or a write error that found no
 * listener) means the library missed an event, and fails the test.
 */
const TOLERATED: readonly RegExp[] = [
  /^unrecognised outcome: /,
  /^WARNING: (expected described message section|did not recognise message section)/,
  /^Unknown terminus: /,
  /^Received transfer when credit was/,
  /^ERROR: received flow with drain set, but non zero credit/,
];

function text(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Installs the watch for every test of the current file (or describe). `allowConsole` lets a test
 * file print its own measurements with `console.log`.
 */
export function watchProcess(options: { allowConsoleLog?: boolean } = {}): { readonly escaped: Escaped[]; readonly tolerated: string[] } {
  const state = { escaped: [] as Escaped[], tolerated: [] as string[] };
  const onRejection = (reason: unknown) => state.escaped.push({ kind: 'unhandledRejection', detail: text(reason) });
  const onException = (error: unknown) => state.escaped.push({ kind: 'uncaughtException', detail: text(error) });
  const onWarning = (warning: Error) => {
    // Only warnings about the library's own behaviour; vitest's and Node's unrelated ones pass.
    if (warning.name === 'MaxListenersExceededWarning' || /rhea/i.test(warning.message)) {
      state.escaped.push({ kind: 'warning', detail: text(warning) });
    }
  };
  beforeEach(() => {
    state.escaped.length = 0;
    state.tolerated.length = 0;
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtExceptionMonitor', onException);
    process.on('warning', onWarning);
    const methods: Array<'error' | 'warn' | 'log'> = options.allowConsoleLog ? ['error', 'warn'] : ['error', 'warn', 'log'];
    for (const method of methods) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        const detail = args.map(text).join(' ');
        if (method === 'log' || !TOLERATED.some((pattern) => pattern.test(detail))) state.escaped.push({ kind: `console.${method}`, detail });
        else state.tolerated.push(detail);
      });
    }
  });
  afterEach(async () => {
    // Late events (a rejection noticed on the next turn, a timer that fires after the test) count too.
    await new Promise((resolve) => setTimeout(resolve, 20));
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtExceptionMonitor', onException);
    process.off('warning', onWarning);
    vi.restoreAllMocks();
    expect(state.escaped, 'nothing escaped the library').toEqual([]);
  });
  return state;
}

/** Resolves with what `promise` settled to and how long it took (ms); rejects after `limit` ms. */
export async function timed<T>(promise: Promise<T>, limit: number, what: string): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not settled within ${limit} ms`)), limit);
      }),
    ]);
    return { value, ms: performance.now() - start };
  } finally {
    clearTimeout(timer);
  }
}

/** Settles to the error a promise rejects with, or fails when it resolves. */
export function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${text(value)}`);
    },
    (error: unknown) => error,
  );
}
