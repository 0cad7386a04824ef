import type { Observable } from 'rxjs';
import { type Client, connectionManagerOf } from '../client/Client.js';
import type { ClientState } from '../client/ConnectionManager.js';
import { createClient, type TlsOptions } from '../client/createClient.js';
import { parseConnectionString } from '../config/connectionString.js';
import { ConfigError } from '../errors/errors.js';
import { type BackoffOptions, resolveBackoff } from '../policy/backoff.js';
import { CbsAuthorizer } from './cbs.js';
import { DEAD_LETTER_QUEUE_SUFFIX, TRANSFER_DEAD_LETTER_QUEUE_SUFFIX } from './constants.js';
import { ManagementClient, type ServiceBusContext } from './management.js';
import { sasTokenProvider, type TokenProvider } from './sasToken.js';
import {
  acceptSession,
  resolveReceiverOptions,
  type ServiceBusReceiverOptions,
  ServiceBusReceiver,
  type ServiceBusSessionReceiver,
  type SubQueue,
  waitTime,
} from './ServiceBusReceiver.js';
import { ServiceBusSender } from './ServiceBusSender.js';

/**
 * Options of {@link createServiceBusClient}. Give a `connectionString`, or a
 * `fullyQualifiedNamespace` with a `tokenProvider`.
 */
export interface ServiceBusClientOptions {
  /** `Endpoint=sb://NAMESPACE.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…]`. */
  connectionString?: string;
  /** The namespace host, e.g. `contoso.servicebus.windows.net` (with a `tokenProvider`). */
  fullyQualifiedNamespace?: string;
  /** Where tokens come from (Azure AD, a vault, …); see {@link TokenProvider}. With a connection string, a SAS token provider over its key is used. */
  tokenProvider?: TokenProvider;
  /**
   * How the client proves who it is. `'cbs'` (claims-based authorization, as azure-servicebus): SASL
   * ANONYMOUS, then a token on the `$cbs` node for each entity before its first link attaches,
   * renewed before it expires. `'sasl-plain'` (seed 000, Qpid Proton's `allowed_mechs="PLAIN"`):
   * the key name and key as SASL PLAIN user and password; needs a connection string.
   * @default 'cbs'
   */
  auth?: 'cbs' | 'sasl-plain';
  /** How long a SAS token made from the connection string's key is valid, in milliseconds. @default 3_600_000 */
  tokenLifetime?: number;
  /**
   * Connect here instead of the namespace host, e.g. `amqps://127.0.0.1:5671` — a local emulator, a
   * test broker, a proxy. The namespace still names the audience of tokens and the open frame's
   * hostname. `amqp://` (no TLS) is allowed for local testing.
   */
  customEndpointAddress?: string;
  /** TLS settings (e.g. `ca` for a test broker's certificate). */
  tls?: TlsOptions;
  /** How long a management or CBS request may take, in milliseconds. @default 60_000 */
  operationTimeout?: number;
  /**
   * Retries of management requests that fail with a retryable error (server busy, timeout,
   * connection lost): the backoff, and `maxAttempts` retries.
   * @default { initialDelay: 800, factor: 2, maxDelay: 60_000, maxAttempts: 3 } (azure-servicebus's exponential 0.8 s, 3 retries)
   */
  retry?: BackoffOptions;
  /** The connection's reconnect policy (see `ClientOptions.reconnect`). @default true */
  reconnect?: boolean | BackoffOptions;
  /** How long one connection attempt may take (including putting tokens), in milliseconds. @default 30_000 */
  connectTimeout?: number;
  /** How long `close()` waits, in milliseconds. @default 30_000 */
  closeTimeout?: number;
  /** Idle timeout announced to the service, in milliseconds. */
  idleTimeout?: number;
  /** The AMQP container id. @default a generated UUID */
  containerId?: string;
}

const optionKeys = [
  'connectionString',
  'fullyQualifiedNamespace',
  'tokenProvider',
  'auth',
  'tokenLifetime',
  'customEndpointAddress',
  'tls',
  'operationTimeout',
  'retry',
  'reconnect',
  'connectTimeout',
  'closeTimeout',
  'idleTimeout',
  'containerId',
];

/**
 * Makes a client for an Azure Service Bus namespace, as azure-servicebus's
 * `ServiceBusClient.from_connection_string` or `ServiceBusClient(namespace, credential)`. Nothing
 * connects until the first send or receive; one connection serves every sender and receiver.
 *
 * @param connectionStringOrOptions - A connection string, or {@link ServiceBusClientOptions}.
 * @param options - With a connection string: the other options.
 * @throws {@link ConfigError} at once for a malformed connection string (never showing the key) or an invalid option.
 * @example
 * const sb = createServiceBusClient(process.env.SERVICEBUS_CONNECTION_STRING!);
 * await sb.createSender('orders').sendMessages({ body: 'Single message' });
 * const [message] = await sb.createReceiver('orders').receiveMessages({ maxWaitTime: 10_000 });
 * await message?.complete();
 * await sb.close();
 */
export function createServiceBusClient(
  connectionStringOrOptions: string | ServiceBusClientOptions,
  options: Omit<ServiceBusClientOptions, 'connectionString'> = {},
): ServiceBusClient {
  const given: ServiceBusClientOptions =
    typeof connectionStringOrOptions === 'string' ? { ...options, connectionString: connectionStringOrOptions } : connectionStringOrOptions;
  if (given === null || typeof given !== 'object') throw new ConfigError('options', 'createServiceBusClient takes a connection string or an options object');
  for (const key of Object.keys(given)) {
    if (!optionKeys.includes(key)) throw new ConfigError(key, `Unknown option '${key}'; known options are ${optionKeys.join(', ')}`);
  }
  return new ServiceBusClient(given);
}

/**
 * A client for one Service Bus namespace: makes senders and receivers, which share its one
 * connection (a rhea-rx {@link Client}, available as {@link client} for plain AMQP work).
 */
export class ServiceBusClient {
  /** The namespace host. */
  readonly fullyQualifiedNamespace: string;
  /** The rhea-rx client underneath: one connection, reconnect, `state$`, `peer`. */
  readonly client: Client;
  readonly #context: ServiceBusContext;
  readonly #cbs: CbsAuthorizer | undefined;
  readonly #entityPath: string | undefined;
  readonly #management = new Map<string, ManagementClient>();
  #closed = false;

  /** @internal Use {@link createServiceBusClient}. */
  constructor(options: ServiceBusClientOptions) {
    const auth = options.auth ?? 'cbs';
    if (auth !== 'cbs' && auth !== 'sasl-plain') throw new ConfigError('auth', `Invalid option 'auth': expected 'cbs' or 'sasl-plain', got ${JSON.stringify(auth)}`);
    const parsed = options.connectionString === undefined ? undefined : parseConnectionString(options.connectionString);
    // A port in the endpoint (an emulator, a test broker) is kept, as azure-servicebus keeps it: it is
    // part of the namespace in token audiences, and where the client connects.
    const endpointPort = parsed === undefined ? undefined : portOf(options.connectionString!);
    const namespace =
      parsed === undefined
        ? options.fullyQualifiedNamespace?.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '')
        : endpointPort === undefined
          ? parsed.host
          : `${parsed.host}:${endpointPort}`;
    if (namespace === undefined || namespace.length === 0) {
      throw new ConfigError('connectionString', "Give a 'connectionString', or a 'fullyQualifiedNamespace' with a 'tokenProvider'");
    }
    if (parsed !== undefined && options.fullyQualifiedNamespace !== undefined) {
      throw new ConfigError('fullyQualifiedNamespace', "Give either 'connectionString' or 'fullyQualifiedNamespace', not both");
    }
    if (auth === 'sasl-plain' && parsed === undefined) throw new ConfigError('auth', "auth 'sasl-plain' needs a connection string with a key");
    if (auth === 'sasl-plain' && options.tokenProvider !== undefined) throw new ConfigError('tokenProvider', "A token provider is for auth 'cbs'");
    const provider =
      options.tokenProvider ??
      (parsed === undefined ? undefined : sasTokenProvider(parsed.sharedAccessKeyName, parsed.sharedAccessKey, { lifetime: options.tokenLifetime ?? 3_600_000 }));
    if (auth === 'cbs' && (provider === undefined || typeof provider.getToken !== 'function')) {
      throw new ConfigError('tokenProvider', "A 'tokenProvider' with a getToken(audience) method is needed without a connection string");
    }
    this.fullyQualifiedNamespace = namespace;
    this.#entityPath = parsed?.entityPath;

    const endpoint = endpointOf(options.customEndpointAddress, namespace);
    this.client = createClient({
      host: endpoint.host,
      port: endpoint.port,
      scheme: endpoint.scheme,
      hostname: namespace.replace(/:\d+$/, ''),
      ...(auth === 'sasl-plain'
        ? { username: parsed!.sharedAccessKeyName, password: parsed!.sharedAccessKey, sasl: { mechanisms: ['PLAIN'] } }
        : { sasl: { mechanisms: ['ANONYMOUS'] } }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
      ...(options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout }),
      ...(options.closeTimeout === undefined ? {} : { closeTimeout: options.closeTimeout }),
      ...(options.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout }),
      ...(options.containerId === undefined ? {} : { containerId: options.containerId }),
    });
    const manager = connectionManagerOf(this.client);
    const operationTimeout = waitTime(options.operationTimeout, 'operationTimeout', 60_000);
    if (operationTimeout === Infinity || operationTimeout < 1) throw new ConfigError('operationTimeout', "Invalid option 'operationTimeout': expected 1 to 2147483647 ms");
    const retry = resolveBackoff({ initialDelay: 800, factor: 2, maxDelay: 60_000, maxAttempts: 3, ...options.retry }, 'retry');
    this.#cbs = auth === 'cbs' ? new CbsAuthorizer(manager, provider!, { timeout: operationTimeout }) : undefined;
    const isClosed = () => this.#closed;
    this.#context = {
      namespace,
      client: this.client,
      manager,
      operationTimeout,
      retry,
      authorize: (entityPath) => this.#cbs?.authorize(`sb://${namespace}/${entityPath}`) ?? Promise.resolve(),
      management: (entityPath) => {
        let management = this.#management.get(entityPath);
        if (management === undefined) {
          management = new ManagementClient(this.#context, entityPath);
          this.#management.set(entityPath, management);
        }
        return management;
      },
      get isClosed() {
        return isClosed();
      },
    };
  }

  /** The connection's life (see `Client.state$`). */
  get state$(): Observable<ClientState> {
    return this.client.state$;
  }

  /** Makes a sender for a queue or topic. */
  createSender(queueOrTopicName: string): ServiceBusSender {
    return new ServiceBusSender(this.#context, this.#entity(queueOrTopicName, 'queueOrTopicName'));
  }

  /** Makes a receiver for a queue (or its dead-letter sub-queue, with `subQueue`). */
  createReceiver<T = unknown>(queueName: string, options?: ServiceBusReceiverOptions): ServiceBusReceiver<T>;
  /** Makes a receiver for a subscription of a topic (`topic/Subscriptions/subscription`). */
  createReceiver<T = unknown>(topicName: string, subscriptionName: string, options?: ServiceBusReceiverOptions): ServiceBusReceiver<T>;
  createReceiver<T = unknown>(name: string, second?: string | ServiceBusReceiverOptions, third?: ServiceBusReceiverOptions): ServiceBusReceiver<T> {
    const { entityPath, options } = this.#receiverArgs(name, typeof second === 'string' ? second : undefined, typeof second === 'string' ? third : second);
    return new ServiceBusReceiver<T>(this.#context, entityPath, options);
  }

  /** Locks a given session of a session-enabled queue and resolves with its receiver. */
  acceptSession<T = unknown>(queueName: string, sessionId: string, options?: ServiceBusReceiverOptions): Promise<ServiceBusSessionReceiver<T>>;
  /** Locks a given session of a session-enabled subscription. */
  acceptSession<T = unknown>(topicName: string, subscriptionName: string, sessionId: string, options?: ServiceBusReceiverOptions): Promise<ServiceBusSessionReceiver<T>>;
  acceptSession<T = unknown>(
    name: string,
    second: string,
    third?: string | ServiceBusReceiverOptions,
    fourth?: ServiceBusReceiverOptions,
  ): Promise<ServiceBusSessionReceiver<T>> {
    const subscription = typeof third === 'string' ? second : undefined;
    const sessionId = typeof third === 'string' ? third : second;
    const { entityPath, options } = this.#receiverArgs(name, subscription, typeof third === 'string' ? fourth : third);
    return acceptSession<T>(this.#context, entityPath, sessionId, options);
  }

  /**
   * Locks the next session that has messages and resolves with its receiver (azure-servicebus's
   * `session_id=NEXT_AVAILABLE_SESSION`).
   * @throws (rejects) `NoActiveSessionError` when no session is free.
   */
  acceptNextSession<T = unknown>(queueName: string, options?: ServiceBusReceiverOptions): Promise<ServiceBusSessionReceiver<T>>;
  /**
   * Locks the next session with messages of a session-enabled subscription of a topic and resolves
   * with its receiver.
   * @throws (rejects) `NoActiveSessionError` when no session is free.
   */
  acceptNextSession<T = unknown>(topicName: string, subscriptionName: string, options?: ServiceBusReceiverOptions): Promise<ServiceBusSessionReceiver<T>>;
  acceptNextSession<T = unknown>(name: string, second?: string | ServiceBusReceiverOptions, third?: ServiceBusReceiverOptions): Promise<ServiceBusSessionReceiver<T>> {
    const { entityPath, options } = this.#receiverArgs(name, typeof second === 'string' ? second : undefined, typeof second === 'string' ? third : second);
    return acceptSession<T>(this.#context, entityPath, undefined, options);
  }

  /**
   * Closes the client: senders and receivers take no more calls, every receive stream completes
   * (releasing what it holds, R3) and session locks are let go, token renewal stops, and the
   * connection closes once sends in flight are settled. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const management of this.#management.values()) management.close();
    this.#management.clear();
    this.#cbs?.close();
    await this.client.close();
  }

  #entity(name: unknown, option: string): string {
    if (this.#closed) throw new ConfigError('client', 'The Service Bus client is closed');
    if (typeof name !== 'string' || name.length === 0) throw new ConfigError(option, `'${option}' must be a non-empty string`);
    if (this.#entityPath !== undefined && name !== this.#entityPath && !name.startsWith(`${this.#entityPath}/`)) {
      throw new ConfigError(option, `'${name}' is not the connection string's EntityPath '${this.#entityPath}'`);
    }
    return name;
  }

  /** The entity path and options of a receiver: `(queue, options)` or `(topic, subscription, options)`. */
  #receiverArgs(name: string, subscription: string | undefined, given: ServiceBusReceiverOptions | undefined) {
    const options = resolveReceiverOptions(given);
    const base = this.#entity(name, subscription === undefined ? 'queueName' : 'topicName');
    if (subscription !== undefined && subscription.length === 0) throw new ConfigError('subscriptionName', "'subscriptionName' must be a non-empty string");
    return { entityPath: entityPathOf(base, subscription, options.subQueue), options };
  }
}

/**
 * The path a receiver reads: `queue`, `topic/Subscriptions/subscription`, plus `/$DeadLetterQueue`
 * or `/$Transfer/$DeadLetterQueue` for a sub-queue.
 */
export function entityPathOf(queueOrTopic: string, subscription: string | undefined, subQueue: SubQueue | undefined): string {
  const base = subscription === undefined ? queueOrTopic : `${queueOrTopic}/Subscriptions/${subscription}`;
  if (subQueue === 'deadLetter') return `${base}${DEAD_LETTER_QUEUE_SUFFIX}`;
  if (subQueue === 'transferDeadLetter') return `${base}${TRANSFER_DEAD_LETTER_QUEUE_SUFFIX}`;
  return base;
}

/** The port of a connection string's `Endpoint`, when it names one. */
function portOf(connectionString: string): number | undefined {
  const match = /(?:^|;)\s*endpoint\s*=\s*[a-z]+:\/\/[^/:;\s]+:(\d+)/i.exec(connectionString);
  if (match === null) return undefined;
  const port = Number(match[1]);
  if (!(port >= 1 && port <= 65535)) throw new ConfigError('connectionString.Endpoint', `Invalid connection string: the Endpoint's port must be 1 to 65535, got ${port}`);
  return port;
}

function endpointOf(address: string | undefined, namespace: string): { scheme: 'amqp' | 'amqps'; host: string; port: number } {
  if (address === undefined) {
    const [host, port] = /^(.*?)(?::(\d+))?$/.exec(namespace)!.slice(1);
    return { scheme: 'amqps', host: host!, port: port === undefined ? 5671 : Number(port) };
  }
  const match = /^(amqps?|sb):\/\/(\[[^\]]+\]|[^/:]+)(?::(\d+))?\/?$/i.exec(address.trim());
  if (match === null) {
    throw new ConfigError('customEndpointAddress', `Invalid option 'customEndpointAddress': expected 'amqps://host[:port]', got ${JSON.stringify(address)}`);
  }
  const scheme = match[1]!.toLowerCase() === 'amqp' ? 'amqp' : 'amqps';
  const port = match[3] === undefined ? (scheme === 'amqp' ? 5672 : 5671) : Number(match[3]);
  if (port < 1 || port > 65535) throw new ConfigError('customEndpointAddress', `Invalid port in 'customEndpointAddress': ${port}`);
  return { scheme, host: match[2]!.replace(/^\[|\]$/g, ''), port };
}
