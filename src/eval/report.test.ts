import { describe, expect, it } from 'vitest';

import { summarizeEvaluation, terminalSummary } from './evaluate.ts';
import { renderReport } from './report.ts';

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
});
