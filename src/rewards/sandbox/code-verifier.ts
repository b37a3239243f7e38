/**
 * A reward source for code: the response completes the prompt into a TypeScript or JavaScript
 * program, the item's reference holds the tests (HumanEval-TS style: node:assert calls), and the
 * whole runs in the sandbox. Reward 1 when every test passes, 0 otherwise, with the reason
 * (timeout, memory, permission, network, exit, assertion, syntax, type, error) in `details`.
 */
import Bottleneck from 'bottleneck';

import type { RewardItem, RewardOutcome, RewardSource } from '../types.ts';
import { runProgram, type RunProgramOptions, type SandboxResult } from './run-program.ts';

export interface CodeVerifierOptions {
  /** Default "verifier:code". */
  id?: string;
  /** Default "ts". */
  language?: 'ts' | 'js';
  /** Per-program wall-clock limit. Default 5000 ms. */
  timeoutMs?: number;
  /** Per-program heap cap. Default 128 MB. */
  memoryMb?: number;
  /** Programs running at once. Default 2 (one per core on small machines). */
  maxConcurrent?: number;
  /** Fail TypeScript programs with type errors before running them. Default false. */
  typeCheck?: boolean;
  /** The completion is cut at the first of these (HumanEval's `stop_tokens`). Default none. */
  stopTokens?: string[];
  /** Replaces the sandbox run, for callers that wrap it (for example with a cache). */
  run?: (options: RunProgramOptions) => Promise<SandboxResult>;
}

const FENCE = /```[a-zA-Z]*\n([\s\S]*?)```/g;

/**
 * The program to run: the prompt followed by the completion, then the tests. A completion in a
 * Markdown code fence is taken from the fence; one that restates the prompt's signature is
 * taken as a whole program.
 */
export function assembleProgram(
  prompt: string,
  response: string,
  tests: string,
  stopTokens: string[] = [],
): string {
  const fenced = [...response.matchAll(FENCE)].map((m) => m[1]);
  let completion = fenced.length > 0 ? fenced.join('\n') : response;
  for (const stop of stopTokens) {
    const at = completion.indexOf(stop);
    if (at >= 0) completion = completion.slice(0, at);
  }
  const signature = lastNonEmptyLine(prompt);
  const whole = signature !== '' && completion.includes(signature);
  return `${whole ? completion : prompt + completion}\n\n${tests}\n`;
}

function lastNonEmptyLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

export class CodeVerifier implements RewardSource {
  readonly id: string;
  private readonly limiter: Bottleneck;

  constructor(private readonly options: CodeVerifierOptions = {}) {
    this.id = options.id ?? 'verifier:code';
    this.limiter = new Bottleneck({ maxConcurrent: options.maxConcurrent ?? 2 });
  }

  async score(items: RewardItem[]): Promise<RewardOutcome[]> {
    return Promise.all(items.map((item) => this.limiter.schedule(() => this.scoreOne(item))));
  }

  private async scoreOne(item: RewardItem): Promise<RewardOutcome> {
    if (item.reference === undefined) return { ok: false, reason: 'no tests in reference' };
    const code = assembleProgram(
      item.prompt,
      item.response,
      item.reference,
      this.options.stopTokens,
    );
    const run = this.options.run ?? runProgram;
    let result: SandboxResult;
    try {
      result = await run({
        code,
        language: this.options.language ?? 'ts',
        timeoutMs: this.options.timeoutMs,
        memoryMb: this.options.memoryMb,
        typeCheck: this.options.typeCheck,
      });
    } catch (error) {
      // Only the host can fail here (for example no process slots); the item is unscored.
      return { ok: false, reason: `sandbox could not run: ${(error as Error).message}` };
    }
    const details: Record<string, unknown> = { durationMs: result.durationMs };
    if (result.failure) {
      details.failure = result.failure.kind;
      details.message = result.failure.message;
    }
    return { ok: true, reward: result.passed ? 1 : 0, details };
  }
}
