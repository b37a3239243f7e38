/**
 * Stage: evaluate the final policy against the starting policy on held-out prompts. Both
 * write one response per prompt (same seed); the held-out evaluator and the training judge
 * compare each pair in both orders; KL to the reference is measured on separate samples at
 * temperature 1, where the sampled log-ratio is an unbiased estimate. Rows go to the store as
 * they are made, the figures to summary.json.
 */
import { writeFileSync } from 'node:fs';

import { summarizeEvaluation, type EvaluationSummary } from '../eval/evaluate.ts';
import type { PairwiseJudge } from '../judge/types.ts';
import type { CausalLM } from '../model/types.ts';
import type { EvalSampleRow, EvalVerdictRow } from '../store/run-store.ts';
import { startProgress } from '../util/progress.ts';
import { compareBothOrders } from './both-orders.ts';
import type { PromptLine } from './prompts.ts';
import { throwIfStopped, type RunContext } from './run-context.ts';
import type { Stage } from './runner.ts';

export interface EvalStageOptions {
  prompts: PromptLine[];
  startPolicy: () => Promise<CausalLM>;
  finalPolicy: () => Promise<CausalLM>;
  reference: () => Promise<CausalLM>;
  evaluator: () => Promise<PairwiseJudge>;
  trainingJudge: () => Promise<{ judge: PairwiseJudge; asksBoth: boolean }>;
}

const batchSize = 32;

export function evalStage(options: EvalStageOptions): Stage {
  return {
    name: 'evaluate',
    async run(context: RunContext) {
      const { config, store } = context;
      const maxNewTokens = config.eval.maxNewTokens ?? config.rl.maxNewTokens ?? config.sampling.maxNewTokens;
      const prompts = options.prompts;
      const seed = config.seed * 7_919 + 17;

      // 1. Responses of both policies, and temperature-1 samples of the final one for KL.
      const generate = async (policyName: string, model: CausalLM, temperature: number, withKl: boolean) => {
        if (store.evalSamples(policyName).length === prompts.length) return;
        const reference = withKl ? await options.reference() : undefined;
        const progress = startProgress({ label: `eval ${policyName}`, total: prompts.length, silent: context.quiet });
        for (let start = 0; start < prompts.length; start += batchSize) {
          throwIfStopped(context, 'evaluation');
          const slice = prompts.slice(start, start + batchSize);
          const ids = slice.map((p) => model.tokenizer.encode(p.prompt, { bos: true }));
          const results = await model.generate(ids, { maxNewTokens, temperature, seed: seed + start });
          let kl: number[] | undefined;
          if (reference) {
            const continuations = results.map((r) => r.tokens);
            const [own, ref] = [
              await model.scoreContinuations(ids, continuations),
              await reference.scoreContinuations(ids, continuations),
            ];
            kl = own.map((row, i) => row.reduce((sum, lp, t) => sum + lp - ref[i][t], 0));
          }
          const rows: EvalSampleRow[] = results.map((r, i) => ({
            policy: policyName,
            promptIndex: start + i,
            prompt: slice[i].prompt,
            response: r.text,
            klToRef: kl?.[i],
          }));
          store.addEvalSamples(rows);
          progress.tick(slice.length);
        }
        progress.stop();
      };
      const temperature = config.eval.temperature;
      await generate('start', await options.startPolicy(), temperature, false);
      const final = await options.finalPolicy();
      await generate('final', final, temperature, false);
      await generate('final-t1', final, 1, true);

      // 2. Verdicts of the held-out evaluator and the training judge, both orders each.
      const start = store.evalSamples('start');
      const finals = store.evalSamples('final');
      const judgeAll = async (name: string, judge: PairwiseJudge, asksBoth: boolean) => {
        const done = new Set(store.evalVerdicts(name).map((v) => v.promptIndex));
        const progress = startProgress({
          label: `eval ${name}`, total: prompts.length, silent: context.quiet, start: done.size,
        });
        for (let i = 0; i < prompts.length; i++) {
          if (done.has(i)) continue;
          throwIfStopped(context, 'evaluation');
          const result = await compareBothOrders(
            judge,
            { prompt: prompts[i].prompt, a: finals[i].response, b: start[i].response },
            { key: `eval:${i}`, judgeAsksBoth: asksBoth, signal: context.signal },
          );
          if (!result.ok) {
            context.logger.warn({ prompt: i, judge: name }, result.message);
            continue;
          }
          const row: EvalVerdictRow = {
            judge: name,
            promptIndex: i,
            pFinal: result.pA,
            consistent: result.consistent,
            principle: result.principle,
            rationale: result.rationale,
          };
          store.addEvalVerdicts([row]);
          progress.tick();
        }
        progress.stop();
      };
      await judgeAll('evaluator', await options.evaluator(), false);
      const training = await options.trainingJudge();
      await judgeAll('judge', training.judge, training.asksBoth);

      // 3. Figures.
      const evaluatorRows = store.evalVerdicts('evaluator');
      const summary: EvaluationSummary = summarizeEvaluation({
        startResponses: start.map((r) => r.response),
        finalResponses: finals.map((r) => r.response),
        evaluatorP: evaluatorRows.map((v) => v.pFinal),
        judgeP: store.evalVerdicts('judge').map((v) => v.pFinal),
        evaluatorConsistency: evaluatorRows.length
          ? evaluatorRows.filter((v) => v.consistent).length / evaluatorRows.length
          : undefined,
        klPerResponse: store.evalSamples('final-t1').map((r) => r.klToRef ?? 0),
        klMax: config.eval.klMax,
        minWinRate: config.eval.minWinRate,
      });
      writeFileSync(context.files.summary, JSON.stringify(summary, null, 2) + '\n');
      context.metrics.write('evaluate', config.rl.steps, {
        'eval/win_rate': summary.evaluator.rate,
        'eval/win_rate_low': summary.evaluator.low,
        'eval/win_rate_high': summary.evaluator.high,
        'eval/judge_win_rate': summary.trainingJudge.rate,
        'eval/kl': summary.kl.mean,
      });
      return { winRate: summary.evaluator.rate, kl: summary.kl.mean };
    },
  };
}
