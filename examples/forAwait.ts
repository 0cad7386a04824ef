// for await over a queue: toAsyncIterable paced by link credit, settling in the loop, break releasing what it holds, an AbortSignal ending a wait.
// Run: npx tsx examples/forAwait.ts [URL]
// Prints each job handled, what is left queued after the break, and how the abort ended the second loop.
import { lastValueFrom, toArray } from 'rxjs';
import { AbortError, createClient, toAsyncIterable } from 'rhea-rx';
import { EmbeddedBroker } from 'rhea-rx/testing';

interface Job {
  id: number;
  task: string;
}

const tasks = ['resize', 'thumbnail', 'watermark', 'compress', 'upload'];

async function main(): Promise<void> {
  const given = process.argv[2];
  const broker = given === undefined ? await EmbeddedBroker.start() : undefined;
  const client = createClient(given ?? broker!.url);

  const jobs: Job[] = Array.from({ length: 10 }, (_, i) => ({ id: i + 1, task: tasks[i % tasks.length]! }));
  await lastValueFrom(client.sendFrom(jobs, 'jobs').pipe(toArray()));
  console.log(`queued ${jobs.length} jobs`);

  // At most 3 jobs are out of the queue at once: credit comes back as the loop accepts them.
  let handled = 0;
  for await (const delivery of toAsyncIterable(client.receive<Job>('jobs', { credit: 3 }))) {
    console.log(`job ${delivery.body.id}: ${delivery.body.task}`);
    delivery.accept();
    if (++handled === 6) break; // detaches; the jobs the link held but the loop never saw go back to the queue
  }
  console.log(`handled ${handled}, then break`);
  if (broker) {
    // The accepts and releases are on their way: give the broker a moment to count them.
    for (let i = 0; i < 100 && broker.unsettledCount('jobs') > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    console.log(`broker: ${broker.queueDepth('jobs')} jobs still queued, ${broker.unsettledCount('jobs')} held by anyone`);
  }

  // The rest, with a time budget: when the queue is empty the loop waits, and the signal ends it.
  let more = 0;
  try {
    for await (const delivery of toAsyncIterable(client.receive<Job>('jobs', { credit: 3 }), { signal: AbortSignal.timeout(1000) })) {
      console.log(`job ${delivery.body.id}: ${delivery.body.task}`);
      delivery.accept();
      more++;
    }
  } catch (error) {
    if (!(error instanceof AbortError)) throw error;
    console.log(`second loop: handled ${more} more, then ${error.name} (reason: ${(error.cause as Error).name})`);
  }

  await client.close();
  await broker?.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
