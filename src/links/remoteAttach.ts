import type { Receiver, Sender } from 'rhea';

/** The peer's attach frame as rhea keeps it on a link. */
interface RemoteAttachFrame {
  source?: unknown;
  target?: unknown;
  properties?: unknown;
  max_message_size?: unknown;
}

/** The attach frame the peer answered on `link`, when it has. */
export function remoteAttachFrame(link: Sender | Receiver): RemoteAttachFrame | undefined {
  return (link as unknown as { remote?: { attach?: RemoteAttachFrame } }).remote?.attach;
}

/**
 * A source or target from the peer's attach; undefined when there is none. A refusing peer sends a
 * null terminus, which rhea hands over as its typed null, not as null.
 */
export function remoteTerminus(raw: unknown): { address?: unknown; filter?: unknown } | undefined {
  if (raw === null || raw === undefined || typeof raw !== 'object') return undefined;
  const typed = raw as { value?: unknown; type?: unknown };
  return typed.value === null && typed.type !== undefined ? undefined : (raw as { address?: unknown; filter?: unknown });
}

/** A copy of a field that should be a map (link properties, a filter set); empty when it is not one. */
export function plainRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
}
