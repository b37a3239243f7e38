import { describe, expect, it } from 'vitest';

import { summarizeEvaluation, terminalSummary } from './evaluate.ts';
import { renderReport, selectPreferences, type ReportPreference } from './report.ts';

const summary = summarizeEvaluation({
  startResponses: ['Tom was sad. He cried.', 'The dog ran away and got lost.'],
  finalResponses: ['Tom was happy. He shared his toys.', 'The dog found a friend and smiled.'],
  evaluatorP: [0.9, 0.7],
  judgeP: [0.8, 0.4],
  evaluatorConsistency: 1,
  klPerResponse: [1, 3],
  klMax: 8,
  minWinRate: 0.7,
});

describe('evaluation summary', () => {
  it('puts the figures and alarms together', () => {
    expect(summary.evaluator.rate).toBe(1);
    expect(summary.trainingJudge.rate).toBe(0.5);
    expect(summary.judgeEvaluatorGap).toBe(-0.5);
    expect(summary.kl).toEqual({ mean: 2, max: 3, target: 8, withinTarget: true });
    // 5 + 7 words at the start, 7 + 7 at the end.
    expect(summary.lengthRatio).toBeCloseTo(14 / 12, 12);
    expect(summary.alarms).toEqual([]);
    expect(summary.success).toBe(true);
    expect(terminalSummary(summary)).toContain('final policy preferred on 100.0% of 2 held-out prompts');
  });

  it('raises the reward-hacking and KL alarms', () => {
    const hacked = summarizeEvaluation({
      startResponses: ['a b c d'], finalResponses: ['a b c e'], evaluatorP: [0.2], judgeP: [0.9],
      klPerResponse: [12], klMax: 8, minWinRate: 0.7,
    });
    expect(hacked.alarms.join('\n')).toMatch(/KL to the reference 12\.00 nats exceeds/);
    expect(hacked.alarms.join('\n')).toMatch(/reward hacking\?/);
    expect(hacked.success).toBe(false);
  });

  it('ends the terminal summary with whether the run met its targets', () => {
    expect(terminalSummary(summary).split('\n').at(-1))
      .toBe('result: meets targets (held-out win rate 100.0% >= 70.0%)');
    const missed = summarizeEvaluation({
      startResponses: ['a b c d', 'e f g h'], finalResponses: ['a b c e', 'e f g i'],
      evaluatorP: [0.9, 0.2], judgeP: [0.9, 0.9], klPerResponse: [12, 12], klMax: 8, minWinRate: 0.7,
    });
    expect(terminalSummary(missed).split('\n').at(-1)).toBe('result: missed targets: held-out ' +
      'win rate 50.0% is below the 70.0% target; KL 12.00 nats is above the 8 target');
  });
});

describe('report', () => {
  const html = renderReport({
    title: 'rlaif run: test',
    finishedAt: '2026-01-01T00:00:00.000Z',
    settings: { algorithm: 'ppo' },
    summary,
    metrics: [1, 2, 3].map((step) => ({ stage: 'ppo', step, time: step, 'score/mean': step / 10, 'objective/kl': step })),
    samples: [{ prompt: 'Tom <b>had</b> a box.', start: 'x', final: 'y', evaluatorP: 0.9, principle: 'kind-characters', rationale: 'kindness A=1 B=0' }],
    preferences: [],
  });

  it('is self-contained: the chart library inline, nothing fetched', () => {
    expect(html).toContain('var uPlot=function');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?https?:/i);
    expect(html).toContain('"names":["score/mean"]');
  });

  it('escapes text from models and prompts', () => {
    expect(html).toContain('Tom &lt;b&gt;had&lt;/b&gt; a box.');
    expect(html).toContain('kind-characters');
  });

  it('merges the training and validation lines of one step and shows sparse series as points', () => {
    const rm = renderReport({
      title: 't', finishedAt: '', settings: {}, samples: [], preferences: [],
      metrics: [
        ...[1, 2, 3, 4].map((step) => ({ stage: 'reward-model', step, time: step, 'rm/loss': step / 10 })),
        { stage: 'reward-model', step: 4, time: 5, 'rm/val_accuracy': 0.75 },
      ],
    });
    expect(rm).toContain('"steps":[1,2,3,4],"names":["rm/loss","rm/val_accuracy"]');
    expect(rm).toContain('"values":[[0.1,0.2,0.3,0.4],[null,null,null,0.75]],"sparse":[false,true]');
  });
});

describe('preferences shown in the report', () => {
  // Prompt 0 has samples 0, 1, 2 (texts s0, s1, s2); the pairs are (0,1), (2,0), (1,2).
  const pref = (
    promptIndex: number, pair: [number, number], chosen: string, rejected: string, pChosen: number,
  ): ReportPreference => ({
    prompt: `p${promptIndex}`, chosen, rejected, pChosen, promptIndex, pair, rationale: 'A>B',
  });
  const rows = [
    pref(0, [0, 1], 's0', 's1', 0.9),
    pref(0, [2, 0], 's0', 's2', 0.6),
    pref(0, [1, 2], 's1', 's2', 0.7),
    pref(1, [0, 1], 't1', 't0', 0.8),
    pref(1, [2, 3], 't2', 't3', 0.55),
  ];

  it('takes one pair per opening first, most and least confident in turn', () => {
    const shown = selectPreferences(rows, 4);
    expect(shown.map((p) => [p.prompt, p.pChosen])).toEqual([
      ['p0', 0.9], ['p1', 0.55], ['p0', 0.6], ['p1', 0.8],
    ]);
  });

  it('says which side the judge saw as A', () => {
    const shown = selectPreferences(rows, 5);
    const aIsChosen = Object.fromEntries(shown.map((p) => [`${p.prompt}:${p.pair}`, p.aIsChosen]));
    // s2 is the only text common to pairs (2,0) and (1,2), so A = sample 2 = rejected there.
    expect(aIsChosen).toEqual({
      'p0:0,1': true, 'p0:2,0': false, 'p0:1,2': true,
      // Disjoint pairs (the default pairing) say nothing about which text is which sample.
      'p1:0,1': undefined, 'p1:2,3': undefined,
    });
    const html = renderReport({
      title: 't', finishedAt: '', settings: {}, metrics: [], samples: [], preferences: rows,
    });
    expect(html).toContain('in the rationale: <b>A = rejected</b>, B = chosen');
    expect(html).toContain('A and B are the order the judge saw');
  });
});
