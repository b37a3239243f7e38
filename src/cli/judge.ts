/**
 * `rlaif judge`: label candidate pairs (or prompts with K responses) into preference JSONL,
 * storing every verdict and model call in SQLite so a killed job resumes with nothing lost or
 * paid twice. `rlaif judge audit`: measure a judge on gold preference sets. Progress and the
 * summary go to stderr; the audit table goes to stdout.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { auditJudge, formatAuditTable } from '../judge/audit.ts';
import { readCandidates } from '../judge/candidates.ts';
import { goldSubsets, loadGoldSubset, type GoldSubset } from '../judge/gold-sets.ts';
import {
  createJudge,
  loadFewShotExamples,
  parseCheckWeights,
  resolveConstitution,
  type JudgeSettings,
} from '../judge/judge-factory.ts';
import { labelPairs } from '../judge/label.ts';
import { JudgmentStore } from '../store/judgments.ts';
import { openRunDatabase } from '../store/run-store.ts';
import { InputError } from '../util/errors.ts';
import { parseFlags } from './flags.ts';
import { createLogger } from '../util/log.ts';
import { MetricsWriter } from '../util/metrics.ts';
import { sharedDataDir } from '../util/paths.ts';

const judgeFlags = z.object({
  backend: z.string().default('embedded'),
  constitution: z.string().optional(),
  checks: z.string().optional(),
  baseUrl: z.string().url().optional(),
  timeoutMs: z.coerce.number().int().positive().default(60_000),
  concurrency: z.coerce.number().int().min(1).max(1024).default(8),
  rpm: z.coerce.number().positive().optional(),
  tpm: z.coerce.number().positive().optional(),
  retries: z.coerce.number().int().min(0).max(20).default(4),
  budgetUsd: z.coerce.number().positive().optional(),
  bothOrders: z.boolean().default(true),
  cot: z.boolean().default(false),
  mode: z.enum(['sample', 'all']).default('sample'),
  tiePolicy: z.enum(['inconsistent-is-tie', 'average']).default('inconsistent-is-tie'),
  topLogprobs: z.coerce.number().int().min(1).max(20).default(5),
  temperature: z.coerce.number().positive().default(1),
  seed: z.coerce.number().int().default(0),
  data: z.string().optional(),
  fewShot: z.string().optional(),
  lengthSlope: z.coerce.number().optional(),
  quiet: z.boolean().default(false),
});

const labelFlags = judgeFlags.extend({
  input: z.string().min(1),
  out: z.string().min(1),
  store: z.string().optional(),
  metrics: z.string().optional(),
  pairing: z.enum(['all', 'adjacent', 'first']).default('all'),
  dropTies: z.boolean().default(false),
});

const auditFlags = judgeFlags.extend({
  sets: z.string().default(goldSubsets.join(',')),
  limit: z.coerce.number().int().positive().optional(),
  json: z.string().optional(),
  store: z.string().optional(),
});

function addJudgeOptions(command: Command): Command {
  return command
    .option('--backend <spec>',
      'embedded | openai:MODEL | anthropic:MODEL | gguf:PATH | local:PATH', 'embedded')
    .option('--constitution <file|name>',
      'YAML/JSON file, or children-stories | cai-preference | cai-critique')
    .option('--checks <list>',
      'embedded judge: checks for principles without one, e.g. vader_compound=1,no_repetition=0.5')
    .option('--base-url <url>',
      'API root of an OpenAI-compatible server (default: env RLAIF_JUDGE_BASE_URL / OPENAI_BASE_URL)')
    .option('--timeout-ms <ms>', 'time limit per model call', '60000')
    .option('--concurrency <n>', 'comparisons and calls in flight', '8')
    .option('--rpm <n>', 'requests per minute at most')
    .option('--tpm <n>', 'tokens per minute at most (estimated prompt + max completion)')
    .option('--retries <n>', 'retries on 429, 5xx and timeouts', '4')
    .option('--budget-usd <usd>', 'stop calling once this much is spent')
    .option('--no-both-orders', 'ask each pair in one order only')
    .option('--cot', 'ask for a rationale before the verdict')
    .option('--mode <mode>', 'sample: one seeded principle per pair; all: average every principle', 'sample')
    .option('--tie-policy <policy>', 'inconsistent-is-tie | average', 'inconsistent-is-tie')
    .option('--top-logprobs <n>', 'alternatives per position for soft labels', '5')
    .option('--temperature <t>', 'embedded judge: softness of its preferences', '1')
    .option('--seed <n>', 'seed of principle sampling and subsampling', '0')
    .option('--few-shot <file>', 'worked examples before each question (CAI few-shot JSON format)')
    .option('--length-slope <b>',
      'length-controlled verdicts: subtract b * log(len A / len B) from logit P(A) (b from an audit)')
    .option('--data <dir>',
      'data folder with the CAI lists and gold sets (default: RLAIF_DATA or ../shared/data)')
    .option('--quiet', 'no progress bars');
}

export function register(program: Command): void {
  // `judge` and `judge audit` share option names; with positional options each command keeps
  // the options written after its own name. Commander needs this on every ancestor; the root
  // program has no options of its own, so nothing else changes.
  program.enablePositionalOptions();
  const judge = addJudgeOptions(program
    .command('judge')
    .description('label candidate pairs with an AI judge into preference JSONL (see also: judge audit)')
    .option('--input <file>', 'JSONL of {prompt, a, b} or {prompt, responses: [...]}, optional id')
    .option('--out <file>', 'preference JSONL to write')
    .option('--store <file>', 'SQLite file for verdicts and the call cache (default: <out>.sqlite)')
    .option('--metrics <file>', 'metrics JSONL appended as the job goes (default: <out>.metrics.jsonl)')
    .option('--pairing <how>', 'pairs from K responses: all | adjacent | first', 'all')
    .option('--drop-ties', 'leave tied pairs out of the output'))
    .enablePositionalOptions()
    .action(async (raw: Record<string, unknown>) => runLabel(parseFlags(labelFlags, raw)));

  addJudgeOptions(judge
    .command('audit')
    .description('measure a judge on gold preference sets: agreement, position and length bias')
    .option('--sets <list>', `subsets: ${goldSubsets.join(', ')}`, goldSubsets.join(','))
    .option('--limit <n>', 'seeded sample of at most n items per subset')
    .option('--json <file>', 'also write the report as JSON')
    .option('--store <file>', 'SQLite file for the call cache'))
    .action(async (raw: Record<string, unknown>) => runAudit(parseFlags(auditFlags, raw)));
}

async function runLabel(flags: z.infer<typeof labelFlags>): Promise<void> {
  const logger = createLogger();
  const pairs = readCandidates(flags.input, { pairing: flags.pairing });
  const storeFile = resolve(flags.store ?? `${flags.out}.sqlite`);
  mkdirSync(dirname(storeFile), { recursive: true });
  const db = openRunDatabase(storeFile);
  const built = await createJudge(settingsFrom(flags, db, logger));

  try {
    const summary = await labelPairs({
      judge: built.judge,
      pairs,
      store: new JudgmentStore(db),
      concurrency: flags.concurrency,
      dropTies: flags.dropTies,
      progress: !flags.quiet,
      logger,
      metrics: new MetricsWriter(flags.metrics ?? `${flags.out}.metrics.jsonl`),
    });
    writeJsonl(flags.out, summary.records);

    const totals = built.backend?.budget.totals;
    process.stderr.write(
      `judged ${summary.judged}, reused ${summary.reused}, failed ${summary.failures.length}; ` +
      `wrote ${summary.records.length} preferences to ${flags.out}` +
      (totals ? `; calls ${totals.calls} (+${totals.cachedCalls} cached), ` +
        `tokens ${totals.promptTokens}+${totals.completionTokens}, ` +
        `$${totals.costUsd.toFixed(4)}` : '') + '\n',
    );
    // Exit code 2: finished, but some items have no verdict (a rerun tries them again).
    if (summary.failures.length > 0) process.exitCode = 2;
  } finally {
    await built.close();
    db.close();
  }
}

async function runAudit(flags: z.infer<typeof auditFlags>): Promise<void> {
  const logger = createLogger();
  const subsets = flags.sets.split(',').map((s) => s.trim()).filter(Boolean);
  for (const subset of subsets) {
    if (!(goldSubsets as readonly string[]).includes(subset)) {
      throw new InputError(`unknown subset "${subset}"; known: ${goldSubsets.join(', ')}`,
        { field: '--sets' });
    }
  }
  const dataDir = flags.data ?? sharedDataDir();
  const items = subsets.flatMap((subset) =>
    loadGoldSubset(subset as GoldSubset, { dataDir, limit: flags.limit, seed: flags.seed }));

  const db = flags.store ? openRunDatabase(resolve(flags.store)) : undefined;
  // The audit asks both orders itself, so the judge asks one.
  const built = await createJudge({ ...settingsFrom(flags, db, logger), bothOrders: false });
  try {
    const report = await auditJudge({
      judge: built.judge,
      items,
      concurrency: flags.concurrency,
      seed: flags.seed,
      progress: !flags.quiet,
      logger,
    });
    process.stdout.write(formatAuditTable(report) + '\n');
    if (flags.json) writeAtomically(flags.json, JSON.stringify(report, null, 2) + '\n');
  } finally {
    await built.close();
    db?.close();
  }
}

function settingsFrom(
  flags: z.infer<typeof judgeFlags>,
  db: JudgeSettings['db'],
  logger: JudgeSettings['logger'],
): JudgeSettings {
  return {
    backend: flags.backend,
    constitution: resolveConstitution(flags.constitution, { dataDir: flags.data }),
    checks: flags.checks ? parseCheckWeights(flags.checks) : undefined,
    examples: flags.fewShot ? loadFewShotExamples(flags.fewShot) : undefined,
    lengthSlope: flags.lengthSlope,
    db,
    baseUrl: flags.baseUrl,
    timeoutMs: flags.timeoutMs,
    concurrency: flags.concurrency,
    requestsPerMinute: flags.rpm,
    tokensPerMinute: flags.tpm,
    retries: flags.retries,
    budgetUsd: flags.budgetUsd,
    bothOrders: flags.bothOrders,
    chainOfThought: flags.cot,
    mode: flags.mode,
    seed: flags.seed,
    tiePolicy: flags.tiePolicy,
    topLogprobs: flags.topLogprobs,
    temperature: flags.temperature,
    logger,
  };
}

function writeJsonl(file: string, records: unknown[]): void {
  writeAtomically(file, records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
}

/** Write to a temporary file and rename, so a kill never leaves a half-written file. */
function writeAtomically(file: string, text: string): void {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  const temporary = `${file}.partial-${process.pid}`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}
