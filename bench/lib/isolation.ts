// rhea-rx takes over rhea's debug loggers when its first client is made (src/client/rheaLoggers.ts:
// a no-op while a namespace is off, a guard that hides SASL secrets while `rhea:frames` or
// `rhea:raw` is on). A raw rhea or rhea-promise client measured in the same process as rhea-rx must
// run as it would without rhea-rx, neither paying for a hook nor gaining from one, so the baseline
// clients run with rhea's own loggers restored, and rhea-rx runs with its own put back.
import { createRequire } from 'node:module';
import { createClient } from 'rhea-rx';

const rheaLog = createRequire(import.meta.url)('rhea/lib/log.js') as Record<string, unknown>;
const descriptors = () => Object.fromEntries(Object.keys(rheaLog).map((k) => [k, Object.getOwnPropertyDescriptor(rheaLog, k)!]));
const plain = descriptors();
// A client that never connects: making it installs the hooks.
await createClient('amqp://127.0.0.1:9').close({ timeout: 0 });
const withRheaRx = descriptors();
const hooked = Object.keys(withRheaRx).filter((k) => {
  const [a, b] = [plain[k]!, withRheaRx[k]!];
  return a.value !== b.value || a.get !== b.get || a.set !== b.set;
});

/** The names of rhea's log functions rhea-rx replaces (for the results file). */
export const rheaRxHooks: readonly string[] = hooked;

/** rhea as rhea-rx leaves it: before a rhea-rx run. */
export function asRheaRx(): void {
  for (const k of hooked) Object.defineProperty(rheaLog, k, withRheaRx[k]!);
}

/** rhea as it is without rhea-rx in the process: before a raw rhea or rhea-promise run. */
export function asPlainRhea(): void {
  for (const k of hooked) Object.defineProperty(rheaLog, k, plain[k]!);
}
