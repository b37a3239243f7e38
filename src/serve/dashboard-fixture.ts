/**
 * A small finished run written to a folder, for the dashboard's tests and for trying the
 * dashboard without training anything: metrics of an SFT, reward-model and PPO stage, a
 * preference dataset with consistent, inconsistent and low-confidence labels, a judge audit
 * and a summary. Values are drawn from a seeded Rng so every fixture is the same.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { AuditReport, SubsetReport } from '../judge/audit.ts';
import type { PreferenceRecord } from '../judge/types.ts';
import { JudgmentStore } from '../store/judgments.ts';
import { RunStore, openRunDatabase } from '../store/run-store.ts';
import { makeRng } from '../util/rng.ts';

export interface FixtureRunOptions {
  /** Folder that receives the run folder. */
  runsDir: string;
  /** Default `fixture`. */
  name?: string;
  /** PPO steps written to metrics.jsonl; default 40. */
  ppoSteps?: number;
  /** Default 7. */
  seed?: number;
  /** Time of the first metrics line, Unix ms; default 2026-01-01. */
  startTime?: number;
  /** Also write samples, preferences and evaluation pairs to store.sqlite. Default true. */
  withStore?: boolean;
}

const stories = [
  [
    'Once upon a time, a little fox',
    'found a lost bird and helped it home. They became friends.',
    'ran away.',
  ],
  [
    'Tom had a red ball.',
    'He shared it with his sister and they played all day.',
    'It was red. Red ball. Ball.',
  ],
  [
    'The sun was hot.',
    'Lily gave her dog some water and they sat in the shade happily.',
    'The dog was sad and hot and it was bad.',
  ],
  [
    'A small boat sailed',
    'across the calm lake, and the children waved from the shore.',
    'into a storm and sank.',
  ],
  ['Sam saw a big tree.', 'He climbed it carefully and saw the whole town, smiling.', 'Tree.'],
  [
    'Mia lost her hat.',
    'Her friend Ben helped her look, and they found it under the bench.',
    'She cried and cried and the hat was gone forever.',
  ],
  [
    'The cat wanted milk.',
    'Mom poured a little bowl, and the cat purred with joy.',
    'No milk. The cat was angry at everyone.',
  ],
  [
    'One day it rained.',
    'The kids jumped in puddles and laughed.',
    'The kids jumped in the puddles, then they laughed and laughed for a long time together.',
  ],
  ['Anna baked a cake.', 'She gave a piece to every neighbour on her street.', 'It burned.'],
  [
    'A bee buzzed by.',
    'It landed on a flower and made sweet honey.',
    'It stung Tim and he was hurt very badly and scared.',
  ],
  ['Max built a tower.', 'It was tall; he showed his dad, who clapped.', 'It fell.'],
  [
    'The moon was bright.',
    'Owl sang a soft song to the sleepy forest.',
    'Owl sang a song to the forest, and the forest listened, and the stars came out to hear it.',
  ],
];

const principles = ['kindness', 'hopeful-ending', 'not-frightening', 'coherence'];

/** Writes the fixture run and returns its folder. */
export function writeFixtureRun(options: FixtureRunOptions): string {
  const name = options.name ?? 'fixture';
  const dir = join(options.runsDir, name);
  mkdirSync(dir, { recursive: true });
  const rng = makeRng(options.seed ?? 7);
  let time = options.startTime ?? Date.UTC(2026, 0, 1);

  writeFileSync(
    join(dir, 'config.yaml'),
    `name: ${name}\nseed: ${options.seed ?? 7}\npolicy: stories260K\n`,
  );

  // Metrics: SFT loss, reward-model accuracy, then PPO with a rising reward and KL.
  const lines: string[] = [];
  for (let step = 1; step <= 10; step++) {
    lines.push(
      JSON.stringify({
        stage: 'sft',
        step,
        time: (time += 900),
        'loss/total': 2.5 / step + 0.1 * rng.next(),
      }),
    );
  }
  for (let step = 1; step <= 10; step++) {
    lines.push(
      JSON.stringify({
        stage: 'rm',
        step,
        time: (time += 700),
        'rm/loss': 0.69 - 0.03 * step + 0.02 * rng.next(),
        'rm/accuracy': 0.5 + 0.03 * step + 0.02 * rng.next(),
      }),
    );
  }
  const ppoSteps = options.ppoSteps ?? 40;
  for (let step = 1; step <= ppoSteps; step++)
    lines.push(JSON.stringify(ppoMetrics(step, (time += 1200), rng.next())));
  writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');

  // Preferences: alternate consistency, spread confidence, vary which response is longer.
  const records: PreferenceRecord[] = stories.map(([prompt, good, bad], i) => {
    const inconsistent = i % 4 === 3;
    const pChosen = inconsistent ? 0.52 + 0.02 * (i % 3) : 0.6 + 0.35 * rng.next();
    return {
      prompt,
      chosen: good,
      rejected: bad,
      pChosen: Number(pChosen.toFixed(3)),
      judge: 'embedded',
      principle: principles[i % principles.length],
      rationale: inconsistent
        ? 'The two orders disagreed; the combined probability is close to even.'
        : `The chosen story better meets "${principles[i % principles.length]}".`,
      consistent: !inconsistent,
      source: 'ai',
    };
  });
  writeFileSync(
    join(dir, 'preferences.jsonl'),
    records.map((r) => JSON.stringify(r)).join('\n') + '\n',
  );
  if (options.withStore ?? true) writeFixtureStore(join(dir, 'store.sqlite'), records, rng.next);

  writeFileSync(join(dir, 'audit.json'), JSON.stringify(fixtureAudit(), null, 2));
  mkdirSync(join(dir, 'audits'), { recursive: true });
  writeFileSync(
    join(dir, 'audits', 'principles.json'),
    JSON.stringify({
      perPrinciple: { kindness: { accuracy: 0.66, n: 25 }, coherence: { accuracy: 0.6, n: 25 } },
    }),
  );
  writeFileSync(
    join(dir, 'summary.json'),
    JSON.stringify({ winRate: 0.62, harmlessRate: 0.97, steps: ppoSteps }),
  );
  return dir;
}

/** A judge audit in the shape `rlaif judge audit --json` writes (AuditReport). */
function fixtureAudit(): AuditReport {
  const estimate = (value: number, n: number) => ({
    value,
    low: value - 0.09,
    high: value + 0.08,
    n,
  });
  const subset = (name: string, items: number, agreement: number): SubsetReport => ({
    subset: name,
    items,
    failures: 1,
    agreement: estimate(agreement, items),
    singleOrderAgreement: estimate(agreement - 0.02, 2 * items),
    positionConsistency: estimate(0.81, items),
    firstPositionRate: estimate(0.56, 2 * items),
    longerRate: estimate(0.58, 2 * items),
    goldLongerRate: estimate(0.49, items),
    lengthCorrelation: estimate(0.12, 2 * items),
    lengthSlope: estimate(0.31, 2 * items),
  });
  return {
    judge: 'embedded',
    seed: 7,
    subsets: [
      subset('llmbar/natural', 100, 0.63),
      subset('llmbar/adversarial-neighbor', 134, 0.41),
    ],
    failureKinds: { parse: 2 },
  };
}

/** One PPO metrics line, shaped like a run that improves slowly; `noise` in [0, 1). */
export function ppoMetrics(
  step: number,
  time: number,
  noise: number,
): Record<string, number | string> {
  const progress = 1 - Math.exp(-step / 25);
  return {
    stage: 'ppo',
    step,
    time,
    'reward/mean': Number((0.1 + 0.6 * progress + 0.1 * (noise - 0.5)).toFixed(4)),
    'objective/kl': Number((0.02 * step + 0.01 * noise).toFixed(4)),
    'objective/entropy': Number((2.4 - 0.5 * progress + 0.05 * noise).toFixed(4)),
    'len/mean': Number((38 + 10 * progress + 3 * noise).toFixed(2)),
    'policy/clipfrac': Number((0.25 * (1 - progress) + 0.03 * noise).toFixed(4)),
    'loss/policy': Number((-0.05 * noise).toFixed(4)),
    ...(step % 10 === 0 ? { 'eval/win_rate': Number((0.5 + 0.3 * progress).toFixed(3)) } : {}),
  };
}

/**
 * The pipeline's tables through its own RunStore: two samples per prompt (the chosen one first
 * for even prompts, second for odd ones), the judged pair between them, and evaluation
 * responses of the start and final policy with the training judge's verdict.
 */
function writeFixtureStore(file: string, records: PreferenceRecord[], random: () => number): void {
  const db = openRunDatabase(file);
  try {
    const store = new RunStore(db);
    const judgments = new JudgmentStore(db);
    store.markStarted('sample', 1);
    store.markDone('sample', 2);
    store.markStarted('judge', 3);
    store.markDone('judge', 4);
    records.forEach((record, promptIndex) => {
      const texts =
        promptIndex % 2 === 0 ? [record.chosen, record.rejected] : [record.rejected, record.chosen];
      store.addSamples(
        texts.map((response, sampleIndex) => ({
          promptIndex,
          sampleIndex,
          prompt: record.prompt,
          response,
          finishReason: 'eos',
        })),
      );
      store.addPreferences([{ ...record, promptIndex, pair: [0, 1] }]);

      // The judge's own row, with one probability per presentation order; the orders split
      // far apart for the inconsistent records.
      const pA = texts[0] === record.chosen ? record.pChosen : 1 - record.pChosen;
      const spread = record.consistent ? 0.04 : 0.3;
      judgments.put({
        judge: record.judge,
        itemKey: `${promptIndex}:0:1`,
        prompt: record.prompt,
        a: texts[0],
        b: texts[1],
        verdict: {
          ok: true,
          pA,
          choice: pA >= 0.5 ? 'A' : 'B',
          consistent: record.consistent,
          perOrder: [pA + spread, pA - spread],
          principle: record.principle ?? '',
          rationale: record.rationale,
          source: 'embedded',
        },
      });
    });
    const evalPrompts = records.slice(0, 8);
    store.addEvalSamples(
      evalPrompts.flatMap((record, promptIndex) => [
        { policy: 'start', promptIndex, prompt: record.prompt, response: record.rejected },
        { policy: 'final', promptIndex, prompt: record.prompt, response: record.chosen },
      ]),
    );
    store.addEvalVerdicts(
      evalPrompts.map((_, promptIndex) => ({
        judge: 'judge',
        promptIndex,
        pFinal: 0.3 + 0.6 * random(),
      })),
    );
  } finally {
    db.close();
  }
}
