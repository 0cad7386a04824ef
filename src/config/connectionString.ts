import { ConfigError } from '../errors/errors.js';

/** What an Azure Service Bus connection string says. */
export interface ServiceBusConnectionString {
  /** The namespace host, e.g. `contoso.servicebus.windows.net`. */
  readonly host: string;
  readonly sharedAccessKeyName: string;
  readonly sharedAccessKey: string;
  /** The queue or topic the string is scoped to, when it has `EntityPath`. */
  readonly entityPath?: string | undefined;
}

const known = new Map([
  ['endpoint', 'Endpoint'],
  ['sharedaccesskeyname', 'SharedAccessKeyName'],
  ['sharedaccesskey', 'SharedAccessKey'],
  ['entitypath', 'EntityPath'],
]);

/** True when `text` looks like a Service Bus connection string rather than a URL. */
export function isConnectionString(text: string): boolean {
  return /^\s*endpoint\s*=/i.test(text);
}

/**
 * Parses an Azure Service Bus connection string:
 * `Endpoint=sb://NS.servicebus.windows.net/;SharedAccessKeyName=NAME;SharedAccessKey=KEY[;EntityPath=QUEUE]`.
 *
 * Pairs are separated by `;` and split on their *first* `=`, since base64 keys end in `=`. Key
 * names are matched without regard to case. The endpoint's scheme may be `sb`, `amqps` or
 * `https`; the connection is always AMQP over TLS on port 5671.
 *
 * @throws {@link ConfigError} naming the missing or malformed part; never showing the key.
 */
export function parseConnectionString(text: string): ServiceBusConnectionString {
  if (typeof text !== 'string') {
    throw new ConfigError('connectionString', `Invalid connection string: expected a string, got ${text === null ? 'null' : typeof text}`);
  }
  const values = new Map<string, string>();
  const parts = text.split(';');
  parts.forEach((part, index) => {
    if (part.trim() === '') return;
    const at = part.indexOf('=');
    const key = at <= 0 ? '' : part.slice(0, at).trim();
    // A part that is not `Name=…` may be the key itself (its name lost, or ';' pasted into it):
    // it is named by position, and shown only when it cannot be a piece of a key.
    const shown = plainWord(at <= 0 ? part.trim() : key);
    const where = `part ${index + 1}${shown === undefined ? ' (not shown: it may hold the key)' : ` ('${shown}')`}`;
    if (at <= 0 || key === '') {
      throw new ConfigError('connectionString', `Invalid connection string: ${where} is not a Name=Value pair`);
    }
    const name = known.get(key.toLowerCase());
    if (name === undefined) {
      throw new ConfigError(
        'connectionString',
        `Invalid connection string: ${where} has an unknown name; expected Endpoint, SharedAccessKeyName, SharedAccessKey and optionally EntityPath`,
      );
    }
    if (values.has(name)) throw new ConfigError(`connectionString.${name}`, `Invalid connection string: '${name}' is given twice`);
    const value = part.slice(at + 1).trim();
    if (/\s/.test(value)) {
      throw new ConfigError(
        `connectionString.${name}`,
        `Invalid connection string: '${name}' holds whitespace (not shown); pairs are separated by ';', not by line breaks or spaces`,
      );
    }
    values.set(name, value);
  });
  for (const name of ['Endpoint', 'SharedAccessKeyName', 'SharedAccessKey']) {
    if (!values.get(name)) throw new ConfigError(`connectionString.${name}`, `Invalid connection string: '${name}' is missing or empty`);
  }
  const endpoint = values.get('Endpoint')!;
  const match = /^(sb|amqps|https):\/\/([^/:?#\s]+)(?::\d+)?\/?$/i.exec(endpoint);
  if (match === null) {
    throw new ConfigError(
      'connectionString.Endpoint',
      `Invalid connection string: Endpoint must look like 'sb://NAMESPACE.servicebus.windows.net/', got ${endpointShown(endpoint)}`,
    );
  }
  const entityPath = values.get('EntityPath');
  return {
    host: match[2]!,
    sharedAccessKeyName: values.get('SharedAccessKeyName')!,
    sharedAccessKey: values.get('SharedAccessKey')!,
    ...(entityPath ? { entityPath } : {}),
  };
}

/** The scheme and host of a malformed endpoint, for a message; the rest (a path, a query) may hold anything. */
function endpointShown(endpoint: string): string {
  const head = /^[A-Za-z][A-Za-z0-9.-]{0,15}:\/\/[A-Za-z0-9.-]{0,253}/.exec(endpoint)?.[0];
  if (head === undefined) return 'a value that is not shown (it is not a URL)';
  return head.length === endpoint.length ? `'${head}'` : `'${head}' followed by more (not shown)`;
}

/** `text` when it is a short run of letters (a misspelled name), which no base64 key piece is likely to be. */
function plainWord(text: string): string | undefined {
  return /^[A-Za-z]{1,24}$/.test(text) ? text : undefined;
}
