/**
 * Prints one plain line at the end of a run, counting tests (not files):
 *
 *   42 passed, 0 failed
 *   40 passed, 1 failed, 3 skipped
 *
 * `failed` is the number of failed tests, plus one per test file that failed without a failed test
 * in it (it could not be loaded, or a `beforeAll`/`afterAll` failed), plus one per global setup
 * failure (listed under `Symbol.for('rhea-rx.test.setupFailures')` on `globalThis`). A run that
 * failed only through unhandled errors counts one failure, so the line never reads "0 failed" for a
 * failed run. Tests that never finished (an interrupted run) count as failed. `skipped` includes
 * `todo` tests and is left out when zero.
 */
import type { Reporter, SerializedError, TestModule, TestRunEndReason } from 'vitest/node';

const SETUP_FAILURES = Symbol.for('rhea-rx.test.setupFailures');

export interface RunCounts {
  passed: number;
  failed: number;
  skipped: number;
}

export function countTests(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError> = []): RunCounts {
  const counts: RunCounts = { passed: 0, failed: 0, skipped: 0 };
  for (const module of modules) {
    let failedHere = 0;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed') counts.passed += 1;
      else if (state === 'skipped') counts.skipped += 1;
      else {
        counts.failed += 1;
        failedHere += 1;
      }
    }
    // Collection errors and suite-level hook failures fail the module with no failed test in it.
    if (failedHere === 0 && (module.state() === 'failed' || module.errors().length > 0)) counts.failed += 1;
  }
  counts.failed += (globalThis as { [SETUP_FAILURES]?: string[] })[SETUP_FAILURES]?.length ?? 0;
  if (counts.failed === 0 && unhandledErrors.length > 0) counts.failed = 1;
  return counts;
}

export function formatCounts({ passed, failed, skipped }: RunCounts): string {
  return `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}

/** Every skipped test with its full name, which carries the reason (e.g. `[skipped on rabbitmq: …]`). */
export function skippedTests(modules: ReadonlyArray<TestModule>): string[] {
  const names: string[] = [];
  for (const module of modules) {
    for (const test of module.children.allTests()) {
      if (test.result().state === 'skipped') names.push(`${module.moduleId.split('/test/').pop() ?? module.moduleId} > ${test.fullName}`);
    }
  }
  return names;
}

export default class CountReporter implements Reporter {
  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    _reason: TestRunEndReason,
  ): void {
    const skipped = skippedTests(testModules);
    if (skipped.length > 0) process.stdout.write(`\nSkipped, with the reason in each name:\n${skipped.map((n) => `  - ${n}`).join('\n')}\n`);
    process.stdout.write(`\n${formatCounts(countTests(testModules, unhandledErrors))}\n`);
  }
}
