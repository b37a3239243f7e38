/**
 * Runs one untrusted JavaScript or TypeScript program in a separate Node process and says
 * whether it finished cleanly, and if not, why. The child gets: Node's permission model with
 * file access only to a fresh scratch folder (which also denies child processes, workers and
 * inspector), no native addons, a preload that closes the network and signals, a private network
 * namespace when `unshare -n` works, a cap on the size of files it writes (prlimit), a heap cap,
 * a resident-memory watchdog, a wall-clock timeout that kills its whole process group, an
 * environment without the host's variables, and bounded captured output. Node 20's permission
 * model does not cover the network, hence the preload and the namespace.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { toJavaScript, typeErrors } from './transpile.ts';

const PRELOAD = join(dirname(fileURLToPath(import.meta.url)), 'preload.cjs');
const REPORT_PREFIX = '@@rlaif-sandbox ';

/** Why a program did not pass. */
export type SandboxFailureKind =
  | 'syntax' // did not parse (TypeScript or JavaScript)
  | 'type' // TypeScript type errors (only with typeCheck)
  | 'timeout' // still running at the deadline; killed
  | 'memory' // heap limit or resident-memory cap reached; killed
  | 'permission' // touched the file system outside scratch, spawned, used workers/signals
  | 'network' // tried to open a socket, resolve a name or fetch
  | 'disk' // wrote a file past the size cap
  | 'exit' // called process.exit/abort before the tests finished
  | 'assertion' // a test's assertion failed
  | 'error' // any other uncaught error
  | 'incomplete'; // ended with status 0 but without reaching the end of the tests

export interface SandboxResult {
  passed: boolean;
  failure?: { kind: SandboxFailureKind; message: string };
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  /** Captured output, each cut at `maxOutputBytes`. */
  stdout: string;
  stderr: string;
}

export interface RunProgramOptions {
  code: string;
  /** Default "ts": the code is stripped to JavaScript with TypeScript's transpileModule. */
  language?: 'ts' | 'js';
  /** Wall-clock limit. Default 5000 ms. */
  timeoutMs?: number;
  /** V8 old-space cap and (x2, plus 64 MB) resident-memory cap. Default 128 MB. */
  memoryMb?: number;
  /** Bytes of stdout and stderr kept each. Default 64 KiB. */
  maxOutputBytes?: number;
  /** Use a private network namespace when available. Default true. */
  isolateNetwork?: boolean;
  /** Largest file the program may write in its scratch folder (via prlimit). Default 16 MiB. */
  maxFileBytes?: number;
  /**
   * Type-check TypeScript before running it and fail on type errors, as MultiPL-E's harness
   * does (tsc must compile the program). Costs about a second per program. Default false.
   */
  typeCheck?: boolean;
}

const probes = new Map<string, string[] | null>();

/** The first of `candidates` that runs `true` successfully on this machine, remembered. */
function firstWorking(label: string, candidates: string[][]): string[] | null {
  if (probes.has(label)) return probes.get(label)!;
  let found: string[] | null = null;
  for (const prefix of candidates) {
    const probe = spawnSync(prefix[0], [...prefix.slice(1), 'true'], { stdio: 'ignore' });
    if (probe.status === 0) {
      found = prefix;
      break;
    }
  }
  probes.set(label, found);
  return found;
}

/** The command prefix that gives the child its own empty network namespace, if any works. */
function networkIsolationPrefix(): string[] | null {
  return firstWorking('unshare', [
    ['unshare', '-n'],
    ['unshare', '-rn'],
  ]);
}

/** A prefix capping the size of any file the child writes (RLIMIT_FSIZE), if prlimit works. */
function fileSizePrefix(bytes: number): string[] | null {
  return firstWorking('prlimit', [['prlimit', '--fsize=1048576']])
    ? ['prlimit', `--fsize=${bytes}`]
    : null;
}

/** Runs `code` to completion in the sandbox. Never throws for anything the program does. */
export async function runProgram(options: RunProgramOptions): Promise<SandboxResult> {
  const started = Date.now();
  const language = options.language ?? 'ts';
  const transpiled = language === 'ts' ? toJavaScript(options.code) : { js: options.code };
  const notRun = (kind: SandboxFailureKind, message: string): SandboxResult => ({
    passed: false,
    failure: { kind, message },
    exitCode: null,
    signal: null,
    durationMs: Date.now() - started,
    stdout: '',
    stderr: '',
  });
  if ('syntaxError' in transpiled) return notRun('syntax', transpiled.syntaxError);
  if (language === 'ts' && options.typeCheck) {
    const errors = typeErrors(options.code);
    if (errors !== null) return notRun('type', errors);
  }

  const scratch = mkdtempSync(join(tmpdir(), 'rlaif-sandbox-'));
  try {
    const nonce = randomBytes(16).toString('hex');
    const program = join(scratch, 'program.cjs');
    copyFileSync(PRELOAD, join(scratch, 'preload.cjs'));
    // The completion call sits on its own line after the program so a trailing comment in the
    // program cannot swallow it.
    writeFileSync(program, `${transpiled.js}\n;globalThis.__rlaifSandboxDone();\n`);
    return await runChild({ ...options, scratch, program, nonce, started });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

interface ChildSpec extends RunProgramOptions {
  scratch: string;
  program: string;
  nonce: string;
  started: number;
}

function runChild(spec: ChildSpec): Promise<SandboxResult> {
  const timeoutMs = spec.timeoutMs ?? 5000;
  const memoryMb = spec.memoryMb ?? 128;
  const maxOutput = spec.maxOutputBytes ?? 64 * 1024;

  const nodeArgs = [
    '--experimental-permission',
    `--allow-fs-read=${spec.scratch}`,
    `--allow-fs-write=${spec.scratch}`,
    '--no-addons',
    `--max-old-space-size=${memoryMb}`,
    '--no-warnings',
    '--require',
    join(spec.scratch, 'preload.cjs'),
    spec.program,
  ];
  // NOTE: without prlimit a program can fill the disk under the scratch folder until the run
  // ends (the folder is removed afterwards); without unshare only the preload closes the network.
  const network = spec.isolateNetwork === false ? null : networkIsolationPrefix();
  const fileCap = fileSizePrefix(spec.maxFileBytes ?? 16 * 1024 * 1024);
  const [command, ...args] = [
    ...(fileCap ?? []),
    ...(network ?? []),
    process.execPath,
    ...nodeArgs,
  ];

  return new Promise((resolve) => {
    // detached: the child leads a new process group, so one kill reaches anything it started.
    const child = spawn(command, args, {
      cwd: spec.scratch,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/bin:/bin', RLAIF_SANDBOX_NONCE: spec.nonce },
    });
    const stdout = new BoundedText(maxOutput);
    const stderr = new BoundedText(maxOutput);
    child.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));

    let killedFor: { kind: SandboxFailureKind; message: string } | undefined;
    const killGroup = (kind: SandboxFailureKind, message: string) => {
      if (killedFor) return;
      killedFor = { kind, message };
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => killGroup('timeout', `killed after ${timeoutMs} ms`), timeoutMs);
    // Buffers and typed arrays live outside the V8 heap, so the heap cap alone does not bound
    // memory: watch the resident set too.
    const residentCapKb = (memoryMb * 2 + 64) * 1024;
    const watchdog = setInterval(() => {
      const rss = residentKb(child.pid);
      if (rss !== null && rss > residentCapKb) {
        killGroup(
          'memory',
          `resident memory ${Math.round(rss / 1024)} MB over ${residentCapKb / 1024} MB`,
        );
      }
    }, 25);

    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      clearInterval(watchdog);
      const out = stdout.text();
      const err = stderr.text();
      const completed = stdout.seen(REPORT_PREFIX + spec.nonce);
      const failure = killedFor ?? classify(completed, exitCode, signal, err);
      resolve({
        passed: failure === undefined,
        failure,
        exitCode,
        signal,
        durationMs: Date.now() - spec.started,
        stdout: stripReports(out),
        stderr: stripReports(err),
      });
    });
  });
}

/** Names the reason a finished child failed, or undefined when it passed. */
function classify(
  completed: boolean,
  exitCode: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
): { kind: SandboxFailureKind; message: string } | undefined {
  const reports = stderr
    .split('\n')
    .filter((line) => line.startsWith(REPORT_PREFIX))
    .map((line) => safeJson(line.slice(REPORT_PREFIX.length)));
  const report = reports.find((r) => r !== undefined);

  if (/heap limit|JavaScript heap out of memory|Allocation failed/i.test(stderr)) {
    return { kind: 'memory', message: 'V8 heap limit reached' };
  }
  if (report?.kind === 'exit') return { kind: 'exit', message: String(report.message) };
  if (report?.kind === 'uncaught') {
    const message = `${report.name}: ${report.message}`;
    if (report.sandboxKind === 'network') return { kind: 'network', message };
    if (report.code === 'EFBIG') return { kind: 'disk', message };
    if (report.code === 'ERR_ACCESS_DENIED' || report.code === 'ERR_SANDBOX_DENIED') {
      return { kind: 'permission', message };
    }
    if (report.code === 'ERR_ASSERTION' || report.name === 'AssertionError') {
      return { kind: 'assertion', message };
    }
    if (report.name === 'SyntaxError') return { kind: 'syntax', message };
    if (/ENETUNREACH|EAI_AGAIN|ECONNREFUSED|fetch failed/.test(message)) {
      return { kind: 'network', message };
    }
    return { kind: 'error', message };
  }
  if (/SyntaxError/.test(stderr)) return { kind: 'syntax', message: firstLines(stderr) };
  if (exitCode !== 0 || signal !== null) {
    return {
      kind: 'error',
      message: `exit code ${exitCode} signal ${signal}: ${firstLines(stderr)}`,
    };
  }
  if (!completed) {
    return { kind: 'incomplete', message: 'the program ended before its tests finished' };
  }
  return undefined;
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function firstLines(text: string): string {
  return text.trim().split('\n').slice(0, 5).join('\n');
}

function stripReports(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.startsWith(REPORT_PREFIX))
    .join('\n')
    .trim();
}

/** Resident set size of a live process in KiB (Linux /proc), or null when unknown. */
function residentKb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+)/.exec(status);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Keeps the first `limit` bytes of a stream, counts the rest and remembers a short tail. */
class BoundedText {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private dropped = 0;
  private tail = '';

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    const room = this.limit - this.kept;
    if (room > 0) {
      const part = chunk.subarray(0, room);
      this.chunks.push(part);
      this.kept += part.length;
    }
    this.dropped += Math.max(0, chunk.length - Math.max(room, 0));
    this.tail = (this.tail + chunk.toString('latin1')).slice(-256);
  }

  /** Whether `marker` was written, even past the kept head (it is always near the end). */
  seen(marker: string): boolean {
    return this.tail.includes(marker) || this.text().includes(marker);
  }

  text(): string {
    const body = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped > 0 ? `${body}\n[${this.dropped} bytes dropped]` : body;
  }
}
