import type { OutgoingMessage } from './message.js';

/** The terminal delivery states of AMQP 1.0 (section 3.4). */
export type OutcomeState = 'accepted' | 'rejected' | 'released' | 'modified';

/** The outcome the peer gave one sent message. */
export interface Outcome<T = unknown> {
  /** What the peer did with the message. Only `accepted` means it took responsibility for it. */
  readonly state: OutcomeState;
  /** The input exactly as it was given to `send` (a body, or a {@link OutgoingMessage}). */
  readonly message: T | OutgoingMessage<T>;
  /**
   * The peer's error, for `rejected`. A message larger than the max-message-size the peer set on the
   * link is not sent at all: it gets a `rejected` outcome made by the client, whose `error` is a
   * `MessageTooLargeError` (condition `amqp:link:message-size-exceeded`), and the stream goes on.
   * Likewise a message RabbitMQ 3.x could not parse (a list body of two or more values, an array of
   * an element type it does not take, a described application property or annotation — each would
   * end its whole connection): a client-made `rejected` outcome with a `NotSupportedError`
   * (condition `amqp:not-implemented`).
   */
  readonly error?: { readonly condition: string; readonly description?: string | undefined } | undefined;
  /** For `modified`: whether the peer counted a failed delivery, and whether it will not take the message here again. */
  readonly modified?:
    | {
        readonly deliveryFailed: boolean;
        readonly undeliverableHere: boolean;
        readonly annotations?: Readonly<Record<string, unknown>> | undefined;
      }
    | undefined;
  /** True when the message was sent again after a connection loss (S3); the peer may have it twice. */
  readonly resent: boolean;
}
