/**
 * Runs stages in order. A stage marked done in the store is skipped; one that was running when
 * the process died runs again and skips, inside itself, the work already stored.
 */
import type { RunContext } from './run-context.ts';
import { throwIfStopped } from './run-context.ts';

export interface Stage {
  name: string;
  /** Does the work; returns a small JSON detail stored with the stage's status. */
  run(context: RunContext): Promise<unknown>;
}

/** Runs the stages not yet done; returns the names of those it ran (none: the run was complete). */
export async function runStages(context: RunContext, stages: Stage[]): Promise<string[]> {
  const ran: string[] = [];
  for (const stage of stages) {
    if (context.store.stageStatus(stage.name) === 'done') {
      context.logger.info({ stage: stage.name }, 'already done, skipped');
      continue;
    }
    throwIfStopped(context, stage.name);
    const started = context.clock();
    context.store.markStarted(stage.name, started);
    context.logger.info({ stage: stage.name }, 'stage started');
    ran.push(stage.name);
    const detail = await stage.run(context);
    context.store.markDone(stage.name, context.clock(), detail);
    context.logger.info({ stage: stage.name, seconds: (context.clock() - started) / 1000 }, 'stage done');
  }
  return ran;
}
