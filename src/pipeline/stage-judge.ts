/**
 * Stage 2: judge pairs of the sampled responses in both orders and store one preference per
 * pair. Pairs are fixed by the config (K/2 disjoint pairs per prompt by default), each is
 * stored as soon as its verdict is in, and a pair already in the store is never asked again,
 * so a killed run ends with the same preferences as an uninterrupted one. Afterwards the
 * preference dataset is exported to preferences.jsonl.
 */
import { renameSync, writeFileSync } from 'node:fs';

import type { PairwiseJudge } from '../judge/types.ts';
import type { SampleRow, StoredPreference } from '../store/run-store.ts';
import { RlaifError } from '../util/errors.ts';
import { startProgress } from '../util/progress.ts';
import { compareBothOrders } from './both-orders.ts';
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
      const work: { promptIndex: number; pair: [number, number] }[] = [];
      for (const promptIndex of [...byPrompt.keys()].sort((a, b) => a - b)) {
        for (const pair of pairs) {
          if (!store.hasPreference(promptIndex, pair)) work.push({ promptIndex, pair });
        }
      }
      const total = byPrompt.size * pairs.length;
      const progress = startProgress({ label: 'judge', total, silent: context.quiet });
      progress.tick(total - work.length);
      const judge = await options.judge();

      let failures = 0;
      let inconsistent = 0;
      const concurrency = config.judge.concurrency;
      for (let start = 0; start < work.length; start += concurrency) {
        throwIfStopped(context, 'judging');
        const slice = work.slice(start, start + concurrency);
        const verdicts = await Promise.all(slice.map(async ({ promptIndex, pair }) => {
          const rows = byPrompt.get(promptIndex)!;
          const a = rows[pair[0]];
          const b = rows[pair[1]];
          const result = await compareBothOrders(judge, { prompt: a.prompt, a: a.response, b: b.response }, {
            key: `${promptIndex}:${pair[0]}:${pair[1]}`,
            judgeAsksBoth: options.judgeAsksBoth,
            signal: context.signal,
          });
          if (!result.ok) {
            context.logger.warn({ promptIndex, pair, kind: result.kind }, result.message);
            failures++;
            return undefined;
          }
          if (result.consistent === false) inconsistent++;
          const aWins = result.pA >= 0.5;
          const record: StoredPreference = {
            promptIndex,
            pair,
            prompt: a.prompt,
            chosen: aWins ? a.response : b.response,
            rejected: aWins ? b.response : a.response,
            pChosen: aWins ? result.pA : 1 - result.pA,
            judge: judge.id,
            principle: result.principle,
            rationale: result.rationale,
            consistent: result.consistent,
            source: 'ai',
          };
          return record;
        }));
        // Stored per slice: a kill loses at most the verdicts in flight.
        store.addPreferences(verdicts.filter((v): v is StoredPreference => v !== undefined));
        progress.tick(slice.length, { failed: failures });
      }
      progress.stop();

      const preferences = store.preferences();
      exportPreferences(context.files.preferences, preferences);
      if (failures > 0) {
        throw new RlaifError(`${failures} comparisons failed (see the log); run again to retry them`);
      }
      return { preferences: preferences.length, inconsistent };
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
