import type { Receiver, Sender } from 'rhea';

interface Corkable {
  readonly destroyed: boolean;
  readonly writableCorked: number;
  cork(): void;
  uncork(): void;
}

/**
 * rhea puts every frame on the socket with a write of its own: a system call per transfer while
 * the socket keeps up. Called right after handing rhea transfers, which rhea writes in a pass it
 * has queued with process.nextTick, this corks the connection's socket and queues the uncork
 * behind that pass: the pass's frames leave in one writev. Nothing is delayed: the uncork runs in
 * the same turn, before any I/O.
 */
export function batchWrites(link: Sender | Receiver): void {
  const socket = (link.connection as unknown as { socket?: Corkable }).socket;
  if (!socket || typeof socket.cork !== 'function' || socket.destroyed || socket.writableCorked > 0) return;
  socket.cork();
  process.nextTick(uncork, socket);
}

function uncork(socket: Corkable): void {
  socket.uncork();
}
