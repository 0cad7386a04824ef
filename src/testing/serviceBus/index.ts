export {
  type ServiceBusControl,
  type ServiceBusMessageView,
  type ServiceBusModeOptions,
  type ServiceBusRight,
} from './ServiceBusMode.js';
export { type CapturedFrame, type CapturedMessage, decodeCapturedMessage, FrameCapture, type FrameCaptureOptions, type Json } from './capture.js';
export {
  generateSasToken,
  parseSasToken,
  type ParsedSasToken,
  type SasTokenAcceptance,
  type SasTokenRejection,
  validateSasToken,
} from './sasToken.js';
export type { MessageState } from './entities.js';
export { createSelfSignedCertificate, type SelfSignedCertificate, type SelfSignedCertificateOptions } from './tls.js';
export { type ServiceBusTestTarget, startServiceBusBroker, type StartServiceBusBrokerOptions } from './startServiceBusBroker.js';
