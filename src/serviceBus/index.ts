// Azure Service Bus on rhea-rx: the azure-servicebus workflows (senders, receivers, sessions,
// settlement, management operations, lock renewal, claims-based authorization) over the core client.
export type { RemoteAttach } from '../config/options.js';
export { type AccessToken, createSasToken, quotePlus, sasTokenProvider, type SasTokenProviderOptions, type TokenProvider } from './sasToken.js';
export {
  AutoLockRenewFailedError,
  AutoLockRenewTimeoutError,
  MessageLockLostError,
  MessageNotFoundError,
  MessageSettleFailedError,
  MessagingEntityDisabledError,
  NoActiveSessionError,
  QuotaExceededError,
  ServerBusyError,
  SessionCannotBeLockedError,
  SessionLockLostError,
  toServiceBusError,
} from './errors.js';
export type { ServiceBusMessage } from './message.js';
export type { DeadLetterOptions, MessageState, ReceiveMode, ServiceBusReceivedMessage } from './ServiceBusReceivedMessage.js';
export {
  type PeekMessagesOptions,
  type ReceiveMessagesOptions,
  type ReceiveStreamOptions,
  ServiceBusReceiver,
  ServiceBusReceiverBase,
  type ServiceBusReceiverOptions,
  ServiceBusSessionReceiver,
  type SubQueue,
} from './ServiceBusReceiver.js';
export { type ServiceBusOutcome, type ServiceBusSendOptions, ServiceBusSender } from './ServiceBusSender.js';
export { createServiceBusClient, ServiceBusClient, type ServiceBusClientOptions } from './ServiceBusClient.js';
export { renewLocks, type RenewLocksOptions, renewSessionLock } from './renewLocks.js';
