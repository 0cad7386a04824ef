import { ConfigError } from '../errors/errors.js';
import { redact } from './redact.js';

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
  const values = new Map<string, string>();
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const at = part.indexOf('=');
    if (at <= 0) {
      throw new ConfigError('connectionString', `Invalid connection string: '${redact(part)}' is not a Key=Value pair`);
    }
    const key = part.slice(0, at).trim();
    const name = known.get(key.toLowerCase());
    if (name === undefined) {
      throw new ConfigError(
        'connectionString',
        `Invalid connection string: unknown key '${key}'; expected Endpoint, SharedAccessKeyName, SharedAccessKey and optionally EntityPath`,
      );
    }
    if (values.has(name)) throw new ConfigError(`connectionString.${name}`, `Invalid connection string: '${name}' is given twice`);
    values.set(name, part.slice(at + 1).trim());
  }
  for (const name of ['Endpoint', 'SharedAccessKeyName', 'SharedAccessKey']) {
    if (!values.get(name)) throw new ConfigError(`connectionString.${name}`, `Invalid connection string: '${name}' is missing or empty`);
  }
  const endpoint = values.get('Endpoint')!;
  const match = /^(sb|amqps|https):\/\/([^/:?#\s]+)(?::\d+)?\/?$/i.exec(endpoint);
  if (match === null) {
    throw new ConfigError(
      'connectionString.Endpoint',
      `Invalid connection string: Endpoint must look like 'sb://NAMESPACE.servicebus.windows.net/', got '${redact(endpoint)}'`,
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
