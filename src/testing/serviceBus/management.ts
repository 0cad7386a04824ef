/**
 * The `$management` operations of an entity, as Service Bus answers them: request bodies are maps
 * keyed by strings, responses carry `statusCode` (int), `statusDescription` and, on failure,
 * `errorCondition`, with a map body.
 *
 * @internal
 */
import { type AmqpMap, type AmqpValue, amqp, asItems, asNumber, asString, decodeAt, mapGet } from './codec.js';
import type { Entity, LockOwner, SessionRecord, StoredSbMessage } from './entities.js';
import { decodeMessage, encodeMessage, type MessageSections } from './message.js';

export interface ManagementResponse {
  /** A `$cbs` response (status-code / status-description) rather than a management one. */
  cbs?: boolean;
  status: number;
  description: string;
  condition?: string;
  body?: AmqpValue;
}

export interface ManagementContext {
  entity: Entity;
  /** The owner of locks taken through management on this connection. */
  connection: LockOwner;
  now: number;
  /** Undefined when the connection holds `right` on the entity, else the reason. */
  authorize(right: 'Send' | 'Listen'): string | undefined;
  /** The consumer (receiving link) of this connection named `associatedLink`, if any. */
  consumerFor(associatedLink: string): LockOwner | undefined;
  /** The session with this id when a receiver on this connection holds its lock. */
  sessionOwnedHere(sessionId: string): SessionRecord | undefined;
}

const OPERATION_PREFIX = 'com.microsoft:';
const LOCK_LOST =
  'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue, or was received by a different receiver instance.';

class OperationError extends Error {
  constructor(
    readonly status: number,
    readonly condition: string,
    description: string,
  ) {
    super(description);
  }
}

const ok = (body: AmqpValue = amqp.map([])): ManagementResponse => ({ status: 200, description: 'OK', body });

/** Runs one management request against `context.entity`. */
export function handleManagement(context: ManagementContext, request: MessageSections): ManagementResponse {
  const operation = asString(mapGet(request.applicationProperties, 'operation')) ?? '';
  let body: AmqpValue | undefined;
  try {
    body = request.body.length > 0 ? decodeAt(request.body, 0).value : undefined;
  } catch {
    body = undefined;
  }
  const map = body?.type === 'described' && body.value.type === 'map' ? body.value : amqp.map([]);
  try {
    const handler = OPERATIONS[operation.startsWith(OPERATION_PREFIX) ? operation.slice(OPERATION_PREFIX.length) : ''];
    if (!handler) {
      throw new OperationError(501, 'amqp:not-implemented', `The operation '${operation}' is not supported by this broker.`);
    }
    return handler(context, map);
  } catch (err) {
    if (err instanceof OperationError) return { status: err.status, description: err.message, condition: err.condition };
    return { status: 500, description: `Internal error: ${String(err)}`, condition: 'amqp:internal-error' };
  }
}

type Operation = (context: ManagementContext, body: AmqpMap) => ManagementResponse;

function need(context: ManagementContext, right: 'Send' | 'Listen'): void {
  const denied = context.authorize(right);
  if (denied) throw new OperationError(401, 'amqp:unauthorized-access', denied);
}

function argument(description: string): OperationError {
  return new OperationError(400, 'com.microsoft:argument-error', description);
}

function lockTokens(body: AmqpMap): string[] {
  const items = asItems(mapGet(body, 'lock-tokens'));
  if (!items || items.length === 0) throw argument("The request has no 'lock-tokens'.");
  return items.map((item) => {
    if (item.type !== 'uuid') throw argument(`A lock token must be a uuid, got ${item.type}.`);
    return item.value;
  });
}

function sequenceNumbers(body: AmqpMap): number[] {
  const items = asItems(mapGet(body, 'sequence-numbers'));
  if (!items || items.length === 0) throw argument("The request has no 'sequence-numbers'.");
  return items.map((item) => {
    const n = asNumber(item);
    if (n === undefined) throw argument(`A sequence number must be a long, got ${item.type}.`);
    return n;
  });
}

function ownedSession(context: ManagementContext, body: AmqpMap): SessionRecord {
  const sessionId = asString(mapGet(body, 'session-id'));
  if (sessionId === undefined) throw argument("The request has no 'session-id'.");
  const session = context.sessionOwnedHere(sessionId);
  if (!session) {
    throw new OperationError(410, 'com.microsoft:session-lock-lost', `The session lock for session '${sessionId}' is not held by this connection or has expired.`);
  }
  return session;
}

function encodedMessage(entity: Entity, message: StoredSbMessage, lock?: { token: string; lockedUntil: number }): AmqpValue {
  const sections = entity.deliverySections(message, lock ? { lockedUntil: lock.lockedUntil, lockToken: lock.token } : {});
  return amqp.binary(encodeMessage(sections));
}

const OPERATIONS: Record<string, Operation> = {
  'renew-lock': (context, body) => {
    need(context, 'Listen');
    const entity = context.entity;
    const expirations = lockTokens(body).map((token) => {
      const held = entity.liveLock(token);
      if (!held) throw new OperationError(410, 'com.microsoft:message-lock-lost', LOCK_LOST);
      if (entity.sessionBound(held.message, held.lock.owner)) {
        throw new OperationError(400, 'amqp:not-allowed', 'Renewing a message lock is not supported for messages of a session: renew the session lock.');
      }
      return amqp.timestamp(entity.renewLock(held.lock));
    });
    return ok(amqp.stringMap({ expirations: amqp.array('timestamp', expirations) }));
  },

  'renew-session-lock': (context, body) => {
    need(context, 'Listen');
    const session = ownedSession(context, body);
    return ok(amqp.stringMap({ expiration: amqp.timestamp(context.entity.renewSessionLock(session)) }));
  },

  'peek-message': (context, body) => {
    need(context, 'Listen');
    const from = asNumber(mapGet(body, 'from-sequence-number')) ?? 1;
    const count = asNumber(mapGet(body, 'message-count')) ?? 1;
    const sessionId = asString(mapGet(body, 'session-id'));
    const entity = context.entity;
    const found: AmqpValue[] = [];
    for (const message of entity.messages.values()) {
      if (found.length >= count) break;
      if (message.sequenceNumber < from) continue;
      if (sessionId !== undefined && message.sessionId !== sessionId) continue;
      found.push(amqp.stringMap({ message: encodedMessage(entity, message) }));
    }
    if (found.length === 0) return { status: 204, description: 'No messages to peek.', body: amqp.map([]) };
    return ok(amqp.stringMap({ messages: amqp.list(found) }));
  },

  'schedule-message': (context, body) => {
    need(context, 'Send');
    const items = asItems(mapGet(body, 'messages'));
    if (!items || items.length === 0) throw argument("The request has no 'messages'.");
    const entity = context.entity;
    if (!entity.acceptsSends) throw new OperationError(400, 'amqp:not-allowed', `Cannot schedule messages on '${entity.path}'.`);
    const decoded = items.map((item) => {
      const encoded = mapGet(item, 'message');
      if (!encoded || encoded.type !== 'binary') throw argument("Each scheduled message needs 'message' (binary).");
      const sections = decodeMessage(encoded.value);
      if (entity.requiresSession && asString(mapGet(item, 'session-id')) === undefined && !hasGroupId(sections)) {
        throw new OperationError(400, 'amqp:not-allowed', 'The SessionId was not set on a message, and it cannot be sent to the entity.');
      }
      return sections;
    });
    const numbers = decoded.map((sections) => amqp.long(entity.enqueue(sections)));
    return ok(amqp.stringMap({ 'sequence-numbers': amqp.array('long', numbers) }));
  },

  'cancel-scheduled-message': (context, body) => {
    need(context, 'Send');
    const entity = context.entity;
    for (const sequenceNumber of sequenceNumbers(body)) {
      const targets = entity.kind === 'topic' ? [...entity.subscriptions.values()] : [entity];
      const cancelled = targets.map((target) => target.cancelScheduled(sequenceNumber)).some(Boolean);
      if (!cancelled) {
        throw new OperationError(404, 'com.microsoft:message-not-found', `The scheduled message with sequence number ${sequenceNumber} was not found.`);
      }
    }
    return ok();
  },

  'receive-by-sequence-number': (context, body) => {
    need(context, 'Listen');
    const entity = context.entity;
    const mode = asNumber(mapGet(body, 'receiver-settle-mode')) ?? 1;
    const sessionId = asString(mapGet(body, 'session-id'));
    if (sessionId !== undefined) ownedSession(context, body);
    const messages = sequenceNumbers(body).map((sequenceNumber) => {
      const message = entity.messages.get(sequenceNumber);
      const available =
        message !== undefined &&
        message.state === 'deferred' &&
        (message.lock === undefined || entity.liveLock(message.lock.token) === undefined) &&
        (sessionId === undefined || message.sessionId === sessionId) &&
        !(entity.requiresSession && sessionId === undefined);
      if (!available) {
        throw new OperationError(
          404,
          'com.microsoft:message-not-found',
          `Failed to lock one or more specified messages. Either the message with sequence number ${sequenceNumber} does not exist, is not deferred, or is locked by another receiver.`,
        );
      }
      return message;
    });
    const out = messages.map((message) => {
      if (mode === 0) {
        entity.remove(message);
        return amqp.stringMap({ message: encodedMessage(entity, message) });
      }
      const lock = entity.lock(message, context.connection);
      return amqp.stringMap({ 'lock-token': amqp.uuid(lock.token), message: encodedMessage(entity, message, lock) });
    });
    return ok(amqp.stringMap({ messages: amqp.list(out) }));
  },

  'update-disposition': (context, body) => {
    need(context, 'Listen');
    const entity = context.entity;
    const status = asString(mapGet(body, 'disposition-status'));
    if (!status || !['completed', 'abandoned', 'suspended', 'defered'].includes(status)) {
      throw argument(`Unknown disposition-status '${status ?? ''}' (completed, abandoned, suspended or defered).`);
    }
    const modifyValue = mapGet(body, 'properties-to-modify');
    const modify = modifyValue?.type === 'map' ? modifyValue : undefined;
    const held = lockTokens(body).map((token) => {
      const live = entity.liveLock(token);
      if (!live) throw new OperationError(410, 'com.microsoft:message-lock-lost', LOCK_LOST);
      return live;
    });
    for (const { message } of held) {
      switch (status) {
        case 'completed':
          entity.complete(message);
          break;
        case 'abandoned':
          entity.unlock(message, { failed: true, ...(modify ? { modify } : {}) });
          break;
        case 'defered':
          entity.defer(message, modify);
          break;
        case 'suspended': {
          const reason = asString(mapGet(body, 'deadletter-reason'));
          const description = asString(mapGet(body, 'deadletter-description'));
          entity.deadLetterMessage(message, {
            ...(reason !== undefined ? { reason } : {}),
            ...(description !== undefined ? { description } : {}),
            ...(modify ? { modify } : {}),
          });
          break;
        }
      }
    }
    return ok();
  },

  'get-session-state': (context, body) => {
    need(context, 'Listen');
    const session = ownedSession(context, body);
    return ok(amqp.stringMap({ 'session-state': session.state ? amqp.binary(session.state) : amqp.null() }));
  },

  'set-session-state': (context, body) => {
    need(context, 'Listen');
    const session = ownedSession(context, body);
    const state = mapGet(body, 'session-state');
    if (state && state.type !== 'binary' && state.type !== 'null') throw argument(`session-state must be binary or null, got ${state.type}.`);
    session.state = state?.type === 'binary' ? Buffer.from(state.value) : undefined;
    return ok();
  },
};

function hasGroupId(sections: MessageSections): boolean {
  const value = sections.properties?.value[10];
  return value !== undefined && value.type !== 'null';
}
