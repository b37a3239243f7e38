/**
 * The plumbing every online trainer (PPO, REINFORCE / RLOO / GRPO, online DPO) shares, kept
 * apart from the algorithms: step numbering, per-step seeded randomness, the last-good-state
 * guard, halting, metrics, progress, checkpoints and resume. An algorithm implements runStep().
 */
import { renameSync, writeFileSync } from 'node:fs';

import type { CausalLM } from '../model/types.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import { metricsAfter, readMetrics, type MetricsWriter } from '../util/metrics.ts';
import { startProgress } from '../util/progress.ts';
import { makeRng, type Rng } from '../util/rng.ts';
import { TrainingHaltedError, nonFiniteMessage, samplingMismatchWarning } from './guardrails.ts';
import type { SamplingConfig } from './ppo-config.ts';
import type { PromptRecord } from './rollout.ts';
import { latestCheckpoint, type TrainingState } from './training-state.ts';

export interface StepResult {
  /** 1-based number of the step just run. */
  step: number;
  /** Flat `group/name` metrics, as written to metrics.jsonl. */
  metrics: Record<string, number>;
  /** The update was thrown away (non-finite loss or gradient) and the last good state restored. */
  skipped: boolean;
  /** Why training stopped after this step, when a guardrail stopped it. */
  halted?: string;
  /** Plain-language warnings raised during the step. */
  warnings: string[];
  /** Checkpoint folder written after this step, if any. */
  checkpoint?: string;
  /** A few of the step's samples, for dashboards. */
  samples: { prompt: string; response: string; score: number }[];
}

export interface OnlineTrainerOptions {
  /** The model being trained. Its trainableVariables() are updated in place. */
  policy: CausalLM;
  /** Frozen reference for the KL term; policy.cloneFrozen() when absent. */
  reference?: CausalLM;
  /** Prompts cycled through in a seeded order (empty for offline trainers). */
  prompts: PromptRecord[];
  /** Metrics sink; one line per step. */
  metrics?: MetricsWriter;
  /** Folder for step-<n>/ checkpoints; required for checkpointEvery and resume(). */
  checkpointDir?: string;
  logger?: Logger;
  /** Milliseconds clock for perf metrics (injected for reproducible tests). */
  clock?: () => number;
  /** Called after every step, e.g. to drive a pipeline's progress display. */
  onStep?: (result: StepResult) => void;
}

export interface RunSettings {
  seed: number;
  steps: number;
  checkpointEvery: number;
  maxSkippedSteps: number;
  sampling: SamplingConfig;
}

/** What an algorithm's step hands back to the plumbing. */
export interface AlgorithmStepOutput {
  metrics: Record<string, number>;
  skipped: boolean;
  skipReason?: string;
  warnings: string[];
  halt?: string;
  samples: StepResult['samples'];
}

export abstract class OnlineTrainer {
  readonly policy: CausalLM;
  readonly reference: CausalLM;
  protected readonly prompts: PromptRecord[];
  protected readonly logger: Logger;
  protected readonly clock: () => number;
  private completed = 0;
  private consecutiveSkips = 0;
  private announced = false;
  private haltReason?: string;
  private readonly ownsReference: boolean;

  protected abstract readonly stage: string;
  protected abstract readonly state: TrainingState;
  /** The run-level settings every algorithm's config carries. */
  protected abstract get settings(): RunSettings;

  constructor(protected readonly options: OnlineTrainerOptions) {
    this.policy = options.policy;
    this.ownsReference = !options.reference;
    this.reference = options.reference ?? options.policy.cloneFrozen();
    this.prompts = options.prompts;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? Date.now;
  }

  /** Steps completed so far (restored by resume()). */
  get stepsDone(): number {
    return this.completed;
  }

  /** Steps the config asks for in total. */
  get plannedSteps(): number {
    return this.settings.steps;
  }

  /** Why training stopped, once a guardrail stopped it. */
  get halted(): string | undefined {
    return this.haltReason;
  }

  /** One step of the algorithm: rollout, reward, update, metrics, checkpoint when due. */
  async trainStep(): Promise<StepResult> {
    if (this.haltReason) throw new TrainingHaltedError(this.haltReason);
    const step = this.completed + 1;
    const started = this.clock();
    this.state.snapshot();
    const learningRate = this.state.scheduleStep(step - 1);

    // All of a step's randomness comes from (seed, step), so that pair is the whole RNG state a
    // checkpoint needs: a resumed run draws exactly what an uninterrupted one would.
    const out = await this.runStep(step, makeRng(this.settings.seed).fork(`step-${step}`));
    let skipped = out.skipped;
    let skipReason = out.skipReason;
    if (!skipped && !this.state.allFinite()) {
      skipped = true;
      skipReason = 'a weight after the update';
    }
    const warnings = [...out.warnings];
    if (!this.announced) {
      this.announced = true;
      const mismatch = samplingMismatchWarning(this.settings.sampling);
      if (mismatch) warnings.unshift(mismatch);
    }
    if (skipped) {
      this.state.restore();
      this.consecutiveSkips++;
      warnings.push(nonFiniteMessage(step, skipReason ?? 'the loss or a gradient'));
      if (this.consecutiveSkips >= this.settings.maxSkippedSteps) {
        this.haltReason = `${this.consecutiveSkips} steps in a row had non-finite updates; training stopped.`;
      }
    } else {
      this.consecutiveSkips = 0;
    }
    if (out.halt) this.haltReason = out.halt;
    this.completed = step;

    const metrics = {
      ...out.metrics,
      'optimizer/lr': learningRate,
      'guard/skipped': skipped ? 1 : 0,
      'perf/step_ms': this.clock() - started,
    };
    this.options.metrics?.write(this.stage, step, metrics);
    for (const warning of warnings) this.logger.warn({ stage: this.stage, step }, warning);
    if (this.haltReason) this.logger.error({ stage: this.stage, step }, this.haltReason);

    let checkpoint: string | undefined;
    const due = this.settings.checkpointEvery > 0 && step % this.settings.checkpointEvery === 0;
    if (this.options.checkpointDir && (due || (this.haltReason && !skipped)))
      checkpoint = this.saveCheckpoint();

    const result: StepResult = {
      step,
      metrics,
      skipped,
      halted: this.haltReason,
      warnings,
      checkpoint,
      samples: out.samples,
    };
    this.options.onStep?.(result);
    return result;
  }

  /** Runs steps until `steps` are done in total (the config's count by default) or a halt. */
  async train(options: { steps?: number; silent?: boolean } = {}): Promise<StepResult[]> {
    const total = options.steps ?? this.plannedSteps;
    const progress = startProgress({ label: this.stage, total, silent: options.silent });
    if (this.completed > 0) progress.tick(Math.min(this.completed, total));
    const results: StepResult[] = [];
    while (this.completed < total && !this.haltReason) {
      const result = await this.trainStep();
      results.push(result);
      progress.tick(1, pickProgressInfo(result.metrics));
    }
    progress.stop();
    return results;
  }

  /** Writes checkpointDir/step-<n>/ now; returns its path. */
  saveCheckpoint(): string {
    const dir = this.options.checkpointDir;
    if (!dir) throw new RangeError('saveCheckpoint needs checkpointDir in the trainer options');
    return this.state.save(dir, this.completed, {
      stage: this.stage,
      seed: this.settings.seed,
      consecutiveSkips: this.consecutiveSkips,
      algorithm: this.exportAlgorithmState(),
    });
  }

  /**
   * Loads `checkpoint` (default: the newest in checkpointDir) into this trainer's objects.
   * Returns false when there is nothing to resume from.
   */
  async resume(checkpoint?: string): Promise<boolean> {
    const path =
      checkpoint ??
      (this.options.checkpointDir ? latestCheckpoint(this.options.checkpointDir) : undefined);
    if (!path) return false;
    const stored = await this.state.load(path);
    this.completed = stored.step;
    if (this.options.metrics) dropMetricsAfter(this.options.metrics.file, this.stage, stored.step);
    this.consecutiveSkips = Number(stored.consecutiveSkips ?? 0);
    this.importAlgorithmState((stored.algorithm ?? {}) as Record<string, unknown>);
    this.logger.info({ stage: this.stage, step: this.completed, checkpoint: path }, 'resumed');
    return true;
  }

  dispose(): void {
    this.state.dispose();
    if (this.ownsReference) this.reference.dispose();
  }

  /** The algorithm's update for step `step`, drawing all randomness from `rng`. */
  protected abstract runStep(step: number, rng: Rng): Promise<AlgorithmStepOutput>;

  /** Controller states etc. that a checkpoint must restore (plain JSON). */
  protected abstract exportAlgorithmState(): Record<string, unknown>;

  protected abstract importAlgorithmState(state: Record<string, unknown>): void;
}

/**
 * Removes this stage's metric lines past `step` (written by a killed run after its last
 * checkpoint) so the resumed run's lines replace them instead of repeating those steps.
 */
function dropMetricsAfter(file: string, stage: string, step: number): void {
  const records = readMetrics(file);
  if (!metricsAfter(records, stage, step)) return;
  const kept = records.filter((r) => r.stage !== stage || r.step <= step);
  const temporary = `${file}.partial`;
  writeFileSync(temporary, kept.map((r) => JSON.stringify(r) + '\n').join(''));
  renameSync(temporary, file);
}

function pickProgressInfo(metrics: Record<string, number>): Record<string, number> {
  const info: Record<string, number> = {};
  for (const key of ['score/mean', 'objective/kl', 'loss/total'])
    if (key in metrics) info[key] = metrics[key];
  return info;
}
