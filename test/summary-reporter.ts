/**
 * Closes a test run with one plain line, "tests: N passed, N failed, N skipped", that any log
 * reader can pick up whatever reporter is in front.
 */
import type { Reporter, RunnerTask, RunnerTestFile } from 'vitest';

export default class SummaryReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = [], errors: unknown[] = []): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const visit = (task: RunnerTask): void => {
      if (task.type === 'suite') {
        task.tasks.forEach(visit);
        // A file that failed to load has no tests but must still count as a failure.
        if (task.tasks.length === 0 && task.result?.state === 'fail') counts.failed++;
        return;
      }
      const state = task.result?.state;
      if (state === 'pass') counts.passed++;
      else if (state === 'fail') counts.failed++;
      else counts.skipped++;
    };
    files.forEach(visit);
    counts.failed += errors.length;
    process.stdout.write(
      `\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  }
}
