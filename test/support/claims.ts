/**
 * Claims on ports and brokers shared by concurrent test runs: an exclusively created file under
 * `.brokers/claims` holding the claiming process's PID. A claim whose process is gone is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Where the claim files live. */
export const CLAIMS = fileURLToPath(new URL('../../.brokers/claims', import.meta.url));

/** Whether a process is running (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Whether a TCP port on 127.0.0.1 can be bound now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Claims `${CLAIMS}/${name}.pid` for this process; false when a live process holds it. */
export function claim(name: string): boolean {
  mkdirSync(CLAIMS, { recursive: true });
  const path = `${CLAIMS}/${name}.pid`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // no claim file, or unreadable: treated as unclaimed
      }
      if (holder === process.pid) return true;
      if (holder > 0 && alive(holder)) return false;
      rmSync(path, { force: true }); // stale, or half-written: take it over
    }
  }
  return false;
}

/** Gives up a claim this process holds (nothing if another holds it, or none does). */
export function release(name: string): void {
  const path = `${CLAIMS}/${name}.pid`;
  try {
    if (Number(readFileSync(path, 'utf8').trim()) === process.pid) rmSync(path);
  } catch {
    // the claim is already gone
  }
}
