import createDebug from 'debug';

/** The debug namespaces of the Service Bus client; enable with `DEBUG=rhea-rx:servicebus:*`. Tokens and keys are never logged (C3). */
export const log = {
  cbs: createDebug('rhea-rx:servicebus:cbs'),
  management: createDebug('rhea-rx:servicebus:management'),
  receiver: createDebug('rhea-rx:servicebus:receiver'),
  sender: createDebug('rhea-rx:servicebus:sender'),
  locks: createDebug('rhea-rx:servicebus:locks'),
};
