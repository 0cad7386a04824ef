export {
  type AddressStats,
  type BrokerError,
  type BrokerMessage,
  EMBEDDED_BROKER_PRODUCT,
  EMBEDDED_BROKER_VERSION,
  EmbeddedBroker,
  type EmbeddedBrokerOptions,
  type EmbeddedBrokerTlsOptions,
  type ModifiedOutcome,
  type StoredMessage,
} from './EmbeddedBroker.js';
export { type FakeDelivery, type FakeDeliveryOptions, fakeDelivery } from './fakeDelivery.js';
export { FaultProxy, type FaultProxyOptions } from './FaultProxy.js';
export * from './serviceBus/index.js';
