import type { Client } from '../client/Client.js';
import type { ConnectionManager } from '../client/ConnectionManager.js';
import type { AmqpMessage } from '../delivery/message.js';
import { isAmqpError } from '../errors/AmqpError.js';
import { delayFor, type ResolvedBackoff } from '../policy/backoff.js';
import { amqp } from '../types/amqpTypes.js';
import { type AmqpConnection as Connection, decodeMessage, RequestResponseLink, type Response } from './amqp.js';
import { ASSOCIATED_LINK_NAME, MANAGEMENT_REQUEST_TYPE, MANAGEMENT_SUFFIX, operations } from './constants.js';
import { managementError, toServiceBusError } from './errors.js';
import { log } from './log.js';
import { toBigInt, toDate, uuidOf } from './values.js';

/**
 * What the Service Bus objects share: the rhea-rx client, its connection manager, authorization and
 * the policies for requests.
 * @internal
 */
export interface ServiceBusContext {
  /** The namespace host, e.g. `contoso.servicebus.windows.net`. */
  readonly namespace: string;
  readonly client: Client;
  readonly manager: ConnectionManager;
  /** How long one management request may take, in milliseconds. */
  readonly operationTimeout: number;
  /** Backoff and number of retries for management requests that fail with a retryable error. */
  readonly retry: ResolvedBackoff;
  /** Makes sure links to `entityPath` may attach (a CBS token is on the connection); a no-op with SASL PLAIN. */
  authorize(entityPath: string): Promise<void>;
  /** The management client of `entityPath`, one per entity. */
  management(entityPath: string): ManagementClient;
  readonly isClosed: boolean;
}

/** A message in a management response: the message, and its lock token when it was received locked. */
export interface ManagementMessage {
  readonly message: AmqpMessage;
  readonly lockToken: string | undefined;
}

/** Fields of `update-disposition`. */
export interface DispositionFields {
  readonly deadLetterReason?: string | undefined;
  readonly deadLetterDescription?: string | undefined;
  readonly propertiesToModify?: Record<string, unknown> | undefined;
  readonly sessionId?: string | undefined;
}

/** Options of one management request. */
interface RequestOptions {
  /** The link the request is about (`associated-link-name`), when there is one. */
  readonly associatedLinkName?: string | undefined;
}

/**
 * The operations of one entity's `$management` node (`<entity>/$management`) over a
 * request/response link pair: each request has the application properties `operation`, `type:
 * entity-mgmt` and, when it concerns a link, `associated-link-name`, and a map body whose fields
 * have the AMQP types azure-servicebus sends (`long` sequence numbers, `uuid` lock tokens, …).
 *
 * Status 200 is success, 202 and 204 an empty answer; anything else throws the error its
 * `errorCondition` or status names. Retryable failures are tried again with the client's backoff,
 * up to its number of retries.
 * @internal
 */
export class ManagementClient {
  readonly entityPath: string;
  readonly node: string;
  readonly #context: ServiceBusContext;
  #link: RequestResponseLink | undefined;

  constructor(context: ServiceBusContext, entityPath: string) {
    this.#context = context;
    this.entityPath = entityPath;
    this.node = `${entityPath}${MANAGEMENT_SUFFIX}`;
  }

  /**
   * Sends `operation` with `body` and returns the response body (undefined for 202 and 204).
   * @throws the error the response names; `OperationTimeoutError` when none comes in time.
   */
  async request(operation: string, body: Record<string, unknown>, options: RequestOptions = {}): Promise<unknown> {
    const what = `${operation.replace(/^com\.microsoft:/, '')} on '${this.entityPath}'`;
    const { retry } = this.#context;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.#once(operation, body, options, what);
        if (response.status === 200) return response.body;
        if (response.status === 202 || response.status === 204) return undefined;
        throw managementError(what, response.status ?? 0, response.condition, response.description);
      } catch (error) {
        const failure = toServiceBusError(error);
        if (!isAmqpError(failure) || !failure.retryable || attempt > retry.maxAttempts || this.#context.isClosed) throw failure;
        const delay = delayFor(retry, attempt);
        log.management('%s failed (%s); attempt %d in %d ms', what, failure.message, attempt + 1, delay);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Closes the link pair. */
  close(): void {
    this.#link?.close();
    this.#link = undefined;
  }

  async #once(operation: string, body: Record<string, unknown>, options: RequestOptions, what: string): Promise<Response> {
    await this.#context.authorize(this.entityPath);
    const connection = await this.#context.manager.acquire();
    return this.#linkFor(connection).request({
      body,
      applicationProperties: {
        ...(options.associatedLinkName === undefined ? {} : { [ASSOCIATED_LINK_NAME]: options.associatedLinkName }),
        operation,
        type: MANAGEMENT_REQUEST_TYPE,
      },
      timeout: this.#context.operationTimeout,
      what,
    });
  }

  #linkFor(connection: Connection): RequestResponseLink {
    if (this.#link !== undefined && (this.#link.connection !== connection || this.#link.isClosed)) {
      this.#link.close();
      this.#link = undefined;
    }
    this.#link ??= new RequestResponseLink(connection, { node: this.node, replyTo: this.node });
    return this.#link;
  }

  // ---------------------------------------------------------------------------------------------
  // The operations.

  /** `peek-message`: up to `count` messages from `fromSequenceNumber` on, without locking them. */
  async peek(fromSequenceNumber: bigint, count: number, sessionId: string | undefined, options: RequestOptions = {}): Promise<ManagementMessage[]> {
    const body = await this.request(
      operations.peekMessage,
      {
        'from-sequence-number': amqp.long(fromSequenceNumber),
        'message-count': amqp.int(count),
        ...(sessionId === undefined ? {} : { 'session-id': sessionId }),
      },
      options,
    );
    return messagesOf(body);
  }

  /** `receive-by-sequence-number`: deferred messages, locked (peek-lock) or removed (receive-and-delete). */
  async receiveBySequenceNumber(
    sequenceNumbers: readonly bigint[],
    receiveAndDelete: boolean,
    sessionId: string | undefined,
    options: RequestOptions = {},
  ): Promise<ManagementMessage[]> {
    const body = await this.request(
      operations.receiveBySequenceNumber,
      {
        'sequence-numbers': amqp.array('long', sequenceNumbers),
        // AMQP's receiver-settle-mode: 0 (first) settles on receipt, 1 (second) is peek-lock.
        'receiver-settle-mode': amqp.uint(receiveAndDelete ? 0 : 1),
        ...(sessionId === undefined ? {} : { 'session-id': sessionId }),
      },
      options,
    );
    return messagesOf(body);
  }

  /** `renew-lock`: new expiry of each message lock, in order. */
  async renewLock(lockTokens: readonly string[], options: RequestOptions = {}): Promise<Date[]> {
    const body = await this.request(operations.renewLock, { 'lock-tokens': amqp.array('uuid', lockTokens) }, options);
    const expirations = field(body, 'expirations');
    return (Array.isArray(expirations) ? expirations : []).map((v) => toDate(v) ?? new Date(Number.NaN));
  }

  /** `schedule-message`: the sequence numbers of the scheduled messages, in order. */
  async schedule(
    messages: ReadonlyArray<{ messageId: string; sessionId?: string | undefined; partitionKey?: string | undefined; bytes: Buffer }>,
    options: RequestOptions = {},
  ): Promise<bigint[]> {
    const body = await this.request(
      operations.scheduleMessage,
      {
        messages: messages.map((m) => ({
          'message-id': m.messageId,
          ...(m.sessionId === undefined ? {} : { 'session-id': m.sessionId }),
          ...(m.partitionKey === undefined ? {} : { 'partition-key': m.partitionKey }),
          message: amqp.binary(m.bytes),
        })),
      },
      options,
    );
    const numbers = field(body, 'sequence-numbers');
    return (Array.isArray(numbers) ? numbers : []).map((v) => toBigInt(v) ?? -1n);
  }

  /** `cancel-scheduled-message`. */
  async cancelScheduled(sequenceNumbers: readonly bigint[], options: RequestOptions = {}): Promise<void> {
    await this.request(operations.cancelScheduledMessage, { 'sequence-numbers': amqp.array('long', sequenceNumbers) }, options);
  }

  /** `update-disposition`: settles messages by lock token (deferred messages, or any message whose link is gone). */
  async updateDisposition(status: string, lockTokens: readonly string[], fields: DispositionFields = {}, options: RequestOptions = {}): Promise<void> {
    await this.request(
      operations.updateDisposition,
      {
        'disposition-status': status,
        'lock-tokens': amqp.array('uuid', lockTokens),
        ...(fields.deadLetterReason === undefined && fields.deadLetterDescription === undefined
          ? {}
          : { 'deadletter-reason': fields.deadLetterReason ?? '', 'deadletter-description': fields.deadLetterDescription ?? '' }),
        ...(fields.propertiesToModify === undefined ? {} : { 'properties-to-modify': fields.propertiesToModify }),
        ...(fields.sessionId === undefined ? {} : { 'session-id': fields.sessionId }),
      },
      options,
    );
  }

  /** `get-session-state`: the state, or undefined when none is set. */
  async getSessionState(sessionId: string, options: RequestOptions = {}): Promise<Buffer | undefined> {
    const body = await this.request(operations.getSessionState, { 'session-id': sessionId }, options);
    const state = field(body, 'session-state');
    return Buffer.isBuffer(state) ? state : undefined;
  }

  /** `set-session-state`: `null` clears it. */
  async setSessionState(sessionId: string, state: Buffer | null, options: RequestOptions = {}): Promise<void> {
    await this.request(operations.setSessionState, { 'session-id': sessionId, 'session-state': state === null ? null : amqp.binary(state) }, options);
  }

  /** `renew-session-lock`: the new expiry of the session lock. */
  async renewSessionLock(sessionId: string, options: RequestOptions = {}): Promise<Date> {
    const body = await this.request(operations.renewSessionLock, { 'session-id': sessionId }, options);
    const expiration = toDate(field(body, 'expiration'));
    if (expiration === undefined) throw managementError(`renew-session-lock on '${this.entityPath}'`, 500, undefined, 'the response has no expiration');
    return expiration;
  }
}

function field(body: unknown, name: string): unknown {
  if (body === null || typeof body !== 'object') return undefined;
  if (body instanceof Map) return body.get(name);
  return (body as Record<string, unknown>)[name];
}

/** The `messages` of a peek or receive-by-sequence-number response. */
function messagesOf(body: unknown): ManagementMessage[] {
  const list = field(body, 'messages');
  if (!Array.isArray(list)) return [];
  const out: ManagementMessage[] = [];
  for (const entry of list) {
    const bytes = field(entry, 'message');
    if (!Buffer.isBuffer(bytes)) continue;
    const message = decodeMessage(bytes);
    out.push({ message, lockToken: uuidOf(field(entry, 'lock-token')) ?? uuidOf(message.deliveryAnnotations['x-opt-lock-token']) });
  }
  return out;
}
