import { createRequire } from 'node:module';
import { REDACTED } from '../config/redact.js';
import { log } from '../log.js';

/** SASL performatives whose fields carry credentials: sasl-init (0x41), sasl-challenge (0x42), sasl-response (0x43). */
const SASL_SECRET_FIELDS = ['initial_response', 'challenge', 'response'] as const;
/** SASL frames that never carry credentials: sasl-mechanisms (0x40) and sasl-outcome (0x44). */
const SASL_HARMLESS_FRAMES = new Set([0x40, 0x44]);

type Logger = ((...args: unknown[]) => void) & { enabled?: boolean; namespace?: string };

interface Slot {
  readonly name: string;
  /** rhea's own debug instance. */
  readonly original: Logger;
  /** What runs while the namespace is on: the original, or a guard around it. */
  readonly on: Logger;
  /** What runs while it is off: nothing, not even an argument list. */
  readonly off: Logger;
}

let installed = false;

/**
 * Takes over rhea's debug loggers (its shared `lib/log.js` module, which rhea reads at each call),
 * once per process, for two reasons:
 *
 * - **C3.** `rhea:frames` and `rhea:raw` dump every frame, and a SASL init carries the PLAIN user
 *   name and password (as a byte list and as hex): with `DEBUG=rhea*` the password would reach the
 *   log. While one of them is on, a guard takes its place that replaces the credential fields of
 *   SASL frames by `***`, for every rhea connection in the process (the EmbeddedBroker's too).
 * - **Cost.** rhea calls a logger for every frame and event whether its namespace is on or not, and
 *   a debug instance collects its arguments into an array before it looks: 6–10 arrays per message
 *   sent or received. While a namespace is off, rhea's slot holds a function that does nothing.
 *
 * A namespace changes only through debug's `enable()` (which the DEBUG variable, `debug.enable`
 * and `debug.disable` all go through), so the choice is made at install and after each call of it;
 * setting `enabled` on a logger in rhea's module also makes it again. Output is what rhea writes
 * itself, apart from the hidden credentials.
 */
export function installRheaLoggers(): void {
  if (installed) return;
  installed = true;
  let loggers: Record<string, unknown>;
  try {
    loggers = createRequire(import.meta.url)('rhea/lib/log.js') as Record<string, unknown>;
  } catch (error) {
    log.connection('cannot reach rhea frame logs to guard them against SASL secrets: %s', error instanceof Error ? error.message : String(error));
    return;
  }
  const slots: Slot[] = [];
  const choose = (): void => {
    for (const slot of slots) loggers[slot.name] = slot.original.enabled ? slot.on : slot.off;
  };
  for (const [name, value] of Object.entries(loggers)) {
    if (typeof value !== 'function') continue;
    const original = value as Logger;
    const hide = HIDERS[name];
    const on = hide === undefined ? original : switchable((...args: unknown[]) => original(...args.map(hide)), original, choose);
    const off = switchable(() => {}, original, choose);
    slots.push({ name, original, on, off });
  }
  choose();
  // The debug module rhea's loggers come from (one copy, or rhea's own): choose again after enable().
  const debugModule = requireFromRhea('debug') as { enable?: (namespaces: string) => void } | undefined;
  const enable = debugModule?.enable;
  if (debugModule !== undefined && typeof enable === 'function') {
    debugModule.enable = function enableAndChoose(this: unknown, namespaces: string): void {
      enable.call(this, namespaces);
      choose();
    };
  }
}

/**
 * `fn` with the `enabled` property of rhea's logger: reading it asks the original, and debug's own
 * switch on an instance (`logger.enabled = true`) sets the original's and makes the choice again.
 */
function switchable(fn: (...args: unknown[]) => void, original: Logger, choose: () => void): Logger {
  return Object.defineProperty(fn, 'enabled', {
    get: () => original.enabled,
    set: (value: boolean) => {
      original.enabled = value;
      choose();
    },
    enumerable: true,
  }) as Logger;
}

/** What the guard of each logger that can see credentials hides. */
const HIDERS: Record<string, (arg: unknown) => unknown> = {
  // Frame dumps (`%j` of the performative): the credential fields.
  frames: (arg) => {
    if (typeof arg !== 'object' || arg === null || Buffer.isBuffer(arg)) return arg;
    if (!SASL_SECRET_FIELDS.some((field) => field in arg)) return arg;
    const json = typeof (arg as { toJSON?: unknown }).toJSON === 'function' ? (arg as { toJSON(): unknown }).toJSON() : arg;
    const copy: Record<string, unknown> = { ...(json as Record<string, unknown>) };
    for (const field of SASL_SECRET_FIELDS) if (copy[field] !== undefined && copy[field] !== null) copy[field] = REDACTED;
    return copy;
  },
  // Raw bytes (`%h`, hex): every SASL frame but the mechanisms list and the outcome.
  raw: (arg) => {
    if (!Buffer.isBuffer(arg) || !isSaslFrameWithSecrets(arg)) return arg;
    const hidden = `(SASL frame of ${arg.length} bytes, ${REDACTED})`;
    return { toString: () => hidden };
  },
};

/** Loads a module as rhea's own code would resolve it; undefined when it cannot. */
function requireFromRhea(id: string): unknown {
  try {
    const require = createRequire(import.meta.url);
    return createRequire(require.resolve('rhea/lib/log.js'))(id);
  } catch {
    return undefined;
  }
}

/** A SASL frame (type 1) other than sasl-mechanisms and sasl-outcome, or one that cannot be read. */
function isSaslFrameWithSecrets(frame: Buffer): boolean {
  if (frame.length < 8 || frame[5] !== 0x01) return false;
  const body = (frame[4] ?? 2) * 4;
  if (frame[body] !== 0x00) return true;
  const code = frame[body + 1] === 0x53 ? frame[body + 2] : frame[body + 1] === 0x80 && frame.length >= body + 10 ? frame.readUInt32BE(body + 6) : undefined;
  return code === undefined || !SASL_HARMLESS_FRAMES.has(code);
}
