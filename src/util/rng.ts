/**
 * Seeded randomness. Every random choice in rlaif draws from an Rng made from the run's
 * seed, so a run repeats exactly from its config.
 */
import seedrandom from 'seedrandom';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** A new independent stream derived from this one and a label. */
  fork(label: string): Rng;
  /** Fisher-Yates shuffle into a new array. */
  shuffle<T>(items: readonly T[]): T[];
}

export function makeRng(seed: number | string): Rng {
  const source = seedrandom(String(seed));

  const rng: Rng = {
    next: () => source.quick(),
    int: (n) => Math.floor(source.quick() * n),
    fork: (label) => makeRng(`${seed}/${label}`),
    shuffle: (items) => {
      const out = items.slice();
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(source.quick() * (i + 1));
        [out[i], out[j]] = [out[j], out[i]];
      }
      return out;
    },
  };
  return rng;
}
