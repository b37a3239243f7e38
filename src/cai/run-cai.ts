/**
 * Runs critique and revision over a prompt set: each finished chain is appended to a JSONL file
 * as soon as it exists, so a killed run resumes with the prompts not yet done; a prompt whose
 * backend call failed is logged and retried on the next run. The final revisions are then
 * written as SFT data in TRL's prompt-completion form, `{prompt, completion}`.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

import { z } from 'zod';

import { InputError } from '../util/errors.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import { startProgress } from '../util/progress.ts';
import type { CritiqueChain, CritiqueReviser } from './critique-revision.ts';

export interface RunCaiOptions {
  reviser: CritiqueReviser;
  prompts: readonly string[];
  /** Chains JSONL, appended to and read back on resume. */
  chainsFile: string;
  /** SFT JSONL written (whole) at the end from every chain in `chainsFile`. */
  sftFile?: string;
  logger?: Logger;
  /** No progress bar. Default false. */
  quiet?: boolean;
}

export interface RunCaiResult {
  chains: CritiqueChain[];
  /** Chains produced by this call (the rest were already in the file). */
  produced: number;
  failed: { prompt: string; error: string }[];
}

const roundSchema = z.object({
  principle: z.string(),
  critiqueRequest: z.string(),
  critique: z.string(),
  revisionRequest: z.string(),
  revision: z.string(),
  keptPrevious: z.boolean().optional(),
});
const chainSchema = z.object({
  prompt: z.string(),
  policyPrompt: z.string(),
  initialResponse: z.string(),
  rounds: z.array(roundSchema),
  finalResponse: z.string(),
  backend: z.string(),
  seed: z.number(),
});

/** Chains stored in `file`; a torn last line (killed mid-write) is ignored. */
export function readChains(file: string): CritiqueChain[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  const chains: CritiqueChain[] = [];
  lines.forEach((text, i) => {
    if (!text.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (error) {
      if (i >= lines.length - 2) return; // the last line of a killed write
      throw new InputError(`not valid JSON (${(error as Error).message})`, { file, line: i + 1 });
    }
    const parsed = chainSchema.safeParse(row);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(issue.message, { file, line: i + 1, field: issue.path.join('.') });
    }
    chains.push(parsed.data);
  });
  return chains;
}

/** SFT rows from chains: the policy's prompt and the final revision. */
export function sftRows(
  chains: readonly CritiqueChain[],
): { prompt: string; completion: string }[] {
  return chains
    .filter((c) => c.finalResponse.trim() !== '')
    .map((c) => ({ prompt: c.policyPrompt, completion: ` ${c.finalResponse}` }));
}

export async function runCai(options: RunCaiOptions): Promise<RunCaiResult> {
  const logger = options.logger ?? silentLogger;
  const existing = readChains(options.chainsFile);
  const done = new Set(existing.map((c) => c.prompt));
  const todo = options.prompts.filter((p) => !done.has(p));
  if (existing.length > 0)
    logger.info({ done: existing.length, todo: todo.length }, 'resuming critique and revision');

  const chains = [...existing];
  const failed: RunCaiResult['failed'] = [];
  const progress = startProgress({ label: 'cai', total: todo.length, silent: options.quiet });
  for (const prompt of todo) {
    try {
      const chain = await options.reviser.run(prompt);
      appendFileSync(options.chainsFile, JSON.stringify(chain) + '\n');
      chains.push(chain);
    } catch (error) {
      failed.push({ prompt, error: (error as Error).message });
      logger.warn(
        { err: error, prompt: prompt.slice(0, 80) },
        'critique chain failed; retried on the next run',
      );
    }
    progress.tick(1, { failed: failed.length });
  }
  progress.stop();

  if (options.sftFile) {
    const temporary = `${options.sftFile}.tmp-${process.pid}`;
    writeFileSync(
      temporary,
      sftRows(chains)
        .map((row) => JSON.stringify(row) + '\n')
        .join(''),
    );
    renameSync(temporary, options.sftFile);
  }
  return { chains, produced: chains.length - existing.length, failed };
}
