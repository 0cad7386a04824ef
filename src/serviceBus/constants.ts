/**
 * The names Azure Service Bus uses on the wire: message annotations, management operations and
 * their fields, link properties and filters. Everything here is what the service reads or writes,
 * as azure-servicebus 7 (the seed's client) puts it in its frames.
 */

/** Message annotations the service sets on a received message, and the ones a sender may set. */
export const annotations = {
  enqueuedTime: 'x-opt-enqueued-time',
  sequenceNumber: 'x-opt-sequence-number',
  enqueueSequenceNumber: 'x-opt-enqueue-sequence-number',
  lockedUntil: 'x-opt-locked-until',
  lockToken: 'x-opt-lock-token',
  partitionKey: 'x-opt-partition-key',
  viaPartitionKey: 'x-opt-via-partition-key',
  scheduledEnqueueTime: 'x-opt-scheduled-enqueue-time',
  deadLetterSource: 'x-opt-deadletter-source',
  messageState: 'x-opt-message-state',
} as const;

/** Application properties the service sets on a dead-lettered message. */
export const deadLetterProperties = {
  reason: 'DeadLetterReason',
  description: 'DeadLetterErrorDescription',
} as const;

/** The error condition a receiver sends in a `rejected` outcome to dead-letter a message. */
export const DEAD_LETTER_CONDITION = 'com.microsoft:dead-letter';

/** The source filter that asks for a session: its value is a session id, or null for the next available one. */
export const SESSION_FILTER = 'com.microsoft:session-filter';

/** The link property with which the service says until when a session is locked (.NET ticks). */
export const SESSION_LOCKED_UNTIL = 'com.microsoft:locked-until-utc';

/** The link property that bounds how long the service may hold an attach (a session receiver's wait), in milliseconds. */
export const LINK_TIMEOUT = 'com.microsoft:timeout';

/** .NET ticks (100 ns since 0001-01-01) at the Unix epoch. */
export const TICKS_AT_UNIX_EPOCH = 621_355_968_000_000_000n;

/** Operations of an entity's `$management` node. */
export const operations = {
  peekMessage: 'com.microsoft:peek-message',
  renewLock: 'com.microsoft:renew-lock',
  renewSessionLock: 'com.microsoft:renew-session-lock',
  receiveBySequenceNumber: 'com.microsoft:receive-by-sequence-number',
  scheduleMessage: 'com.microsoft:schedule-message',
  cancelScheduledMessage: 'com.microsoft:cancel-scheduled-message',
  updateDisposition: 'com.microsoft:update-disposition',
  getSessionState: 'com.microsoft:get-session-state',
  setSessionState: 'com.microsoft:set-session-state',
} as const;

/** The `type` application property of every management request. */
export const MANAGEMENT_REQUEST_TYPE = 'entity-mgmt';

/** The application property naming the link a management request is about. */
export const ASSOCIATED_LINK_NAME = 'associated-link-name';

/** The address suffix of an entity's management node. */
export const MANAGEMENT_SUFFIX = '/$management';

/** The CBS node. */
export const CBS_NODE = '$cbs';

/** Token types for `put-token`. */
export const tokenTypes = {
  sas: 'servicebus.windows.net:sastoken',
  jwt: 'jwt',
} as const;

/** The `disposition-status` values of `update-disposition`. */
export const dispositionStatus = {
  complete: 'completed',
  abandon: 'abandoned',
  defer: 'defered', // sic: the service's spelling
  deadLetter: 'suspended',
} as const;

/** The dead-letter sub-queue suffix of a queue or subscription. */
export const DEAD_LETTER_QUEUE_SUFFIX = '/$DeadLetterQueue';

/** The transfer dead-letter sub-queue suffix. */
export const TRANSFER_DEAD_LETTER_QUEUE_SUFFIX = '/$Transfer/$DeadLetterQueue';
