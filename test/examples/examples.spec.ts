// Every program in examples/ runs, on its own EmbeddedBroker, and exits 0: examples cannot drift
// from the library. (They are type-checked with the rest of the repository by `npm run typecheck`.)
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = readdirSync(`${root}examples`).filter((f) => f.endsWith('.ts')).sort();

/** What each example must print, beyond exiting 0. */
const expected: Record<string, RegExp[]> = {
  'demo.ts': [/sent\s+accepted 10000/, /every order processed, none lost/],
  'settlementStrategies.ts': [/accepted 49/, /dead-lettered: .*"id":13/],
  'reconnectFailover.ts': [/outcomes\s+200 \(accepted 200/, /reconnecting/],
  'streamsPipeline.ts': [/invoices 1000 queued/],
  'forAwait.ts': [/handled 6, then break/, /AbortError \(reason: TimeoutError\)/],
};

describe('examples', () => {
  it('has examples', () => {
    expect(examples.length).toBeGreaterThan(2);
  });

  it.each(examples)('%s runs and exits 0', async (file) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${file}`], {
      cwd: root,
      timeout: 90_000,
      env: { ...process.env, DEBUG: '' },
    });
    expect(stdout.trim().length).toBeGreaterThan(0);
    for (const pattern of expected[file] ?? []) expect(stdout).toMatch(pattern);
  }, 120_000);
});
