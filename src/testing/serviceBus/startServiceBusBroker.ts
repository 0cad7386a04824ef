/**
 * A Service Bus to run against in one call: an EmbeddedBroker in Service Bus mode (TLS with a
 * throwaway certificate, a random key, the entities asked for), or a real namespace when its
 * connection string is in the environment.
 */
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../errors/errors.js';
import { EmbeddedBroker } from '../EmbeddedBroker.js';
import type { ServiceBusModeOptions } from './ServiceBusMode.js';
import { createSelfSignedCertificate } from './tls.js';

/** Options of {@link startServiceBusBroker}. */
export interface StartServiceBusBrokerOptions {
  /** The queues, session queues and topics (with their subscriptions) the broker has. @default none */
  entities?: ServiceBusModeOptions['entities'];
  /** How long a message or session lock lasts, ms. @default 30000 */
  lockDuration?: number;
  /** The name of the shared access key in the connection string. @default 'RootManageSharedAccessKey' */
  keyName?: string;
  /** Any other option of the Service Bus mode (`maxDeliveryCount`, `sessionWaitTimeout`, …). */
  serviceBus?: Omit<ServiceBusModeOptions, 'keys' | 'entities' | 'lockDuration'>;
  /** Record the frames clients send (`broker.capturedFrames()`). @default false */
  captureFrames?: boolean;
  /**
   * An environment variable that may hold a namespace's connection string: when it is set, no
   * broker is started and the result points at that namespace (whose entities must exist).
   * @default undefined (always start a broker)
   * @example 'SERVICEBUS_CONNECTION_STRING'
   */
  environment?: string;
}

/** What {@link startServiceBusBroker} started, or the namespace it found. */
export interface ServiceBusTestTarget {
  /** The connection string to give `createServiceBusClient`. Holds a key: never log it. */
  readonly connectionString: string;
  /**
   * The client options the target needs besides the connection string: the broker's certificate
   * as trusted CA (`{ tls: { ca } }`); empty for a namespace.
   */
  readonly clientOptions: { readonly tls?: { readonly ca: string } };
  /** The broker, to look at or change its state; undefined when the target is a namespace. */
  readonly broker: EmbeddedBroker | undefined;
  /** Stops the broker (nothing for a namespace). Idempotent. */
  stop(): Promise<void>;
}

const optionKeys = new Set(['entities', 'lockDuration', 'keyName', 'serviceBus', 'captureFrames', 'environment']);

/**
 * Starts an EmbeddedBroker in Service Bus mode with the given entities — TLS on a random port of
 * 127.0.0.1 with a fresh self-signed certificate, one shared access key (random, 32 bytes) — and
 * returns a connection string for it with the client options that trust its certificate. With
 * `environment` naming a variable that is set, starts nothing and returns that namespace instead,
 * so one program runs locally and against Azure unchanged.
 *
 * @throws ConfigError for an unknown option or one of the wrong type.
 * @example
 * const target = await startServiceBusBroker({ entities: { queues: ['orders'] }, environment: 'SERVICEBUS_CONNECTION_STRING' });
 * const sb = createServiceBusClient(target.connectionString, target.clientOptions);
 * await sb.createSender('orders').sendMessages({ body: 'Single message' });
 * await sb.close();
 * await target.stop();
 */
export async function startServiceBusBroker(options: StartServiceBusBrokerOptions = {}): Promise<ServiceBusTestTarget> {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', 'startServiceBusBroker: options must be an object');
  for (const key of Object.keys(options)) {
    if (!optionKeys.has(key)) throw new ConfigError(key, `startServiceBusBroker: unknown option '${key}'; known options are ${[...optionKeys].join(', ')}`);
  }
  const { environment, keyName = 'RootManageSharedAccessKey' } = options;
  if (environment !== undefined && typeof environment !== 'string') {
    throw new ConfigError('environment', 'startServiceBusBroker: environment is the name of an environment variable');
  }
  if (typeof keyName !== 'string' || keyName.length === 0) throw new ConfigError('keyName', 'startServiceBusBroker: keyName is a non-empty string');
  const fromEnvironment = environment === undefined ? undefined : process.env[environment];
  if (fromEnvironment !== undefined && fromEnvironment !== '') {
    return { connectionString: fromEnvironment, clientOptions: {}, broker: undefined, stop: () => Promise.resolve() };
  }
  const { key, cert } = createSelfSignedCertificate();
  const broker = await EmbeddedBroker.start({
    tls: { key, cert },
    ...(options.captureFrames === undefined ? {} : { captureFrames: options.captureFrames }),
    serviceBus: {
      ...options.serviceBus,
      keys: { [keyName]: randomBytes(32).toString('base64') },
      ...(options.entities === undefined ? {} : { entities: options.entities }),
      ...(options.lockDuration === undefined ? {} : { lockDuration: options.lockDuration }),
    },
  });
  let stopped: Promise<void> | undefined;
  return {
    connectionString: broker.serviceBus.connectionString(keyName),
    clientOptions: { tls: { ca: cert } },
    broker,
    stop: () => (stopped ??= broker.stop()),
  };
}
