import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sharedDataDir } from '../../util/paths.ts';
import type { RewardOutcome } from '../types.ts';
import { CodeVerifier, assembleProgram } from './code-verifier.ts';
import { runProgram } from './run-program.ts';

interface HumanEvalProblem {
  name: string;
  prompt: string;
  tests: string;
  stop_tokens: string[];
}

const problems = new Map<string, HumanEvalProblem>(
  readFileSync(join(sharedDataDir(), 'humaneval-ts', 'humaneval-ts.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as HumanEvalProblem)
    .map((p) => [p.name, p]),
);

function item(name: string, completion: string) {
  const problem = problems.get(name)!;
  return { prompt: problem.prompt, response: completion, reference: problem.tests };
}

function summary(outcome: RewardOutcome): [number, unknown] {
  if (!outcome.ok) throw new Error(`unscored: ${outcome.reason}`);
  return [outcome.reward, outcome.details?.failure];
}

describe('CodeVerifier on HumanEval-TS', () => {
  const verifier = new CodeVerifier({ timeoutMs: 3000 });

  it('scores hand-written correct completions 1 and wrong ones 0', async () => {
    const outcomes = await verifier.score([
      item('HumanEval_23_strlen', '  return string.length;\n}\n'),
      item('HumanEval_23_strlen', '  return string.length + 1;\n}\n'),
      item(
        'HumanEval_55_fib',
        '  let [a, b] = [0, 1];\n  for (let i = 0; i < n; i++) [a, b] = [b, a + b];\n  return a;\n}\n',
      ),
      item('HumanEval_55_fib', '  return n <= 2 ? 1 : n * 2;\n}\n'),
      item(
        'HumanEval_13_greatest_common_divisor',
        '  while (b !== 0) [a, b] = [b, a % b];\n  return Math.abs(a);\n}\n',
      ),
      item('HumanEval_13_greatest_common_divisor', '  return Math.min(a, b);\n}\n'),
      item(
        'HumanEval_0_has_close_elements',
        '  for (let i = 0; i < numbers.length; i++)\n    for (let j = i + 1; j < numbers.length; j++)\n' +
          '      if (Math.abs(numbers[i] - numbers[j]) < threshold) return true;\n  return false;\n}\n',
      ),
      item('HumanEval_0_has_close_elements', '  return numbers.length > 5;\n}\n'),
    ]);
    expect(outcomes.map(summary)).toEqual([
      [1, undefined],
      [0, 'assertion'],
      [1, undefined],
      [0, 'assertion'],
      [1, undefined],
      [0, 'assertion'],
      [1, undefined],
      [0, 'assertion'],
    ]);
  });

  it('takes a fenced whole program and a syntax error is recorded as such', async () => {
    const fenced =
      '```typescript\nfunction strlen(string: string): number {\n  return [...string].length;\n}\n```';
    const outcomes = await verifier.score([
      item('HumanEval_23_strlen', fenced),
      item('HumanEval_23_strlen', '  return string.length;\n'), // missing brace
    ]);
    expect(outcomes.map(summary)).toEqual([
      [1, undefined],
      [0, 'syntax'],
    ]);
  });

  it('fails type errors only when asked to type-check, as MultiPL-E does', async () => {
    // Loose deepEqual accepts "3" for 3, so only the type check catches a string result.
    const stringly = item('HumanEval_23_strlen', '  return String(string.length);\n}\n');
    const [loose] = await verifier.score([stringly]);
    expect(summary(loose)).toEqual([1, undefined]);
    const checked = new CodeVerifier({ typeCheck: true });
    const [strict, fine] = await checked.score([
      stringly,
      item('HumanEval_23_strlen', '  return string.length;\n}\n'),
    ]);
    expect(summary(strict)).toEqual([0, 'type']);
    expect(strict.ok && strict.details?.message).toMatch(
      /^line 7, column 3: Type 'string' is not assignable to type 'number'/,
    );
    expect(summary(fine)).toEqual([1, undefined]);
  });

  it('cuts the completion at stop tokens', () => {
    const program = assembleProgram(
      'function f() {\n',
      '  return 1;\n}\n\nfunction g() {',
      'TESTS',
      ['\nfunction '],
    );
    expect(program).toBe('function f() {\n  return 1;\n}\n\n\nTESTS\n');
  });

  it('bounds the programs running at once', async () => {
    let running = 0;
    let peak = 0;
    const counting = new CodeVerifier({
      maxConcurrent: 2,
      run: async (options) => {
        running++;
        peak = Math.max(peak, running);
        const result = await runProgram(options);
        running--;
        return result;
      },
    });
    const outcomes = await counting.score(
      Array.from({ length: 6 }, () => item('HumanEval_23_strlen', '  return string.length;\n}\n')),
    );
    expect(outcomes.map((o) => o.ok && o.reward)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(peak).toBe(2);
  });

  it('reports a missing test suite as an unscored item', async () => {
    const [outcome] = await verifier.score([{ prompt: 'x', response: 'y' }]);
    expect(outcome).toEqual({ ok: false, reason: 'no tests in reference' });
  });
});

describe('sandbox containment', () => {
  let server: Server;
  let port = 0;
  let connections = 0;

  beforeAll(async () => {
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const escape = `/tmp/rlaif-sandbox-escape-${process.pid}`;
  const hostile: [string, string, string][] = [
    ['reads /etc/passwd', `require('fs').readFileSync('/etc/passwd', 'utf8');`, 'permission'],
    ['writes outside scratch', `require('fs').writeFileSync('${escape}', 'x');`, 'permission'],
    ['opens a socket', `require('net').connect(PORT, '127.0.0.1');`, 'network'],
    ['fetches', `fetch('http://127.0.0.1:PORT/');`, 'network'],
    ['resolves a name', `require('dns').lookup('localhost', () => {});`, 'network'],
    ['spawns a process', `require('child_process').execSync('id');`, 'permission'],
    [
      'starts a worker',
      `new (require('worker_threads').Worker)('1', { eval: true });`,
      'permission',
    ],
    ['signals the host', `process.kill(process.ppid, 'SIGKILL');`, 'permission'],
    ['loops forever', `while (true) {}`, 'timeout'],
    [
      'grows the heap',
      `const a: number[][] = []; while (true) a.push(new Array(1e6).fill(1));`,
      'memory',
    ],
    [
      'grows buffers',
      `const b: Buffer[] = []; while (true) b.push(Buffer.alloc(1e7, 1));`,
      'memory',
    ],
    ['calls process.exit', `process.exit(0);`, 'exit'],
    [
      'fills the disk',
      `require('fs').writeFileSync('big', Buffer.alloc(64 * 1024 * 1024));`,
      'disk',
    ],
    [
      'stubs its assertions',
      `require('node:assert').deepEqual = () => {}; require('node:assert').deepEqual(1, 2);`,
      'assertion',
    ],
  ];

  it.each(hostile)('a program that %s is contained', async (_, body, kind) => {
    const code =
      `declare var require: any;\n${body.replace('PORT', String(port))}\n` +
      `require('node:assert').deepEqual(1, 1);`;
    const result = await runProgram({ code, timeoutMs: 1500, memoryMb: 64 });
    expect(result.passed).toBe(false);
    expect(result.failure?.kind).toBe(kind);
    expect(result.failure?.message.length).toBeGreaterThan(0);
  });

  it('leaves the host untouched', async () => {
    expect(connections).toBe(0);
    expect(existsSync(escape)).toBe(false);
    // The host still runs programs normally after all of the above.
    const result = await runProgram({ code: 'const n: number = 2;\nconsole.log(n * 21);' });
    expect(result).toMatchObject({ passed: true, exitCode: 0, stdout: '42' });
  });

  it('runs in an empty network namespace when unshare works here', async () => {
    const probe = spawnSync('unshare', ['-n', 'true']);
    const code = `console.log(JSON.stringify(Object.keys(require('os').networkInterfaces())));`;
    const result = await runProgram({ code, language: 'js' });
    expect(result.passed).toBe(true);
    const hostInterfaces = Object.keys(networkInterfaces()).filter((name) => name !== 'lo');
    const childInterfaces = JSON.parse(result.stdout) as string[];
    if (probe.status === 0) expect(childInterfaces).toEqual([]);
    else expect(childInterfaces).toEqual(expect.arrayContaining(hostInterfaces));
  });

  it('bounds the output it keeps', async () => {
    const result = await runProgram({
      code: `for (let i = 0; i < 20000; i++) console.log('0123456789');`,
      maxOutputBytes: 1000,
    });
    expect(result.passed).toBe(true);
    expect(result.stdout.startsWith('0123456789\n')).toBe(true);
    expect(result.stdout).toMatch(/\[\d+ bytes dropped\]$/);
  });
});
