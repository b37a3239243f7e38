/**
 * What a trainer owns besides its algorithm: the variables it updates (policy, heads), the
 * optimiser, a guarded update that refuses non-finite losses or gradients, an in-memory snapshot
 * of the last good state, and checkpoints on disk (safetensors for tensors, JSON for the rest).
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { type ExtraTensor, saveCheckpoint } from '../model/checkpoint.ts';
import { readSafetensors, serializeSafetensors, tensorToFloat32 } from '../model/safetensors.ts';
import type { CausalLM } from '../model/types.ts';
import { RlaifError } from '../util/errors.ts';
import { AdamW, clipByGlobalNorm, disposeMap } from '../model/optim.ts';
import { makeLrSchedule } from '../model/schedules.ts';

/** A checkpoint that does not fit the objects it is loaded into. */
export class CheckpointError extends RlaifError {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface UpdateResult {
  /** The update was applied; false when the loss or a gradient was NaN or infinite. */
  applied: boolean;
  loss: number;
  gradNorm: number;
  /** Extra scalars the loss function returned (metrics), read after the update. */
  aux: Record<string, number>;
}

interface Snapshot {
  values: Float32Array[];
  optimizer: ReturnType<AdamW['exportState']>;
}

/** Optimiser settings as the trainers' configs spell them. */
export interface OptimizerSettings {
  learningRate: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip; 0 = off. */
  maxGradNorm: number;
  schedule?: 'constant' | 'linear' | 'cosine';
  warmupSteps?: number;
}

export class TrainingState {
  readonly optimizer: AdamW;
  private snapshotData?: Snapshot;

  /** groups: named lists of variables (e.g. policy, value); checkpoints name tensors by them. */
  private readonly maxGradNorm: number;
  private readonly schedule: (step: number) => number;
  /** Learning rate of the updates until the next scheduleStep(). */
  learningRate: number;

  /** totalSteps: how many scheduleStep() calls the run makes (for decaying schedules). */
  constructor(
    readonly groups: Record<string, tf.Variable[]>,
    settings: OptimizerSettings,
    totalSteps = 1,
  ) {
    const { learningRate: lr, beta1, beta2, eps, weightDecay } = settings;
    this.optimizer = new AdamW(this.variables, { lr, beta1, beta2, eps, weightDecay });
    this.maxGradNorm = settings.maxGradNorm > 0 ? settings.maxGradNorm : Infinity;
    this.schedule = makeLrSchedule({
      kind: settings.schedule ?? 'constant',
      baseLr: lr,
      warmupSteps: settings.warmupSteps ?? 0,
      totalSteps: Math.max(totalSteps, 1),
    });
    this.learningRate = lr;
  }

  /** Sets the learning rate for training step `step` (0-based) from the schedule. */
  scheduleStep(step: number): number {
    this.learningRate = this.schedule(step);
    return this.learningRate;
  }

  get variables(): tf.Variable[] {
    return Object.values(this.groups).flat();
  }

  /**
   * Computes `lossFn`'s gradients and applies them unless the loss or any gradient is NaN or
   * infinite. lossFn returns the scalar to minimise plus scalars to report.
   */
  update(lossFn: () => { loss: tf.Scalar; aux?: Record<string, tf.Scalar> }): UpdateResult {
    const variables = this.variables;
    let aux: Record<string, tf.Scalar> = {};
    const { value, grads } = tf.variableGrads(() => {
      const out = lossFn();
      aux = out.aux ?? {};
      // variableGrads disposes intermediates; keep the reported scalars alive.
      for (const t of Object.values(aux)) tf.keep(t);
      return out.loss;
    }, variables);
    const loss = value.dataSync()[0];
    const clipped = clipByGlobalNorm(grads, this.maxGradNorm);
    const applied = Number.isFinite(loss) && Number.isFinite(clipped.norm);
    if (applied) this.optimizer.applyGradients(clipped.grads, this.learningRate);

    const auxValues: Record<string, number> = {};
    for (const [name, t] of Object.entries(aux)) {
      auxValues[name] = t.dataSync()[0];
      t.dispose();
    }
    value.dispose();
    disposeMap(grads);
    disposeMap(clipped.grads);
    return { applied, loss, gradNorm: clipped.norm, aux: auxValues };
  }

  /** Remembers the current weights and optimiser state as the last good state. */
  snapshot(): void {
    this.snapshotData = {
      values: this.variables.map((v) => new Float32Array(v.dataSync())),
      optimizer: this.optimizer.exportState(),
    };
  }

  /** Goes back to the last snapshot (after a non-finite update). */
  restore(): void {
    const snap = this.snapshotData;
    if (!snap) throw new CheckpointError('no good state to restore: snapshot() was never called');
    tf.tidy(() => this.variables.forEach((v, i) => v.assign(tf.tensor(snap.values[i], v.shape))));
    this.optimizer.importState(snap.optimizer);
  }

  /** Every variable and optimiser moment holds only finite numbers. */
  allFinite(): boolean {
    return tf.tidy(() => {
      const sums = this.variables.map((v) => tf.sum(tf.abs(v)));
      return Number.isFinite(tf.addN(sums).dataSync()[0]);
    });
  }

  /**
   * Writes `dir/step-<step>/` atomically (a temporary folder renamed at the end):
   * state.safetensors with every group's variables and the optimiser moments, and
   * trainer-state.json with `extra` (controller states, counters) and the step.
   */
  save(dir: string, step: number, extra: Record<string, unknown>): string {
    const target = join(dir, `step-${step}`);
    const temporary = `${target}.partial`;
    rmSync(temporary, { recursive: true, force: true });
    mkdirSync(temporary, { recursive: true });

    const tensors: [string, { shape: number[]; data: Float32Array }][] = [];
    for (const [group, variables] of Object.entries(this.groups)) {
      variables.forEach((v, i) =>
        tensors.push([`${group}.${i}`, { shape: v.shape, data: new Float32Array(v.dataSync()) }]),
      );
    }
    const optimizer = this.optimizer.exportState();
    this.optimizer.variables.forEach((variable, i) => {
      tensors.push([`optimizer.m.${i}`, { shape: variable.shape, data: optimizer.m[i] }]);
      tensors.push([`optimizer.v.${i}`, { shape: variable.shape, data: optimizer.v[i] }]);
    });
    writeFileSync(
      join(temporary, 'state.safetensors'),
      serializeSafetensors(tensors, { format: 'rlaif-trainer' }),
    );
    const state = { step, optimizerStep: optimizer.step, ...extra };
    writeFileSync(join(temporary, 'trainer-state.json'), JSON.stringify(state, null, 2) + '\n');

    rmSync(target, { recursive: true, force: true });
    renameSync(temporary, target);
    return target;
  }

  /** Loads a folder written by save() into these variables; returns trainer-state.json. */
  async load(checkpoint: string): Promise<Record<string, unknown> & { step: number }> {
    const file = join(checkpoint, 'state.safetensors');
    const stored = await readSafetensors(file);
    for (const [group, variables] of Object.entries(this.groups)) {
      variables.forEach((v, i) => {
        const name = `${group}.${i}`;
        const tensor = stored.tensors.get(name);
        if (!tensor)
          throw new CheckpointError(
            `${file}: tensor "${name}" is missing; was it written by another model?`,
          );
        if (tensor.shape.join(',') !== v.shape.join(',')) {
          throw new CheckpointError(
            `${file}: tensor "${name}" has shape [${tensor.shape}], the model needs [${v.shape}]`,
          );
        }
        v.assign(tf.tensor(tensorToFloat32(tensor, file, name), v.shape));
      });
    }
    const state = JSON.parse(readFileSync(join(checkpoint, 'trainer-state.json'), 'utf8'));
    const m: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (let i = 0; stored.tensors.has(`optimizer.m.${i}`); i++) {
      m.push(tensorToFloat32(stored.tensors.get(`optimizer.m.${i}`)!, file, `optimizer.m.${i}`));
      v.push(tensorToFloat32(stored.tensors.get(`optimizer.v.${i}`)!, file, `optimizer.v.${i}`));
    }
    const names = this.optimizer.variables.map((x) => x.name);
    this.optimizer.importState({ step: Number(state.optimizerStep ?? 0), names, m, v });
    return state;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** The newest complete checkpoint folder (step-<n> with trainer-state.json) in `dir`. */
export function latestCheckpoint(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const steps = readdirSync(dir)
    .map((name) => /^step-(\d+)$/.exec(name))
    .filter(
      (m): m is RegExpExecArray => m !== null && existsSync(join(dir, m[0], 'trainer-state.json')),
    )
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  return steps.length > 0 ? join(dir, `step-${steps[0]}`) : undefined;
}

/**
 * Saves a model as an rlaif checkpoint folder with its tokenizer when the tokenizer can be
 * written as tokenizer.json (otherwise without: loading then needs the tokenizer passed in).
 */
export async function saveModelFolder(
  dir: string,
  model: CausalLM,
  extra?: Record<string, ExtraTensor>,
): Promise<void> {
  const weights = model.exportWeights();
  try {
    await saveCheckpoint(dir, model.config, weights, { extra, tokenizer: model.tokenizer });
  } catch (error) {
    if (!/cannot be saved as tokenizer.json/.test(String((error as Error).message))) throw error;
    await saveCheckpoint(dir, model.config, weights, { extra });
  }
}
