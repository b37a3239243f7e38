/**
 * Stage: the report. Reads what the other stages stored (summary.json, metrics.jsonl, the
 * evaluation samples and verdicts, preferences) and writes report.html, a single
 * self-contained file.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

import type { EvaluationSummary } from '../eval/evaluate.ts';
import { renderReport, type ReportPreference, type ReportSample } from '../eval/report.ts';
import { readMetrics } from '../util/metrics.ts';
import type { RunContext } from './run-context.ts';
import type { Stage } from './runner.ts';

/** Samples and preferences shown in the report. */
const shownSamples = 16;
const shownPreferences = 10;

export function buildReportHtml(context: RunContext): string {
  const { store, config, files } = context;
  const summary = existsSync(files.summary)
    ? (JSON.parse(readFileSync(files.summary, 'utf8')) as EvaluationSummary)
    : undefined;
  const start = store.evalSamples('start');
  const final = new Map(store.evalSamples('final').map((r) => [r.promptIndex, r]));
  const evaluator = new Map(store.evalVerdicts('evaluator').map((v) => [v.promptIndex, v]));
  const judge = new Map(store.evalVerdicts('judge').map((v) => [v.promptIndex, v]));
  const samples: ReportSample[] = start.slice(0, shownSamples).map((row) => ({
    prompt: row.prompt,
    start: row.response,
    final: final.get(row.promptIndex)?.response ?? '',
    evaluatorP: evaluator.get(row.promptIndex)?.pFinal,
    judgeP: judge.get(row.promptIndex)?.pFinal,
    principle: judge.get(row.promptIndex)?.principle,
    rationale: judge.get(row.promptIndex)?.rationale,
  }));

  const stageSeconds: Record<string, number> = {};
  for (const stage of store.stages()) {
    if (stage.finishedAt) stageSeconds[stage.name] = (stage.finishedAt - stage.startedAt) / 1000;
  }
  return renderReport({
    title: `rlaif run: ${basename(files.dir)}`,
    finishedAt: new Date(context.clock()).toISOString(),
    settings: {
      policy: config.policy.model,
      judge: config.judge.backend,
      algorithm: config.rl.algorithm,
      steps: config.rl.steps,
      seed: config.seed,
    },
    summary,
    metrics: readMetrics(files.metrics),
    samples,
    preferences: preferencesWithSides(store),
    shownPreferences,
    stageSeconds,
  });
}

/**
 * Every stored preference, with which side the judge saw first: the store keeps the sample
 * indices in the order shown (A, B), so A is the chosen response when sample A's text is it.
 */
function preferencesWithSides(store: RunContext['store']): ReportPreference[] {
  const responses = new Map(store.samples().map((s) => [`${s.promptIndex}/${s.sampleIndex}`, s]));
  return store.preferences().map((p) => {
    const a = responses.get(`${p.promptIndex}/${p.pair[0]}`)?.response;
    return { ...p, aIsChosen: a === undefined ? undefined : a === p.chosen };
  });
}

export function reportStage(): Stage {
  return {
    name: 'report',
    async run(context: RunContext) {
      const partial = `${context.files.report}.partial`;
      writeFileSync(partial, buildReportHtml(context));
      renameSync(partial, context.files.report);
      return { report: context.files.report };
    },
  };
}
