/**
 * The default run's constitution (what a story for young children should be) and the two
 * embedded judges built from it: the training judge, and a held-out evaluator that reads
 * different signals (VADER, repetition) so that gains seen only by the training judge show up.
 */
import type { CausalLM } from '../model/types.ts';
import { EmbeddedJudge } from './embedded.ts';
import type { Constitution } from './types.ts';

export interface DefaultConstitutionOptions {
  /** Adds a fluency principle, judged by a reference model's log-probs. Default false. */
  withFluency?: boolean;
}

export function childrenStoriesConstitution(options: DefaultConstitutionOptions = {}): Constitution {
  const principles = [
    {
      id: 'kindness',
      text: 'Choose the story in which the characters are kind to each other: they help, share '
        + 'and care, and nobody is cruel or mean.',
      weight: 1,
      check: 'kindness',
    },
    {
      id: 'hopeful_ending',
      text: 'Choose the story that ends on a hopeful, happy note.',
      weight: 1,
      check: 'hopeful_ending',
    },
    {
      id: 'not_frightening',
      text: 'Choose the story with nothing violent, cruel or frightening for a young child.',
      weight: 1,
      check: 'not_frightening',
    },
    {
      id: 'simple_language',
      text: 'Choose the story told in short, simple sentences that a young child can follow.',
      weight: 1,
      check: 'simple_language',
    },
    {
      id: 'on_topic',
      text: 'Choose the story that continues its opening and stays on its topic.',
      weight: 1,
      check: 'on_topic',
    },
  ];
  if (options.withFluency) {
    principles.push({
      id: 'fluency',
      text: 'Choose the story whose sentences read most naturally and hang together.',
      weight: 1,
      check: 'fluency',
    });
  }
  return { name: 'children-stories', principles };
}

/** Weights of the held-out evaluator's signals: none is used by the default training judge. */
export const evaluatorChecks: Readonly<Record<string, number>> = {
  vader_compound: 1,
  vader_ending: 1,
  vader_positive: 0.5,
  no_repetition: 0.5,
};

export interface DefaultJudgeOptions {
  seed?: number;
  /** Reference model: adds the fluency principle. */
  model?: CausalLM;
  /** Default 1. */
  temperature?: number;
}

/** The training judge of the default run: one sampled principle of the stories constitution. */
export function createDefaultJudge(options: DefaultJudgeOptions = {}): EmbeddedJudge {
  return new EmbeddedJudge({
    name: 'embedded:children-stories',
    constitution: childrenStoriesConstitution({ withFluency: options.model !== undefined }),
    model: options.model,
    seed: options.seed ?? 0,
    temperature: options.temperature ?? 1,
  });
}

/** The held-out evaluator: VADER and repetition, all at once, no sampling. */
export function createEvaluatorJudge(options: { temperature?: number } = {}): EmbeddedJudge {
  return new EmbeddedJudge({
    name: 'embedded:evaluator',
    checks: { ...evaluatorChecks },
    temperature: options.temperature ?? 1,
  });
}
