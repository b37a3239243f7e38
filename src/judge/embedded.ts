/**
 * The embedded judge: the offline default. For each comparison it takes one principle of its
 * constitution (or a weighted mix of named checks), scores both responses with the principle's
 * check and turns the score gap into a soft preference, sigmoid(gap / (scale * temperature)).
 */
import type { CausalLM } from '../model/types.ts';
import { InputError } from '../util/errors.ts';
import { checkLibrary, type Check } from './checks.ts';
import { principleFor, weightedMean } from './constitution.ts';
import type {
  CompareOptions,
  Constitution,
  PairwiseInput,
  PairwiseJudge,
  PairwiseResult,
  Principle,
} from './types.ts';

export interface EmbeddedJudgeOptions {
  /** Written into preference records. Default "embedded". */
  name?: string;
  /** Principles to judge by; each must name a check unless `checks` is given as a fallback. */
  constitution?: Constitution;
  /**
   * Checks and their weights, combined into one score: used when there is no constitution, and
   * for principles that name no check. E.g. `{ vader_compound: 1, vader_ending: 1 }`.
   */
  checks?: Record<string, number>;
  /** 'sample': one seeded principle per comparison (default); 'all': average over all. */
  mode?: 'sample' | 'all';
  /** Softness of the preference; larger is softer. Default 1. */
  temperature?: number;
  /** Seed of principle sampling. Default 0. */
  seed?: number;
  /** A gap below this many scale units is a tie. Default 0.02. */
  tieMargin?: number;
  /** Reference model; enables the `fluency` check. */
  model?: CausalLM;
}

interface Signal {
  check: Check;
  weight: number;
}

/** One signal's view of a comparison, for the rationale. */
interface SignalReading {
  name: string;
  scoreA: number;
  scoreB: number;
  /** (scoreA - scoreB) / scale. */
  gap: number;
  weight: number;
}

export class EmbeddedJudge implements PairwiseJudge {
  readonly id: string;
  private readonly constitution?: Constitution;
  private readonly fallback: Signal[];
  private readonly library: Map<string, Check>;
  private readonly mode: 'sample' | 'all';
  private readonly temperature: number;
  private readonly seed: number;
  private readonly tieMargin: number;

  constructor(options: EmbeddedJudgeOptions) {
    this.id = options.name ?? 'embedded';
    this.constitution = options.constitution;
    this.mode = options.mode ?? 'sample';
    this.temperature = options.temperature ?? 1;
    this.seed = options.seed ?? 0;
    this.tieMargin = options.tieMargin ?? 0.02;
    this.library = checkLibrary({ model: options.model });
    this.fallback = Object.entries(options.checks ?? {}).map(([name, weight]) => ({
      check: this.lookup(name, 'checks'),
      weight,
    }));

    if (!this.constitution && this.fallback.length === 0) {
      throw new InputError('the embedded judge needs a constitution or checks', { field: 'checks' });
    }
    this.constitution?.principles.forEach((principle, index) => {
      if (principle.check) this.lookup(principle.check, `principles[${index}].check`);
      else if (this.fallback.length === 0) {
        throw new InputError(`principle "${principle.id}" names no check and no fallback checks`
          + ' were given', { field: `principles[${index}].check` });
      }
    });
  }

  async compare(input: PairwiseInput, options: CompareOptions = {}): Promise<PairwiseResult> {
    try {
      const principles = this.principlesFor(input, options);
      const judged = await Promise.all(principles.map((p) => this.judgeBy(p, input)));
      const pA = weightedMean(judged.map((j, i) => ({ weight: principles[i].weight, value: j.pA })));
      const gap = weightedMean(judged.map((j, i) => ({ weight: principles[i].weight, value: j.gap })));
      const choice = Math.abs(gap) < this.tieMargin ? 'tie' : gap > 0 ? 'A' : 'B';
      const rationale = judged.map((j, i) => describe(principles[i].id, j.readings)).join('; ');
      return {
        ok: true,
        pA,
        choice,
        principle: principles.length === 1 ? principles[0].id : 'all',
        rationale,
        source: 'embedded',
      };
    } catch (error) {
      return { ok: false, kind: 'backend', message: (error as Error).message };
    }
  }

  /** The judge's score of one response (mean of its signals in scale units), for pointwise use. */
  async score(prompt: string, response: string, principle?: Principle): Promise<number> {
    const signals = this.signalsFor(principle);
    const values = await Promise.all(signals.map(async (s) => ({
      weight: s.weight,
      value: (await s.check.score(prompt, response)) / s.check.scale,
    })));
    return weightedMean(values);
  }

  private principlesFor(input: PairwiseInput, options: CompareOptions): Principle[] {
    if (options.principle) return [options.principle];
    if (!this.constitution) return [{ id: this.id, text: 'weighted checks', weight: 1 }];
    if (this.mode === 'all') return this.constitution.principles;
    const key = options.key ?? `${input.prompt}\u0000${input.a}\u0000${input.b}`;
    return [principleFor(this.constitution, this.seed, key)];
  }

  private signalsFor(principle?: Principle): Signal[] {
    if (principle?.check) return [{ check: this.lookup(principle.check, 'check'), weight: 1 }];
    return this.fallback;
  }

  private async judgeBy(principle: Principle, input: PairwiseInput) {
    const readings: SignalReading[] = await Promise.all(
      this.signalsFor(principle).map(async ({ check, weight }) => {
        const scoreA = await check.score(input.prompt, input.a);
        const scoreB = await check.score(input.prompt, input.b);
        return { name: check.name, scoreA, scoreB, gap: (scoreA - scoreB) / check.scale, weight };
      }),
    );
    const gap = weightedMean(readings.map((r) => ({ weight: r.weight, value: r.gap })));
    return { pA: sigmoid(gap / this.temperature), gap, readings };
  }

  private lookup(name: string, field: string): Check {
    const check = this.library.get(name);
    if (check) return check;
    const hint = name === 'fluency' ? ' (fluency needs a reference model)' : '';
    throw new InputError(`unknown check "${name}"${hint}; known: ${[...this.library.keys()].join(', ')}`,
      { field });
  }
}

/** Builds an embedded judge; see EmbeddedJudgeOptions for the defaults. */
export function createEmbeddedJudge(options: EmbeddedJudgeOptions): EmbeddedJudge {
  return new EmbeddedJudge(options);
}

function describe(principle: string, readings: SignalReading[]): string {
  const top = readings
    .slice()
    .sort((x, y) => Math.abs(y.gap * y.weight) - Math.abs(x.gap * x.weight))
    .slice(0, 3)
    .map((r) => `${r.name} A=${r.scoreA.toFixed(3)} B=${r.scoreB.toFixed(3)} (${favours(r.gap)})`);
  return `${principle}: ${top.join(', ')}`;
}

function favours(gap: number): string {
  if (Math.abs(gap) < 1e-9) return 'even';
  return gap > 0 ? 'favours A' : 'favours B';
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}
