/**
 * The KL coefficient beta of RLHF-style PPO, fixed or adaptive, and the running statistics used
 * to scale scores. Both are plain data so checkpoints restore them exactly.
 */

export interface KlControllerState {
  value: number;
  /** Adaptive only: the KL (nats per sequence) the controller steers towards. */
  target?: number;
  /** Adaptive only: samples over which the error is corrected. */
  horizon?: number;
}

/**
 * Adaptive KL control (Ziegler et al. 2019, "Fine-Tuning Language Models from Human
 * Preferences", section 2.2):
 *   e = clip(KL / target - 1, -0.2, 0.2),   beta <- beta * (1 + e * nSamples / horizon)
 * With no target the coefficient stays fixed.
 */
export function updateKlCoef(
  state: KlControllerState,
  observedKl: number,
  nSamples: number,
): KlControllerState {
  if (state.target === undefined || state.horizon === undefined) return state;
  if (!Number.isFinite(observedKl)) return state;
  const error = Math.min(Math.max(observedKl / state.target - 1, -0.2), 0.2);
  return { ...state, value: state.value * (1 + (error * nSamples) / state.horizon) };
}

/** Running mean and variance (Chan et al. parallel merge), for reward scaling. */
export interface RunningMoments {
  count: number;
  mean: number;
  /** Population variance of everything seen. */
  variance: number;
}

export function emptyMoments(): RunningMoments {
  return { count: 0, mean: 0, variance: 1 };
}

export function updateMoments(moments: RunningMoments, values: readonly number[]): RunningMoments {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return moments;
  const n = finite.length;
  const mean = finite.reduce((a, b) => a + b, 0) / n;
  const variance = finite.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  if (moments.count === 0) return { count: n, mean, variance };
  const total = moments.count + n;
  const delta = mean - moments.mean;
  const m2 =
    moments.variance * moments.count + variance * n + (delta ** 2 * moments.count * n) / total;
  return { count: total, mean: moments.mean + (delta * n) / total, variance: m2 / total };
}
