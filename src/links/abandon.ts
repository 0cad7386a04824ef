import type { Receiver, Sender, Session } from 'rhea';

/**
 * Detaches a link and ends its session, also when the peer has not answered the attach yet. rhea
 * cannot give up a link before the answer: a detach sent first is followed, when the peer's attach
 * arrives, by rhea opening the link again (a second attach the peer refuses as a protocol error),
 * and a session ended before the peer's `begin` leaves rhea a channel it no longer knows, which
 * fails the whole connection. So an unanswered link is left until the peer answers (or refuses)
 * it and is detached, with its session, right then — or goes with the connection if no answer
 * ever comes. The caller has removed its own listeners: nothing on this link reaches the
 * application any more.
 */
export function abandonUnanswered(session: Session, link: Sender | Receiver): void {
  const end = () => {
    try {
      if (!link.is_closed()) link.close();
      if (!session.is_closed()) session.close();
    } catch {
      // the connection under it is gone: nothing to end
    }
  };
  if (link.is_remote_open() || link.is_closed() || session.is_closed()) {
    end();
    return;
  }
  const opened = link.is_sender() ? 'sender_open' : 'receiver_open';
  const refused = link.is_sender() ? 'sender_close' : 'receiver_close';
  const once = () => {
    link.removeListener(opened, once);
    link.removeListener(refused, once);
    end();
  };
  link.on(opened, once);
  link.on(refused, once);
}
