/**
 * Stage 1: sample K responses per training prompt from the starting policy. Prompts go in
 * fixed chunks, each with a seed derived from the run seed and the chunk's index, and a chunk's
 * rows are stored in one transaction: a resumed run redoes at most one chunk and produces the
 * very same samples it would have without the interruption.
 */
import type { CausalLM } from '../model/types.ts';
import { startProgress } from '../util/progress.ts';
import type { PromptLine } from './prompts.ts';
import { throwIfStopped, type RunContext } from './run-context.ts';
import type { Stage } from './runner.ts';

export interface SampleStageOptions {
  prompts: PromptLine[];
  policy: () => Promise<CausalLM>;
  /** Prompts per generate call (times K sequences). Default 16. */
  chunkPrompts?: number;
}

export function sampleStage(options: SampleStageOptions): Stage {
  return {
    name: 'sample',
    async run(context: RunContext) {
      const { k, maxNewTokens, temperature, topK, topP } = context.config.sampling;
      const chunkPrompts = options.chunkPrompts ?? 16;
      const prompts = options.prompts;
      const done = context.store.sampledPrompts(k);
      const chunks = Math.ceil(prompts.length / chunkPrompts);
      const progress = startProgress({
        label: 'sample', total: prompts.length, silent: context.quiet, start: done.size,
      });
      const policy = await options.policy();

      for (let chunk = 0; chunk < chunks; chunk++) {
        const indices: number[] = [];
        for (let i = chunk * chunkPrompts; i < Math.min(prompts.length, (chunk + 1) * chunkPrompts); i++) {
          if (!done.has(i)) indices.push(i);
        }
        if (indices.length === 0) continue;
        throwIfStopped(context, 'sampling');

        // Each prompt K times in a row: rows [i*K, (i+1)*K) belong to indices[i].
        const ids = indices.flatMap((i) => {
          const tokens = policy.tokenizer.encode(prompts[i].prompt, { bos: true });
          return Array.from({ length: k }, () => tokens);
        });
        const results = await policy.generate(ids, {
          maxNewTokens,
          temperature,
          topK,
          topP,
          seed: context.config.seed * 100_003 + chunk,
        });
        context.store.addSamples(results.map((result, row) => {
          const promptIndex = indices[Math.floor(row / k)];
          return {
            promptIndex,
            sampleIndex: row % k,
            prompt: prompts[promptIndex].prompt,
            response: result.text,
            finishReason: result.finishReason,
          };
        }));
        progress.tick(indices.length);
      }
      progress.stop();
      return { prompts: prompts.length, samples: context.store.samples().length };
    },
  };
}
