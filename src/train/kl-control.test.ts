import { describe, expect, it } from 'vitest';

import { emptyMoments, updateKlCoef, updateMoments } from './kl-control.ts';

describe('adaptive KL control', () => {
  it('moves beta by the clipped proportional error', () => {
    // KL 9 vs target 6: error = clip(9 / 6 - 1, -0.2, 0.2) = 0.2; beta = 0.1 * (1 + 0.2 * 16 / 10000)
    expect(updateKlCoef({ value: 0.1, target: 6, horizon: 10000 }, 9, 16).value).toBeCloseTo(
      0.100032,
      12,
    );
    // KL 5.4: error = 5.4 / 6 - 1 = -0.1; beta = 0.1 * (1 - 0.1 * 100 / 1000) = 0.099
    expect(updateKlCoef({ value: 0.1, target: 6, horizon: 1000 }, 5.4, 100).value).toBeCloseTo(
      0.099,
      12,
    );
  });

  it('leaves a fixed coefficient alone', () => {
    expect(updateKlCoef({ value: 0.05 }, 100, 16).value).toBe(0.05);
  });
});

describe('running moments for reward scaling', () => {
  it('merging batches equals the statistics of all values', () => {
    const merged = updateMoments(updateMoments(emptyMoments(), [1, 2, 3]), [4, 5]);
    // values 1..5: mean 3, population variance (4 + 1 + 0 + 1 + 4) / 5 = 2
    expect(merged.count).toBe(5);
    expect(merged.mean).toBeCloseTo(3, 12);
    expect(merged.variance).toBeCloseTo(2, 12);
  });

  it('ignores failed (NaN) scores', () => {
    const m = updateMoments(emptyMoments(), [2, Number.NaN, 4]);
    expect(m).toEqual({ count: 2, mean: 3, variance: 1 });
  });
});
