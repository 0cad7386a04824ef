// Request/response: a server takes requests from a queue and answers each at its reply-to address with its correlation-id; a client sends requests and matches the replies to them.
// Run: npx tsx examples/requestResponse.ts [URL [ADDRESS]]  ·  an in-process EmbeddedBroker by default; ADDRESS, the server's request queue, defaults to 'requests'
// Prints "REQUEST => RESPONSE" for each request, as Qpid Proton's client.py does, and how many requests the server answered.
import { randomUUID } from 'node:crypto';
import { filter, from, groupBy, lastValueFrom, map, mergeMap, type Observable, take, tap, throwError, timeout, toArray } from 'rxjs';
import { type Client, createClient, type Delivery, message, type Outcome, type OutgoingMessage } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

/**
 * The server: answers each request with its body in upper case, sent to the request's reply-to
 * address with the request's correlation-id (or, when it has none, its message-id). A request is
 * accepted once its response is accepted, so a server that dies in between leaves the request on the
 * queue for another one. Requests without a reply-to are rejected.
 *
 * As Qpid Proton's server does, the responses go out on one link to the broker's anonymous relay
 * (`client.send(null)`), each to its own `to`. A broker without one (RabbitMQ 3.x) gets a link per
 * reply-to address instead: the requests are grouped by reply-to, and a group's link closes after
 * 10 s without a request from that client.
 */
function serve(client: Client, address: string, relay: boolean): Observable<Outcome<string>> {
  const pending = new Map<OutgoingMessage<string>, Delivery<string>>(); // response → the request it answers
  const respond = map((request: Delivery<string>) => {
    const { correlationId, messageId, replyTo } = request.message.properties;
    const response = message(request.body.toUpperCase(), { properties: { to: replyTo!, correlationId: correlationId ?? messageId } });
    pending.set(response, request);
    return response;
  });
  const requests = client.receive<string>(address, { credit: 10 }).pipe(
    filter((request) => {
      if (request.message.properties.replyTo !== undefined) return true;
      request.reject({ condition: 'amqp:precondition-failed', description: 'a request needs a reply-to address' });
      return false;
    }),
  );
  const outcomes = relay
    ? requests.pipe(respond, client.send<string>(null))
    : requests.pipe(
        groupBy((request) => request.message.properties.replyTo!, { duration: (group) => group.pipe(timeout({ each: 10_000, with: () => from([]) })) }),
        mergeMap((group) => group.pipe(respond, client.send<string>(group.key))),
      );
  return outcomes.pipe(
    tap((outcome) => {
      const request = pending.get(outcome.message as OutgoingMessage<string>)!;
      pending.delete(outcome.message as OutgoingMessage<string>);
      if (outcome.state === 'accepted') request.accept();
      else request.release(); // the response did not get through: let the request be tried again
    }),
  );
}

/**
 * The client: receives on a reply queue of its own, then sends each request with that queue as its
 * reply-to and a correlation-id, and pairs every response with its request by correlation-id.
 *
 * As Qpid Proton's client does, it asks the broker for a dynamic reply queue (`dynamic: true`): a
 * temporary node the broker creates for the link, names, and deletes when the link detaches. Brokers
 * without dynamic nodes (RabbitMQ before 4.1) get a reply queue with a unique name instead (RabbitMQ
 * 3.10 keeps it after the link detaches: a client that lives long should keep one reply queue for
 * all its requests, as this one does).
 */
async function request(client: Client, address: string, named: string | undefined, requests: string[]): Promise<{ replyTo: string; responses: Map<string, string> }> {
  let attached!: (address: string) => void;
  const ready = new Promise<string>((resolve) => (attached = resolve));
  const replies = named === undefined ? client.receive<string>('', { dynamic: true, onAttach: (a) => attached(a.address!) }) : client.receive<string>(named, { onAttach: () => attached(named) });
  const responses = lastValueFrom(
    replies.pipe(
      tap((response) => response.accept()),
      take(requests.length),
      timeout({ each: 10_000, with: () => throwError(() => new Error(`no response for 10 s`)) }),
      toArray(),
    ),
  );
  // Replies can arrive as soon as the first request is out: wait for the reply queue first.
  const replyTo = await Promise.race([ready, responses.then(() => '')]);

  const outgoing = requests.map((body, i) => message(body, { properties: { messageId: `request-${i}`, correlationId: `request-${i}`, replyTo } }));
  const outcomes = await lastValueFrom(from(outgoing).pipe(client.send<string>(address), toArray()));
  const refused = outcomes.filter((o) => o.state !== 'accepted');
  if (refused.length > 0) throw new Error(`${refused.length} requests were not accepted by the broker: ${refused.map((o) => o.state).join(', ')}`);

  const byId = new Map((await responses).map((response) => [String(response.message.properties.correlationId), response.body]));
  return { replyTo, responses: new Map(outgoing.map((m) => [m.body, byId.get(String(m.properties?.correlationId)) ?? '(no response)'])) };
}

async function main(): Promise<void> {
  const [url, address = 'requests'] = process.argv.slice(2);
  const broker = url === undefined ? await EmbeddedBroker.start() : undefined;
  const serverClient = createClient(url ?? broker!.url);
  const client = createClient(url ?? broker!.url); // the client is another application: a connection of its own

  let answered = 0;
  // The EmbeddedBroker has an anonymous relay; for a broker given by URL (RabbitMQ 3.x has none), links per client.
  const relay = url === undefined;
  console.log(relay ? 'server: responses through the anonymous relay' : 'server: a response link per reply-to address');
  const server = serve(serverClient, address, relay).subscribe({
    next: (outcome) => (answered += outcome.state === 'accepted' ? 1 : 0),
    error: (error: unknown) => console.error('server failed:', error),
  });

  const requests = ['the first request', 'Another one, with punctuation!', 'numbers 1 2 3 stay as they are', 'über straße'];
  // The EmbeddedBroker makes dynamic nodes; for a broker given by URL (RabbitMQ 3.x has none), a named one.
  const { replyTo, responses } = await request(client, address, url === undefined ? undefined : `replies-${randomUUID()}`, requests);
  for (const [req, res] of responses) console.log(`${req} => ${res}`);

  // The client has every response; the server hears that they were accepted a moment later. Stop it
  // once it has, so that no request is released back to the queue with its response in flight.
  for (let waited = 0; answered < requests.length && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  server.unsubscribe(); // detaches the request receiver and the reply senders
  console.log(`server: ${answered} requests answered from '${address}'; replies went to '${replyTo}'`);
  if (broker) console.log(`broker: ${broker.queueDepth(address)} requests left on '${address}', ${broker.unsettledCount(address)} unsettled`);
  await Promise.all([client.close(), serverClient.close()]);
  await broker?.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
