/**
 * Plain-language checks on a training run: sampling settings that make the KL estimate wrong,
 * negative KL, KL running away. Each returns a message for the log (and the step result) that
 * says what happened, why, and what to change.
 */
import { RlaifError } from '../util/errors.ts';
import type { SamplingConfig } from './ppo-config.ts';

/** Training stopped on purpose by a guardrail (KL runaway, repeated non-finite steps). */
export class TrainingHaltedError extends RlaifError {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingHaltedError';
  }
}

function describeSampling(s: SamplingConfig): string {
  return `temperature=${s.temperature}, topK=${s.topK}, topP=${s.topP}`;
}

/** True when rollouts are not drawn from the plain softmax that scoring uses. */
export function samplingDiffersFromScoring(s: SamplingConfig): boolean {
  return s.temperature !== 1 || s.topK !== 0 || s.topP !== 1;
}

/** Said once at the start of a run whose sampling settings differ from scoring. */
export function samplingMismatchWarning(s: SamplingConfig): string | undefined {
  if (!samplingDiffersFromScoring(s)) return undefined;
  return (
    `rollouts are sampled with ${describeSampling(s)} but log-probs are scored with the plain ` +
    'softmax (temperature 1, no top-k/top-p). The samples then do not come from the policy being ' +
    'scored, so the importance ratio and the KL estimate are biased and the KL can go negative. ' +
    'Sample with temperature 1, topK 0, topP 1 for RL training.'
  );
}

/** Explains a negative mean KL; undefined when the KL is not below -tolerance. */
export function negativeKlMessage(
  meanKl: number,
  tolerance: number,
  s: SamplingConfig,
): string | undefined {
  if (!(meanKl < -tolerance)) return undefined;
  const cause = samplingDiffersFromScoring(s)
    ? `The cause is almost certainly the sampling settings (${describeSampling(s)}): tokens ` +
      'are drawn from a sharpened or truncated distribution, so tokens the plain policy finds ' +
      'less likely than the reference does are over-represented and log pi - log pi_ref averages ' +
      'below 0. Sample with temperature 1, topK 0, topP 1.'
    : 'Sampling settings match scoring, so check that the policy and reference see the same ' +
      'tokens and padding, and that generation logprobs agree with the forward pass ' +
      '(policy/sample_logprob_gap).';
  const value = meanKl.toFixed(3);
  return `KL to the reference is negative (${value} nats per response), which true KL never is. ${cause}`;
}

export type KlVerdict = { level: 'ok' } | { level: 'warn' | 'stop'; message: string };

/** KL per response against the warn and stop thresholds. */
export function klRunawayCheck(meanKl: number, warnAt: number, stopAt: number): KlVerdict {
  if (!Number.isFinite(meanKl)) {
    return { level: 'stop', message: `KL to the reference is ${meanKl}; the policy has diverged.` };
  }
  if (meanKl > stopAt) {
    return {
      level: 'stop',
      message:
        `KL to the reference is ${meanKl.toFixed(2)} nats per response, above the stop threshold ` +
        `${stopAt}: the policy has run away from the reference (reward hacking is likely). ` +
        'Raise the KL coefficient, use adaptive KL control, or lower the learning rate.',
    };
  }
  if (meanKl > warnAt) {
    return {
      level: 'warn',
      message:
        `KL to the reference is ${meanKl.toFixed(2)} nats per response (warning threshold ${warnAt}); ` +
        'it is growing fast. Training goes on; it stops above the stop threshold.',
    };
  }
  return { level: 'ok' };
}

/** The KL and reward checks every online trainer runs after a step. */
export function stepGuards(options: {
  meanKl: number;
  kl: { warnAt: number; stopAt: number; negativeTolerance: number };
  sampling: SamplingConfig;
  failures: string[];
}): { warnings: string[]; halt?: string } {
  const { meanKl, kl, sampling, failures } = options;
  const warnings: string[] = [];
  const negative = negativeKlMessage(meanKl, kl.negativeTolerance, sampling);
  if (negative) warnings.push(negative);
  const runaway = klRunawayCheck(meanKl, kl.warnAt, kl.stopAt);
  if (runaway.level === 'warn') warnings.push(runaway.message);
  if (failures.length > 0) {
    warnings.push(
      `${failures.length} responses had no reward (first: ${failures[0]}); they were left out of the update`,
    );
  }
  return { warnings, halt: runaway.level === 'stop' ? runaway.message : undefined };
}

export function nonFiniteMessage(step: number, what: string): string {
  return (
    `step ${step}: ${what} was NaN or infinite; the update was skipped and the weights and ` +
    'optimiser state were restored to the last good state. Lower the learning rate or set ' +
    'optimizer.maxGradNorm if this repeats.'
  );
}
