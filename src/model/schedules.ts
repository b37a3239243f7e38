/**
 * Learning-rate schedules: constant, linear decay and cosine decay, each after an optional
 * linear warmup from zero.
 */

export interface LrScheduleOptions {
  kind: 'constant' | 'linear' | 'cosine';
  /** Peak learning rate, reached at the end of warmup. */
  baseLr: number;
  /** Steps of linear warmup from 0 to baseLr; default 0. */
  warmupSteps?: number;
  /** Total optimiser steps; required by 'linear' and 'cosine'. */
  totalSteps?: number;
  /** Floor the decay ends at; default 0. */
  minLr?: number;
}

/** Learning rate of optimiser step `step` (0-based). */
export function learningRateAt(step: number, options: LrScheduleOptions): number {
  const { kind, baseLr } = options;
  const warmup = options.warmupSteps ?? 0;
  const minLr = options.minLr ?? 0;
  if (step < warmup) return (baseLr * (step + 1)) / warmup;
  if (kind === 'constant') return baseLr;

  const total = options.totalSteps;
  if (total === undefined || total <= warmup) {
    throw new RangeError(`a ${kind} schedule needs totalSteps greater than warmupSteps (${warmup})`);
  }
  const progress = Math.min(1, (step - warmup) / (total - warmup));
  const shape = kind === 'linear' ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
  return minLr + (baseLr - minLr) * shape;
}

/** The schedule as a function of the step. */
export function makeLrSchedule(options: LrScheduleOptions): (step: number) => number {
  learningRateAt(0, options); // validate early
  return (step) => learningRateAt(step, options);
}
