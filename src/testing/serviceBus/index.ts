export {
  type ServiceBusControl,
  type ServiceBusMessageView,
  type ServiceBusModeOptions,
  type ServiceBusRight,
} from './ServiceBusMode.js';
export { type CapturedFrame, type CapturedMessage, FrameCapture, type FrameCaptureOptions, type Json } from './capture.js';
export { generateSasToken, parseSasToken, type ParsedSasToken, validateSasToken } from './sasToken.js';
export { createSelfSignedCertificate, type SelfSignedCertificate, type SelfSignedCertificateOptions } from './tls.js';
