import { afterEach, describe, expect, it, vi } from 'vitest';

import { etaSeconds, formatInfo, startProgress } from './progress.ts';

afterEach(() => vi.restoreAllMocks());

describe('progress', () => {
  it('a resumed job rates only the units done in this process', () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (lines.push(String(chunk)), true));
    const isTTY = process.stderr.isTTY;
    process.stderr.isTTY = false;
    let now = 1_000_000;
    try {
      const progress = startProgress({ label: 'ppo', total: 16, start: 4, interval: 0, now: () => now });
      progress.tick(1, { score: 0.5, kl: Number.NaN });
      now += 2000;
      progress.tick(1, { score: 0.25 });
      now += 2000;
      progress.tick(2);
    } finally {
      process.stderr.isTTY = isTTY;
    }
    // No rate from zero elapsed time; then 2 units in 2 s and 4 units in 4 s.
    expect(lines).toEqual(['ppo 5/16 score=0.5\n', 'ppo 6/16 (1.0/s) score=0.25\n', 'ppo 8/16 (1.0/s) \n']);
  });

  it('leaves out metrics that are not numbers and knows no ETA before the first unit', () => {
    expect(formatInfo({ score: Number.NaN, kl: Infinity, loss: 0.123456 })).toBe('loss=0.1235');
    expect(etaSeconds(12, 0, 5000)).toBeUndefined();
    expect(etaSeconds(12, 3, 0)).toBeUndefined();
    expect(etaSeconds(12, 3, 6000)).toBe(24);
  });
});
