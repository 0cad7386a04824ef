/**
 * Testing without infrastructure: {@link EmbeddedBroker}, an in-process AMQP 1.0 broker for
 * development and tests; {@link FaultProxy}, a TCP proxy that cuts, stalls or slows connections;
 * and {@link fakeDelivery}, deliveries that record how they were settled, for marble tests.
 *
 * @packageDocumentation
 * @module rhea-rx/testing
 */
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
export {
  FaultProxy,
  type FaultProxyClock,
  type FaultProxyConnection,
  type FaultProxyFaultRecord,
  type FaultProxyOptions,
  type FaultProxyPlannedFault,
  type FaultProxyRandomFaults,
  type FaultProxyRange,
  type FaultProxyStats,
} from './FaultProxy.js';
export * from './serviceBus/index.js';
