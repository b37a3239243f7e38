/**
 * The dashboard API without a browser: figures from human labels against hand-computed values,
 * the metrics cursor over a file being written, preference filters, the blind-comparison round
 * trip into SQLite, and the refusals (foreign Host, bad run names, stale comparisons).
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HumanLabelStore, type HumanLabel } from '../store/human-labels.ts';
import { makeRng } from '../util/rng.ts';
import { createDashboardApp, identityOf, type DashboardApp } from './dashboard-app.ts';
import { writeFixtureRun } from './dashboard-fixture.ts';
import { queryPreferences, preferenceQuerySchema } from './dashboard-pairs.ts';
import { readMetricsSince, readPreferences } from './dashboard-runs.ts';
import { startDashboard } from './dashboard-server.ts';
import { agreement, winRates } from './dashboard-stats.ts';

function label(
  winner: 'a' | 'b' | 'tie',
  aiProbA: number | null,
  kind: 'judged' | 'policy' = 'judged',
): HumanLabel {
  return {
    id: 0,
    pairId: 'p',
    kind,
    prompt: '',
    responseA: '',
    responseB: '',
    sourceA: kind === 'policy' ? 'final' : 'chosen',
    sourceB: kind === 'policy' ? 'start' : 'rejected',
    winner,
    shownLeft: 'a',
    aiProbA,
    labeler: '',
    createdAt: 0,
  };
}

describe('figures from human labels', () => {
  it('agreement counts decided pairs only, with a Wilson interval', () => {
    const labels = [
      label('a', 0.9),
      label('b', 0.2),
      label('a', 0.7),
      label('a', 0.3),
      label('tie', 0.8),
      label('a', null),
    ];
    const result = agreement(labels);
    expect(result).toMatchObject({ n: 4, agree: 3, rate: 0.75, humanTies: 1, aiTies: 0 });
    // p = 3/4, n = 4, z = 1.96: Wilson bounds computed by hand.
    expect(result.interval.low).toBeCloseTo(0.300642, 5);
    expect(result.interval.high).toBeCloseTo(0.954413, 5);
  });

  it('win rate counts ties as half a win', () => {
    const labels = [
      label('a', null, 'policy'),
      label('a', 0.6, 'policy'),
      label('b', null, 'policy'),
      label('tie', null, 'policy'),
    ];
    const [rate] = winRates(labels);
    expect(rate).toMatchObject({
      policy: 'final',
      opponent: 'start',
      wins: 2,
      losses: 1,
      ties: 1,
      n: 4,
      rate: 0.625,
    });
    expect(rate.interval.low).toBeCloseTo(0.219427, 5);
    expect(rate.interval.high).toBeCloseTo(0.908101, 5);
    expect(winRates([label('a', 0.9)])).toEqual([]);
  });

  it('maps a screen side back to the pair identity', () => {
    expect(identityOf('left', 'a')).toBe('a');
    expect(identityOf('left', 'b')).toBe('b');
    expect(identityOf('right', 'a')).toBe('b');
    expect(identityOf('right', 'b')).toBe('a');
    expect(identityOf('tie', 'b')).toBe('tie');
  });
});

describe('run files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rlaif-dash-files-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads metrics from a byte cursor and leaves a torn line for the next poll', () => {
    const file = join(dir, 'metrics.jsonl');
    const first = '{"stage":"ppo","step":1,"time":5,"reward/mean":0.25}\n';
    writeFileSync(file, first + '{"stage":"ppo","st');
    const page = readMetricsSince(file, 0);
    expect(page.records).toEqual([{ stage: 'ppo', step: 1, time: 5, 'reward/mean': 0.25 }]);
    expect(page.cursor).toBe(Buffer.byteLength(first));

    appendFileSync(file, 'ep":2,"time":6,"reward/mean":0.5,"note":"é"}\n');
    const next = readMetricsSince(file, page.cursor);
    expect(next.records.map((r) => r.step)).toEqual([2]);
    expect(next.records[0].note).toBe('é');
    expect(readMetricsSince(file, next.cursor).records).toEqual([]);

    // A rewritten, shorter file starts over.
    writeFileSync(file, first);
    expect(readMetricsSince(file, next.cursor)).toMatchObject({
      reset: true,
      records: [{ step: 1 }],
    });
  });

  it('filters preferences by consistency, confidence and length', () => {
    const run = writeFixtureRun({ runsDir: dir, name: 'prefs', withStore: false });
    const { records, problems } = readPreferences(join(run, 'preferences.jsonl'));
    expect(problems).toEqual([]);
    const query = (q: Record<string, string>) =>
      queryPreferences(records, preferenceQuerySchema.parse(q));
    expect(query({ consistency: 'inconsistent' }).items.map((r) => r.index)).toEqual([3, 7, 11]);
    expect(query({ maxMargin: '0.05' }).items.map((r) => r.pChosen)).toEqual([0.52, 0.54]);
    const shorter = query({ length: 'shorter' }).items;
    expect(shorter.map((r) => r.index)).toEqual([7, 9, 11]);
    expect(shorter.every((r) => r.chosen.length < r.rejected.length)).toBe(true);
    expect(query({}).longerChosenShare).toBeCloseTo(9 / 12, 10);
  });

  it('reports a bad preference line by file, line and field', () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(
      file,
      '{"prompt":"p","chosen":"a","rejected":"b","pChosen":2,"judge":"j","source":"ai"}\n',
    );
    expect(readPreferences(file).problems[0]).toMatch(/bad\.jsonl:1, field "pChosen"/);
  });
});

describe('dashboard API', () => {
  let dir: string;
  let dashboard: DashboardApp;
  const local = { host: '127.0.0.1:4780' };
  const get = (path: string, headers: Record<string, string> = local) =>
    dashboard.app.request(path, { headers });
  const post = (path: string, body: unknown) =>
    dashboard.app.request(path, {
      method: 'POST',
      headers: { ...local, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rlaif-dash-api-'));
    writeFixtureRun({ runsDir: dir, name: 'run' });
    dashboard = createDashboardApp({ runsDir: dir, webDir: join(dir, 'no-web'), rng: makeRng(1) });
  });
  afterAll(() => {
    dashboard.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses requests for a host other than loopback', async () => {
    expect((await get('/api/runs', { host: 'attacker.example' })).status).toBe(403);
    expect((await get('/api/runs', { host: 'localhost:4780' })).status).toBe(200);
    expect((await get('/api/runs', { host: '127.0.0.2:4780' })).status).toBe(200);
    expect((await get('/api/runs', { host: '127.0.0.1.attacker.example' })).status).toBe(403);
  });

  it('refuses run names that leave the runs folder and names unknown runs', async () => {
    expect((await get('/api/runs/..%2F..%2Fetc/metrics')).status).toBe(400);
    expect((await get('/api/runs/missing')).status).toBe(404);
  });

  it('lists runs with stage status and serves store samples', async () => {
    const runs = (await (await get('/api/runs')).json()) as {
      runs: { name: string; lastStep: number }[];
    };
    expect(runs.runs).toMatchObject([{ name: 'run', lastStep: 40 }]);
    const detail = (await (await get('/api/runs/run')).json()) as {
      stages: { name: string; status: string }[];
    };
    expect(detail.stages.map((s) => `${s.name}:${s.status}`)).toEqual([
      'sample:done',
      'judge:done',
    ]);
    const samples = (await (await get('/api/runs/run/samples?q=puddles')).json()) as {
      source: string;
      items: { promptIndex: number; responses: number; inconsistent: number }[];
    };
    expect(samples).toMatchObject({
      source: 'store',
      items: [{ promptIndex: 7, responses: 2, inconsistent: 1 }],
    });
    const group = (await (await get('/api/runs/run/samples/1')).json()) as {
      responses: { text: string }[];
      verdicts: { chosen: number; rejected: number; shownFirst: number }[];
    };
    // Prompt 1 stored the rejected response first, so the chosen one is response 1.
    expect(group.verdicts).toMatchObject([{ chosen: 1, rejected: 0, shownFirst: 0 }]);

    // Per-order probabilities come from the judge's table, turned to P(chosen): prompt 3's
    // orders disagree (0.52 ± 0.3), prompt 1's agree (0.702 ± 0.04; its chosen response is b,
    // so the signs flip).
    const inconsistent = (await (await get('/api/runs/run/samples/3')).json()) as {
      verdicts: { perOrder: number[] }[];
    };
    const [first, second] = inconsistent.verdicts[0].perOrder;
    expect(first).toBeCloseTo(0.52 - 0.3, 10);
    expect(second).toBeCloseTo(0.52 + 0.3, 10);
    const consistent = (group.verdicts[0] as unknown as { perOrder: number[] }).perOrder;
    expect(consistent[0]).toBeCloseTo(0.702 - 0.04, 10);
    expect(consistent[1]).toBeCloseTo(0.702 + 0.04, 10);
    expect(group.responses[1].text).toBe('He shared it with his sister and they played all day.');
  });

  it('stores a blind policy label by identity and reports the win rate', async () => {
    const next = (await (await get('/api/runs/run/compare/next?kind=policy')).json()) as {
      presentationId: string;
      left: string;
      right: string;
      total: number;
    };
    expect(next.total).toBe(8);
    const response = await post('/api/runs/run/labels', {
      presentationId: next.presentationId,
      choice: 'right',
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as {
      label: HumanLabel;
      count: number;
      winRates: { n: number }[];
    };
    const winnerText = body.label.winner === 'a' ? body.label.responseA : body.label.responseB;
    expect(winnerText).toBe(next.right);
    expect(body.label.sourceA).toBe('final');
    expect(body.winRates).toMatchObject([{ n: 1 }]);

    // One label per showing; the page must fetch a new pair.
    const again = await post('/api/runs/run/labels', {
      presentationId: next.presentationId,
      choice: 'left',
    });
    expect(again.status).toBe(409);

    const db = new Database(join(dir, 'run', 'store.sqlite'));
    const stored = new HumanLabelStore({ db }).list();
    db.close();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      kind: 'policy',
      winner: body.label.winner,
      shownLeft: body.label.shownLeft,
    });

    // The decided label, exported as a human preference record.
    const exported = await (await get('/api/runs/run/labels/preferences.jsonl')).text();
    expect(
      exported
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      {
        prompt: stored[0].prompt,
        chosen: next.right,
        rejected: next.left,
        pChosen: 1,
        judge: 'human',
        source: 'human',
      },
    ]);
  });

  it('serves the run report once it exists', async () => {
    expect((await get('/api/runs/run/report')).status).toBe(404);
    writeFileSync(join(dir, 'run', 'report.html'), '<!doctype html><h1>report</h1>');
    const report = await get('/api/runs/run/report');
    expect(report.headers.get('content-type')).toMatch(/text\/html/);
    expect(await report.text()).toBe('<!doctype html><h1>report</h1>');
  });

  it('rejects a malformed label', async () => {
    const bad = await post('/api/runs/run/labels', { presentationId: 'x', choice: 'up' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/choice/);
    const notJson = await dashboard.app.request('/api/runs/run/labels', {
      method: 'POST',
      headers: { ...local, 'content-type': 'text/plain' },
      body: 'presentationId=x',
    });
    expect(notJson.status).toBe(400);
  });

  it('binds to 127.0.0.1 unless told otherwise', async () => {
    const server = await startDashboard({ runsDir: dir, webDir: join(dir, 'no-web') });
    try {
      expect(server.host).toBe('127.0.0.1');
      const listed = (await (await fetch(`${server.url}/api/runs`)).json()) as { runs: unknown[] };
      expect(listed.runs).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('names a busy port as an input fault with the way out', async () => {
    const first = await startDashboard({ runsDir: dir, webDir: join(dir, 'no-web') });
    try {
      const second = startDashboard({ runsDir: dir, port: first.port });
      await expect(second).rejects.toMatchObject({
        name: 'InputError',
        message:
          `field "--port": port ${first.port} is in use on 127.0.0.1; ` +
          'pass --port <n>, or --port 0 for any free port',
      });
    } finally {
      await first.close();
    }
  });
});

describe('summary chips', () => {
  it('labels and formats the evaluation figures', async () => {
    const { summaryFigures } = await import('../../web/src/format.ts');
    const figures = summaryFigures({
      evaluator: { rate: 0.82 },
      judgeEvaluatorGap: -0.04,
      evaluatorConsistency: 1,
      lengthRatio: 1.0123,
      winRate: 0.82,
      harmlessRate: 0.97,
      prompts: 50,
    });
    expect(figures.map((f) => `${f.label} ${f.value}`)).toEqual([
      'evaluator win rate 82.0%',
      'judge − evaluator gap -4.0 pts',
      'evaluator order consistency 100.0%',
      'length ratio ×1.01',
      'harmless rate 97.0%',
      'prompts 50',
    ]);
  });
});
