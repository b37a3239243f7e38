/**
 * The dashboard's HTTP application: a JSON API over the run directories (runs, metrics from a
 * cursor, preferences with filters, judge audits, blind comparisons and human labels) and the
 * built front end from `web/dist`. Requests whose Host is not a loopback name are refused
 * while the server is bound to loopback, so a web page elsewhere cannot reach it through DNS
 * rebinding.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type Context } from 'hono';
import { z } from 'zod';

import { InputError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { silentLogger } from '../util/log.ts';
import { projectRoot } from '../util/paths.ts';
import { makeRng, type Rng } from '../util/rng.ts';
import {
  humanPreferenceRecords,
  type HumanChoice,
  type HumanLabel,
} from '../store/human-labels.ts';
import {
  judgedPairs,
  policyPairs,
  preferenceQuerySchema,
  queryPreferences,
  toRow,
  type ComparisonPair,
} from './dashboard-pairs.ts';
import {
  RunNotFoundError,
  listRuns,
  readAudits,
  readJsonIfPresent,
  readMetricsSince,
  readPreferences,
  readTextIfPresent,
  runPath,
  type PreferenceFile,
} from './dashboard-runs.ts';
import { agreement, winRates } from './dashboard-stats.ts';
import {
  groupsFromPreferences,
  querySamples,
  sampleQuerySchema,
  type SampleGroup,
} from './dashboard-samples.ts';
import { RunStores } from './dashboard-store.ts';

export interface DashboardAppOptions {
  /** Folder holding one folder per run. */
  runsDir: string;
  /** Built front end; default `web/dist` in the project. Missing: the API still works. */
  webDir?: string;
  /** Randomness for which response goes left; default seeded from the clock. */
  rng?: Rng;
  /** Accept any Host header (set when bound beyond loopback on purpose). Default false. */
  allowAnyHost?: boolean;
  logger?: Logger;
}

export interface DashboardApp {
  app: Hono;
  /** Closes the SQLite handles the app opened. */
  close(): void;
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** A pair as shown: which of `a`/`b` is on the left stays on the server until a label comes. */
interface Presentation {
  run: string;
  pair: ComparisonPair;
  shownLeft: 'a' | 'b';
}

/** How many shown-but-unlabelled pairs to remember; older ones must be fetched again. */
const maxPresentations = 2000;

const labelBodySchema = z.object({
  presentationId: z.string().min(1).max(100),
  choice: z.enum(['left', 'right', 'tie']),
  labeler: z.string().max(100).optional(),
});

const compareQuerySchema = z.object({ kind: z.enum(['judged', 'policy']).default('judged') });

export function createDashboardApp(options: DashboardAppOptions): DashboardApp {
  const { runsDir } = options;
  const webDir = options.webDir ?? join(projectRoot, 'web', 'dist');
  const rng = options.rng ?? makeRng(`dashboard/${Date.now()}`);
  const logger = options.logger ?? silentLogger;
  const stores = new RunStores();
  const presentations = new Map<string, Presentation>();
  const app = new Hono();

  if (!options.allowAnyHost) {
    app.use('*', async (c, next) => {
      const host = c.req.header('host') ?? '';
      const hostname = host.replace(/:\d+$/, '');
      if (!loopbackHosts.has(hostname) && !/^127\.\d+\.\d+\.\d+$/.test(hostname))
        return c.json({ error: `host ${host} not allowed` }, 403);
      await next();
    });
  }

  app.onError((error, c) => errorResponse(error, c, logger));

  app.get('/api/runs', (c) => c.json({ runs: listRuns(runsDir) }));

  app.get('/api/runs/:run', (c) => {
    const name = c.req.param('run');
    const dir = runPath(runsDir, name);
    const preferences = preferenceRecords(dir);
    return c.json({
      name,
      config: readTextIfPresent(join(dir, 'config.yaml')) ?? null,
      summary: readJsonIfPresent(join(dir, 'summary.json')) ?? null,
      hasReport: existsSync(join(dir, 'report.html')),
      preferences: preferences.records.length,
      problems: preferences.problems.slice(0, 20),
      labels: stores.labelCount(dir),
      stages: stores.stages(dir),
    });
  });

  // The run's self-contained HTML report, as the pipeline wrote it.
  app.get('/api/runs/:run/report', (c) => {
    const report = readTextIfPresent(join(runPath(runsDir, c.req.param('run')), 'report.html'));
    if (report === undefined) return c.json({ error: 'this run has no report.html yet' }, 404);
    return c.html(report);
  });

  app.get('/api/runs/:run/metrics', (c) => {
    const dir = runPath(runsDir, c.req.param('run'));
    const { since } = z
      .object({ since: z.coerce.number().int().min(0).default(0) })
      .parse({ since: c.req.query('since') ?? undefined });
    return c.json(readMetricsSince(join(dir, 'metrics.jsonl'), since));
  });

  app.get('/api/runs/:run/preferences', (c) => {
    const dir = runPath(runsDir, c.req.param('run'));
    const query = parseQuery(preferenceQuerySchema, c.req.query());
    const { records, problems } = preferenceRecords(dir);
    return c.json({ ...queryPreferences(records, query), problems: problems.slice(0, 20) });
  });

  app.get('/api/runs/:run/preferences/:index', (c) => {
    const dir = runPath(runsDir, c.req.param('run'));
    const index = parseQuery(z.object({ index: z.coerce.number().int().min(0) }), {
      index: c.req.param('index'),
    }).index;
    const { records } = preferenceRecords(dir);
    if (index >= records.length) return c.json({ error: `no preference at index ${index}` }, 404);
    return c.json(toRow(records[index], index));
  });

  app.get('/api/runs/:run/samples', (c) => {
    const dir = runPath(runsDir, c.req.param('run'));
    const query = parseQuery(sampleQuerySchema, c.req.query());
    const { groups, source } = sampleGroups(dir);
    return c.json({ source, ...querySamples(groups, query) });
  });

  app.get('/api/runs/:run/samples/:prompt', (c) => {
    const dir = runPath(runsDir, c.req.param('run'));
    const { prompt } = parseQuery(z.object({ prompt: z.coerce.number().int().min(0) }), {
      prompt: c.req.param('prompt'),
    });
    const group = sampleGroups(dir).groups.find((g) => g.promptIndex === prompt);
    if (!group) return c.json({ error: `no samples for prompt ${prompt}` }, 404);
    return c.json(group);
  });

  app.get('/api/runs/:run/audits', (c) => {
    const dir = runPath(runsDir, c.req.param('run'));
    return c.json({ audits: readAudits(dir) });
  });

  app.get('/api/runs/:run/compare/next', (c) => {
    const run = c.req.param('run');
    const dir = runPath(runsDir, run);
    const { kind } = parseQuery(compareQuerySchema, c.req.query());
    const pairs = comparisonPairs(dir, kind);
    const labelled = stores.labelledPairIds(dir, kind);
    const open = pairs.filter((pair) => !labelled.has(pair.id));
    if (open.length === 0) return c.json({ done: true, total: pairs.length, remaining: 0 });

    // Which pair and which side goes left are both random, so neither order nor position
    // tells the person what the judge picked.
    const pair = open[rng.int(open.length)];
    const shownLeft = rng.next() < 0.5 ? 'a' : 'b';
    const presentationId = randomUUID();
    presentations.set(presentationId, { run, pair, shownLeft });
    if (presentations.size > maxPresentations) {
      presentations.delete(presentations.keys().next().value as string);
    }
    const [left, right] = shownLeft === 'a' ? [pair.a, pair.b] : [pair.b, pair.a];
    return c.json({
      done: false,
      presentationId,
      kind: pair.kind,
      prompt: pair.prompt,
      left: left.text,
      right: right.text,
      total: pairs.length,
      remaining: open.length,
    });
  });

  app.post('/api/runs/:run/labels', async (c) => {
    const run = c.req.param('run');
    const dir = runPath(runsDir, run);
    const body = labelBodySchema.parse(await readJsonBody(c));
    const shown = presentations.get(body.presentationId);
    if (!shown || shown.run !== run) {
      return c.json({ error: 'unknown or expired comparison; fetch the next pair again' }, 409);
    }
    presentations.delete(body.presentationId);

    const winner = identityOf(body.choice, shown.shownLeft);
    const { pair } = shown;
    const label = stores.labels(dir).add({
      pairId: pair.id,
      kind: pair.kind,
      prompt: pair.prompt,
      responseA: pair.a.text,
      responseB: pair.b.text,
      sourceA: pair.a.source,
      sourceB: pair.b.source,
      winner,
      shownLeft: shown.shownLeft,
      aiProbA: pair.aiProbA,
      labeler: body.labeler,
    });
    return c.json({ label, ...labelSummary(stores.labels(dir).list()) }, 201);
  });

  app.get('/api/runs/:run/labels', (c) => {
    const dir = runPath(runsDir, c.req.param('run'));
    const labels = stores.hasStore(dir) ? stores.labels(dir).list() : [];
    return c.json({ labels, ...labelSummary(labels) });
  });

  /** The preference dataset: preferences.jsonl once exported, the store's rows before that. */
  function preferenceRecords(dir: string): PreferenceFile {
    const file = join(dir, 'preferences.jsonl');
    if (existsSync(file)) return readPreferences(file);
    const stored = stores.storedPreferences(dir);
    return {
      records: stored.map(({ promptIndex: _p, pair: _s, ...record }) => record),
      problems: [],
    };
  }

  function sampleGroups(dir: string): { groups: SampleGroup[]; source: 'store' | 'preferences' } {
    const stored = stores.sampleGroups(dir);
    if (stored) return { groups: stored, source: 'store' };
    return { groups: groupsFromPreferences(preferenceRecords(dir).records), source: 'preferences' };
  }

  function comparisonPairs(dir: string, kind: 'judged' | 'policy'): ComparisonPair[] {
    if (kind === 'judged') return judgedPairs(preferenceRecords(dir).records);
    const { start, final, judgeVerdicts } = stores.policySamples(dir);
    return policyPairs(start, final, judgeVerdicts);
  }

  // Decided human labels as a preference dataset (JSONL), for mixing with AI labels.
  app.get('/api/runs/:run/labels/preferences.jsonl', (c) => {
    const dir = runPath(runsDir, c.req.param('run'));
    const labels = stores.hasStore(dir) ? stores.labels(dir).list() : [];
    const lines = humanPreferenceRecords(labels).map((record) => JSON.stringify(record) + '\n');
    return c.body(lines.join(''), 200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
  });

  app.all('/api/*', (c) => c.json({ error: `no API route ${c.req.method} ${c.req.path}` }, 404));

  // The front end: files from web/dist, and index.html for every other path (client routes).
  if (existsSync(webDir)) {
    app.use('/*', serveStatic({ root: webDir }));
    app.get('*', serveStatic({ root: webDir, path: 'index.html' }));
  }
  app.notFound((c) =>
    c.text(
      existsSync(webDir) ? 'not found' : `the front end is not built: run npm run build:web`,
      404,
    ),
  );

  return { app, close: () => stores.close() };
}

/** What the comparison page shows after each label. */
function labelSummary(labels: HumanLabel[]) {
  return { count: labels.length, agreement: agreement(labels), winRates: winRates(labels) };
}

/** The pair's own side picked, from the screen side and which side was shown left. */
export function identityOf(choice: 'left' | 'right' | 'tie', shownLeft: 'a' | 'b'): HumanChoice {
  if (choice === 'tie') return 'tie';
  const other = shownLeft === 'a' ? 'b' : 'a';
  return choice === 'left' ? shownLeft : other;
}

function parseQuery<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InputError(issue.message, { field: issue.path.join('.') });
}

async function readJsonBody(c: Context): Promise<unknown> {
  if (!(c.req.header('content-type') ?? '').includes('application/json')) {
    // A JSON content type also makes browsers ask before a cross-site POST.
    throw new InputError('send the body as application/json', { field: 'content-type' });
  }
  try {
    return await c.req.json();
  } catch {
    throw new InputError('body is not valid JSON', { field: 'body' });
  }
}

function errorResponse(error: Error, c: Context, logger: Logger): Response {
  if (error.name === 'RunNotFoundError' || error instanceof RunNotFoundError) {
    return c.json({ error: error.message }, 404);
  }
  if (error.name === 'InputError') return c.json({ error: error.message }, 400);
  if (error instanceof z.ZodError) {
    const issue = error.issues[0];
    return c.json(
      { error: new InputError(issue.message, { field: issue.path.join('.') }).message },
      400,
    );
  }
  logger.error({ err: error, path: c.req.path }, 'dashboard request failed');
  return c.json({ error: 'internal error' }, 500);
}
