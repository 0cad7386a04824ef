// A full garbage collection between runs, so that one run's garbage is not collected in the next
// one's time. Exposed at run time; a no-op where the flag cannot be set.
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const exposed = vm.runInNewContext('typeof gc === "function" ? gc : undefined') as (() => void) | undefined;

export function gc(): void {
  exposed?.();
}
