import createDebug from 'debug';

/** The debug namespaces rhea-rx writes to; enable with `DEBUG=rhea-rx:*` (they interleave with `rhea:*`). */
export const log = {
  connection: createDebug('rhea-rx:connection'),
  receiver: createDebug('rhea-rx:receiver'),
  sender: createDebug('rhea-rx:sender'),
  credit: createDebug('rhea-rx:credit'),
  settle: createDebug('rhea-rx:settle'),
  reconnect: createDebug('rhea-rx:reconnect'),
};
