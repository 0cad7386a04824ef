/**
 * A message as the broker stores and sends it: rhea's flat message shape, header and properties
 * fields side by side with `body` (`{ body, application_properties, message_annotations,
 * message_id, subject, ttl, delivery_count, … }`).
 */
export interface BrokerMessage {
  /** The body: any AMQP value, or a rhea data/sequence section. */
  body?: unknown;
  /** Application properties (a string-keyed map of simple values). */
  application_properties?: Record<string, unknown>;
  /** Message annotations (symbol keys). */
  message_annotations?: Record<string, unknown>;
  /** Delivery annotations (symbol keys). */
  delivery_annotations?: Record<string, unknown>;
  /** Header: how many failed delivery attempts preceded this one. */
  delivery_count?: number;
  /** Header: whether no other link has acquired this message before. */
  first_acquirer?: boolean;
  /** Any other header or properties field (`durable`, `ttl`, `message_id`, `subject`, …). */
  [field: string]: unknown;
}

/** An AMQP error as the broker sends it: a condition and an optional description. */
export interface BrokerError {
  /** The error condition, e.g. `amqp:not-found` or an application-defined symbol. */
  condition: string;
  /** Human-readable detail. */
  description?: string;
}

/** The fields of a `modified` outcome the broker gives a client sender (see `modifyNext`). */
export interface ModifiedOutcome {
  /** Ask the sender to count this as a failed delivery attempt. @default true */
  deliveryFailed?: boolean;
  /** Ask the sender not to send this message here again. @default false */
  undeliverableHere?: boolean;
  /** Annotations the sender should merge into the message before trying again. */
  annotations?: Record<string, unknown>;
}

/** One message held in a queue, as {@link EmbeddedBroker.messages} reports it. */
export interface StoredMessage {
  /** The message, with the header fields as the next delivery will carry them. */
  readonly message: Readonly<BrokerMessage>;
  /** Failed delivery attempts so far (the header's `delivery-count` on the next delivery). */
  readonly deliveryCount: number;
  /** Whether no link has acquired this message yet (the header's `first-acquirer`). */
  readonly firstAcquirer: boolean;
}

/** Counters for one address since the broker started (see {@link EmbeddedBroker.stats}). */
export interface AddressStats {
  /** Transfers received from client senders (including rejected and pre-settled ones). */
  readonly received: number;
  /** Transfers sent to client receivers, redeliveries included. */
  readonly delivered: number;
  /** `accepted` outcomes from client receivers. */
  readonly accepted: number;
  /** `released` outcomes from client receivers. */
  readonly released: number;
  /** `modified` outcomes from client receivers. */
  readonly modified: number;
  /** `rejected` outcomes from client receivers. */
  readonly rejected: number;
  /** Messages moved from this address to its dead-letter address (rejected or too many deliveries). */
  readonly deadLettered: number;
  /** Deliveries still unsettled when their link detached or connection dropped, put back in the queue. */
  readonly requeuedOnDetach: number;
  /** Flow frames received on client receivers attached to this address. */
  readonly flowFrames: number;
  /** Sum of the link-credit increases granted by client receivers attached to this address. */
  readonly creditGranted: number;
  /** Most transfers from client senders held unsettled by the broker at once (see `pauseOutcomes`). */
  readonly maxOutstandingUnsettled: number;
}

/** @internal A mutable {@link AddressStats}. */
export type MutableStats = { -readonly [K in keyof AddressStats]: AddressStats[K] };

/** @internal */
export function zeroStats(): MutableStats {
  return {
    received: 0,
    delivered: 0,
    accepted: 0,
    released: 0,
    modified: 0,
    rejected: 0,
    deadLettered: 0,
    requeuedOnDetach: 0,
    flowFrames: 0,
    creditGranted: 0,
    maxOutstandingUnsettled: 0,
  };
}

/** @internal An outcome, given by a client receiver or to a client sender. */
export type Outcome =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'released' }
  | { readonly kind: 'rejected'; readonly error?: BrokerError | undefined }
  | {
      readonly kind: 'modified';
      readonly deliveryFailed: boolean;
      readonly undeliverableHere: boolean;
      readonly annotations?: Record<string, unknown> | undefined;
    };
