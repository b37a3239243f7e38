/**
 * Stage 2: judge pairs of the sampled responses in both orders and store one preference per
 * pair. Pairs are fixed by the config (K/2 disjoint pairs per prompt by default). The judges'
 * labelling job does the work: each verdict is stored as soon as it exists and a pair already
 * judged is never asked again, so a killed run ends with the same preferences as an
 * uninterrupted one. The preferences then go to the run's table and to preferences.jsonl.
 */
import { renameSync, writeFileSync } from 'node:fs';

import { labelPairs, toPreferenceRecord } from '../judge/label.ts';
import type { CandidatePair } from '../judge/candidates.ts';
import type { PairwiseJudge } from '../judge/types.ts';
import { JudgmentStore } from '../store/judgments.ts';
import type { SampleRow, StoredPreference } from '../store/run-store.ts';
import { RlaifError } from '../util/errors.ts';
import { BothOrdersJudge } from './both-orders.ts';
import { throwIfStopped, type RunContext } from './run-context.ts';
import type { Stage } from './runner.ts';

export interface JudgeStageOptions {
  judge: () => Promise<PairwiseJudge>;
  /** The judge asks both orders itself (LLM judges built with bothOrders). */
  judgeAsksBoth: boolean;
}

/** Sample-index pairs judged per prompt. */
export function pairsFor(k: number, pairsPerPrompt?: number): [number, number][] {
  const disjoint: [number, number][] = [];
  for (let i = 0; i + 1 < k; i += 2) disjoint.push([i, i + 1]);
  if (!pairsPerPrompt || pairsPerPrompt <= disjoint.length) {
    return disjoint.slice(0, pairsPerPrompt ?? disjoint.length);
  }
  const all: [number, number][] = [...disjoint];
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      if (!all.some(([a, b]) => a === i && b === j)) all.push([i, j]);
    }
  }
  return all.slice(0, pairsPerPrompt);
}

const pairKey = (promptIndex: number, pair: [number, number]) => `${promptIndex}:${pair[0]}:${pair[1]}`;

export function judgeStage(options: JudgeStageOptions): Stage {
  return {
    name: 'judge',
    async run(context: RunContext) {
      const { config, store } = context;
      const byPrompt = new Map<number, SampleRow[]>();
      for (const row of store.samples()) {
        const rows = byPrompt.get(row.promptIndex) ?? [];
        rows[row.sampleIndex] = row;
        byPrompt.set(row.promptIndex, rows);
      }
      const pairs = pairsFor(config.sampling.k, config.judge.pairsPerPrompt);
      const work: { promptIndex: number; pair: [number, number]; candidate: CandidatePair }[] = [];
      for (const promptIndex of [...byPrompt.keys()].sort((a, b) => a - b)) {
        const rows = byPrompt.get(promptIndex)!;
        for (const pair of pairs) {
          const candidate = {
            key: pairKey(promptIndex, pair),
            prompt: rows[pair[0]].prompt,
            a: rows[pair[0]].response,
            b: rows[pair[1]].response,
          };
          work.push({ promptIndex, pair, candidate });
        }
      }

      const judge = new BothOrdersJudge(await options.judge(), options.judgeAsksBoth);
      const judgments = new JudgmentStore(context.db, context.clock);
      const labelled = await labelPairs({
        judge,
        pairs: work.map((w) => w.candidate),
        store: judgments,
        concurrency: config.judge.concurrency,
        progress: !context.quiet,
        logger: context.logger,
        signal: context.signal,
      });
      throwIfStopped(context, 'judging');

      const preferences: StoredPreference[] = [];
      for (const { promptIndex, pair, candidate } of work) {
        const stored = judgments.get(judge.id, candidate.key);
        if (!stored) continue;
        preferences.push({ promptIndex, pair, ...toPreferenceRecord(judge.id, candidate, stored.verdict) });
      }
      store.addPreferences(preferences);
      exportPreferences(context.files.preferences, store.preferences());
      if (labelled.failures.length > 0) {
        throw new RlaifError(`${labelled.failures.length} comparisons failed (see the log); ` +
          'run the same command again to retry them');
      }
      return {
        preferences: preferences.length,
        inconsistent: preferences.filter((p) => p.consistent === false).length,
      };
    },
  };
}

/** Writes the preference dataset as JSONL through a temporary file. */
export function exportPreferences(file: string, preferences: StoredPreference[]): void {
  const lines = preferences.map(({ promptIndex: _i, pair: _p, ...record }) => JSON.stringify(record));
  const partial = `${file}.partial`;
  writeFileSync(partial, lines.join('\n') + (lines.length > 0 ? '\n' : ''));
  renameSync(partial, file);
}
