/**
 * Training a RewardModel on preference records with the Bradley-Terry loss against soft labels,
 * per-record weights (human and AI labels mixed), a seeded train/validation split, and the
 * held-out figures users ask for: accuracy, loss, expected calibration error and Brier score.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { PreferenceRecord } from '../judge/types.ts';
import { RlaifError } from '../util/errors.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import type { MetricsWriter } from '../util/metrics.ts';
import { startProgress } from '../util/progress.ts';
import { makeRng } from '../util/rng.ts';
import { validateSettings } from '../util/yaml-input.ts';
import { bradleyTerryLoss } from './losses.ts';
import {
  type RewardModelConfig,
  type RewardModelConfigInput,
  rewardModelConfigSchema,
} from './reward-model-config.ts';
import type { RewardModel } from './reward-model.ts';
import { TrainingState } from './training-state.ts';

interface EncodedPair {
  prompt: number[];
  chosen: number[];
  rejected: number[];
  pChosen: number;
  weight: number;
}

export interface HeldOutFigures {
  pairs: number;
  /** Share of pairs (labels != 0.5) where the model prefers the labelled side. */
  accuracy: number;
  /** Weighted Bradley-Terry loss. */
  loss: number;
  /** Expected calibration error of sigmoid(r_c - r_r) against p(chosen). */
  ece: number;
  /** Mean squared error of sigmoid(r_c - r_r) against p(chosen). */
  brier: number;
}

export interface RewardModelReport {
  steps: number;
  /** Figures of the last epoch on the training pairs. */
  train: { loss: number; accuracy: number };
  validation?: HeldOutFigures;
  /** The offset that makes all responses of the records average 0. */
  offset: number;
}

export interface TrainRewardModelOptions {
  model: RewardModel;
  records: PreferenceRecord[];
  config: RewardModelConfigInput;
  metrics?: MetricsWriter;
  logger?: Logger;
  silent?: boolean;
  /**
   * Checked between steps: once aborted, training stops before the next step and
   * trainRewardModel rejects with RewardModelTrainingStopped (nothing is saved). Default: never.
   */
  signal?: AbortSignal;
}

/** Training was stopped through `signal` before it finished; the model is not trained. */
export class RewardModelTrainingStopped extends RlaifError {
  constructor(readonly step: number, readonly totalSteps: number) {
    super(`reward-model training stopped at step ${step} of ${totalSteps}`);
    this.name = 'RewardModelTrainingStopped';
  }
}

/**
 * Expected calibration error (Naeini et al. 2015; Guo et al. 2017): predictions binned by
 * value, ECE = sum_b (n_b / n) |mean(pred_b) - mean(label_b)|. Labels may be soft.
 */
export function expectedCalibrationError(
  predicted: number[],
  labels: number[],
  bins: number,
): number {
  const sums = Array.from({ length: bins }, () => ({ n: 0, pred: 0, label: 0 }));
  predicted.forEach((p, i) => {
    const bin = sums[Math.min(bins - 1, Math.floor(p * bins))];
    bin.n++;
    bin.pred += p;
    bin.label += labels[i];
  });
  return sums.reduce(
    (ece, b) =>
      b.n === 0 ? ece : ece + (b.n / predicted.length) * Math.abs(b.pred / b.n - b.label / b.n),
    0,
  );
}

export async function trainRewardModel(
  options: TrainRewardModelOptions,
): Promise<RewardModelReport> {
  const cfg = validateSettings(rewardModelConfigSchema, options.config, 'rewardModel');
  const { model, records } = options;
  const logger = options.logger ?? silentLogger;
  if (records.length < 2)
    throw new RangeError(
      `reward-model training needs at least 2 preference records, got ${records.length}`,
    );

  // Split
  const pairs = records.map((r) => encode(model, r, cfg));
  const order = makeRng(cfg.seed)
    .fork('split')
    .shuffle([...pairs.keys()]);
  const held = Math.min(Math.round(pairs.length * cfg.validationFraction), pairs.length - 1);
  const validation = order.slice(0, held).map((i) => pairs[i]);
  const train = order.slice(held).map((i) => pairs[i]);

  // Epochs of shuffled minibatches
  const stepsPerEpoch = Math.ceil(train.length / cfg.batchSize);
  const state = new TrainingState(
    { model: model.trainableVariables(cfg.trainBackbone) },
    cfg.optimizer,
    cfg.epochs * stepsPerEpoch,
  );
  const progress = startProgress({
    label: 'train-rm',
    total: cfg.epochs * stepsPerEpoch,
    silent: options.silent,
  });
  let step = 0;
  let epochStats = { loss: 0, accuracy: 0, n: 0 };
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    const shuffled = makeRng(cfg.seed).fork(`epoch-${epoch}`).shuffle(train);
    epochStats = { loss: 0, accuracy: 0, n: 0 };
    for (let start = 0; start < shuffled.length; start += cfg.batchSize) {
      if (options.signal?.aborted) {
        progress.stop();
        state.dispose();
        throw new RewardModelTrainingStopped(step, cfg.epochs * stepsPerEpoch);
      }
      const batch = shuffled.slice(start, start + cfg.batchSize);
      const started = Date.now();
      state.scheduleStep(step);
      const result = state.update(() => {
        const { loss, predicted } = pairLoss(model, batch, cfg.margin);
        const labels = tf.tensor1d(batch.map((p) => (p.pChosen > 0.5 ? 1 : 0)));
        const accuracy = tf.mean(
          tf.cast(tf.equal(tf.greater(predicted, 0.5), tf.cast(labels, 'bool')), 'float32'),
        ) as tf.Scalar;
        return { loss, aux: { accuracy } };
      });
      step++;
      if (!result.applied)
        logger.warn({ step }, 'reward-model step skipped: the loss or a gradient was not finite');
      epochStats.loss += result.loss * batch.length;
      epochStats.accuracy += result.aux.accuracy * batch.length;
      epochStats.n += batch.length;
      options.metrics?.write('reward-model', step, {
        'rm/loss': result.loss,
        'rm/accuracy': result.aux.accuracy,
        'train/epoch': epoch + 1,
        'perf/step_ms': Date.now() - started,
      });
      progress.tick(1, { loss: result.loss });
    }
    if (validation.length > 0) {
      const figures = evaluatePairs(model, validation, cfg);
      options.metrics?.write('reward-model', step, {
        'rm/val_accuracy': figures.accuracy,
        'rm/val_loss': figures.loss,
        'rm/ece': figures.ece,
        'rm/brier': figures.brier,
      });
      logger.info({ epoch: epoch + 1, ...figures }, 'reward-model validation');
    }
  }
  progress.stop();
  state.dispose();

  // Figures and the normalising offset
  const validationFigures =
    validation.length > 0 ? evaluatePairs(model, validation, cfg) : undefined;
  const responses = records.flatMap((r) => [
    { prompt: r.prompt, response: r.chosen },
    { prompt: r.prompt, response: r.rejected },
  ]);
  const offset = await model.normalise(responses);
  model.metrics = {
    'rm/train_loss': epochStats.loss / epochStats.n,
    'rm/train_accuracy': epochStats.accuracy / epochStats.n,
    ...(validationFigures
      ? {
          'rm/val_accuracy': validationFigures.accuracy,
          'rm/val_loss': validationFigures.loss,
          'rm/ece': validationFigures.ece,
          'rm/brier': validationFigures.brier,
        }
      : {}),
  };
  return {
    steps: step,
    train: { loss: epochStats.loss / epochStats.n, accuracy: epochStats.accuracy / epochStats.n },
    validation: validationFigures,
    offset,
  };
}

/** Accuracy, loss and calibration of `model` on encoded pairs (no gradients). */
function evaluatePairs(
  model: RewardModel,
  pairs: EncodedPair[],
  cfg: RewardModelConfig,
): HeldOutFigures {
  const predicted: number[] = [];
  let weightedLoss = 0;
  let totalWeight = 0;
  for (let start = 0; start < pairs.length; start += cfg.batchSize) {
    const batch = pairs.slice(start, start + cfg.batchSize);
    const { loss, predicted: p } = tf.tidy(() => {
      const out = pairLoss(model, batch, cfg.margin);
      return { loss: out.loss.dataSync()[0], predicted: Array.from(out.predicted.dataSync()) };
    });
    const weight = batch.reduce((a, b) => a + b.weight, 0);
    weightedLoss += loss * weight;
    totalWeight += weight;
    predicted.push(...p);
  }
  const labels = pairs.map((p) => p.pChosen);
  const decided = pairs.map((p, i) => ({ p, i })).filter(({ p }) => p.pChosen !== 0.5);
  const correct = decided.filter(({ p, i }) => predicted[i] > 0.5 === p.pChosen > 0.5).length;
  return {
    pairs: pairs.length,
    accuracy: decided.length > 0 ? correct / decided.length : Number.NaN,
    loss: weightedLoss / Math.max(totalWeight, 1e-12),
    ece: expectedCalibrationError(predicted, labels, cfg.calibrationBins),
    brier: predicted.reduce((a, p, i) => a + (p - labels[i]) ** 2, 0) / predicted.length,
  };
}

/** Bradley-Terry loss of a batch and the model's P(chosen > rejected) per pair. */
function pairLoss(model: RewardModel, batch: EncodedPair[], margin: number) {
  const n = batch.length;
  const rewards = model.rawRewards(
    [...batch.map((p) => p.prompt), ...batch.map((p) => p.prompt)],
    [...batch.map((p) => p.chosen), ...batch.map((p) => p.rejected)],
  );
  const chosen = tf.slice(rewards, [0], [n]) as tf.Tensor1D;
  const rejected = tf.slice(rewards, [n], [n]) as tf.Tensor1D;
  const loss = bradleyTerryLoss({
    chosenRewards: chosen,
    rejectedRewards: rejected,
    pChosen: tf.tensor1d(batch.map((p) => p.pChosen)),
    weights: tf.tensor1d(batch.map((p) => p.weight)),
    margin: margin > 0 ? margin : undefined,
  });
  return { loss, predicted: tf.sigmoid(tf.sub(chosen, rejected)) as tf.Tensor1D };
}

function encode(model: RewardModel, record: PreferenceRecord, cfg: RewardModelConfig): EncodedPair {
  const chosen = model.tokenize(record.prompt, record.chosen);
  const rejected = model.tokenize(record.prompt, record.rejected);
  const sourceWeight = cfg.sourceWeights[record.source] ?? 1;
  return {
    prompt: chosen.promptTokens,
    chosen: chosen.responseTokens,
    rejected: rejected.responseTokens,
    pChosen: record.pChosen,
    weight: (record.weight ?? 1) * sourceWeight,
  };
}
