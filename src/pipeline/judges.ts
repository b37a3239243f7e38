/**
 * Builds the run's judges from its config: the training judge (embedded by default, or an LLM
 * judge over an HTTP or GGUF backend) and the held-out evaluator, which reads different
 * signals from the default training judge (VADER and repetition instead of wink-nlp sentiment,
 * lexicons, readability and topic overlap).
 */
import { checkNames } from '../judge/checks.ts';
import { loadConstitution } from '../judge/constitution.ts';
import { createEvaluatorJudge } from '../judge/default-judges.ts';
import { EmbeddedJudge } from '../judge/embedded.ts';
import type { Constitution, PairwiseJudge } from '../judge/types.ts';
import type { CausalLM } from '../model/types.ts';
import type { LoadedConfig } from './config.ts';
import type { LlmJudgeOptions } from './llm-judge.ts';

export interface TrainingJudge {
  judge: PairwiseJudge;
  /** The judge asks both orders itself. */
  asksBoth: boolean;
  constitution: Constitution;
  /** The embedded judge, when that is the backend (direct RLAIF scores with it). */
  embedded?: EmbeddedJudge;
}

/** Reads the constitution, checking every `check` names a known one (fails before any work). */
export function readConstitution(loaded: LoadedConfig): Constitution {
  return loadConstitution(loaded.paths.constitution, { knownChecks: checkNames });
}

export async function buildTrainingJudge(
  loaded: LoadedConfig,
  reference: () => Promise<CausalLM>,
  llm: LlmJudgeOptions = {},
): Promise<TrainingJudge> {
  const { config } = loaded;
  const constitution = readConstitution(loaded);
  if (config.judge.backend === 'embedded') {
    const needsModel = constitution.principles.some((p) => p.check === 'fluency');
    const embedded = new EmbeddedJudge({
      name: `embedded:${constitution.name}`,
      constitution,
      mode: config.judge.principles,
      seed: config.seed,
      temperature: config.judge.temperature,
      model: needsModel ? await reference() : undefined,
    });
    return { judge: embedded, asksBoth: false, constitution, embedded };
  }
  const { buildLlmJudge } = await import('./llm-judge.ts');
  return { judge: await buildLlmJudge(loaded, constitution, llm), asksBoth: true, constitution };
}

export function buildEvaluator(): PairwiseJudge {
  return createEvaluatorJudge();
}
