/**
 * `rlaif serve reward`: the OpenRLHF-compatible reward endpoint over verifiers, judges and
 * reward models, alone or as a weighted mixture.
 * `rlaif serve openai`: an OpenAI-compatible endpoint for a local model (llama2.c `.bin`, a
 * Hugging Face folder, or a `.gguf` through node-llama-cpp). Both bind 127.0.0.1 unless told
 * otherwise and run until interrupted.
 */
import type { Command } from 'commander';

import { RewardMixture, type MixtureComponent } from '../rewards/mixture.ts';
import { NumericAnswerVerifier } from '../rewards/numeric-answer.ts';
import { ExactMatchVerifier, FormatVerifier, RegexVerifier } from '../rewards/text-checks.ts';
import type { RewardSource } from '../rewards/types.ts';
import { loadTextBackend } from '../serve/openai-backends.ts';
import { startOpenAIServer } from '../serve/openai-server.ts';
import { startRewardServer } from '../serve/reward-server.ts';
import { InputError } from '../util/errors.ts';
import { createLogger } from '../util/log.ts';

/**
 * Reward sources by name; the label (OpenRLHF's `labels`) is each item's reference. Judges and
 * the sandbox load only when named, so a verifier-only server starts fast.
 */
const sourceFactories: Record<string, () => RewardSource | Promise<RewardSource>> = {
  numeric: () => new NumericAnswerVerifier(),
  exact: () => new ExactMatchVerifier(),
  regex: () => new RegexVerifier(),
  json: () => new FormatVerifier({ id: 'verifier:json', json: true }),
  code: async () => new (await import('../rewards/sandbox/code-verifier.ts')).CodeVerifier(),
  'code-typed': async () => {
    const { CodeVerifier } = await import('../rewards/sandbox/code-verifier.ts');
    return new CodeVerifier({ id: 'verifier:code-typed', typeCheck: true });
  },
  // Judges compare the response with the label as a baseline answer; reward P(better) - 0.5.
  'judge-default': () => judgeSource('default'),
  'judge-evaluator': () => judgeSource('evaluator'),
};

async function judgeSource(which: 'default' | 'evaluator'): Promise<RewardSource> {
  const { createDefaultJudge, createEvaluatorJudge } = await import('../judge/default-judges.ts');
  const { JudgeReward } = await import('../rewards/judge-reward.ts');
  const judge = which === 'default' ? createDefaultJudge() : createEvaluatorJudge();
  return new JudgeReward({ judge, center: 0.5 });
}

/**
 * "name[:weight][:optional]" -> a mixture component; "rm=<folder>[:weight][:optional]" is a
 * reward model saved by `rlaif train-rm`.
 */
export async function parseSourceSpec(spec: string): Promise<MixtureComponent> {
  const [name, weightText, flag, ...rest] = spec.split(':');
  const rmFolder = name.startsWith('rm=') ? name.slice(3) : undefined;
  const factory = rmFolder === undefined ? sourceFactories[name] : undefined;
  if ((!factory && !rmFolder) || rest.length > 0 || (flag !== undefined && flag !== 'optional')) {
    throw new InputError(
      `"${spec}" is not name[:weight][:optional] with name rm=<folder> or one of ` +
        Object.keys(sourceFactories).join(', '),
      { field: '--source' },
    );
  }
  const weight = weightText === undefined || weightText === '' ? 1 : Number(weightText);
  if (!Number.isFinite(weight) || weight < 0) {
    throw new InputError(`weight in "${spec}" must be a number >= 0`, { field: '--source' });
  }
  let source: RewardSource;
  if (rmFolder !== undefined) {
    const { RewardModel } = await import('../train/reward-model.ts');
    source = await RewardModel.load(rmFolder);
  } else {
    source = await factory!();
  }
  return { source, weight, required: flag !== 'optional' };
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InputError('must be 0-65535', { field: '--port' });
  return port;
}

function untilInterrupted(close: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => void close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

export function register(program: Command): void {
  const serveCommand = program
    .command('serve')
    .description('HTTP endpoints: reward (OpenRLHF) and OpenAI-compatible');

  serveCommand
    .command('reward')
    .description("reward endpoint speaking OpenRLHF's remote reward-model protocol")
    .option(
      '--source <spec...>',
      `name[:weight][:optional], repeatable; names: rm=<reward model folder>, ${Object.keys(sourceFactories).join(', ')}`,
      ['numeric'],
    )
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--port <port>', 'port (0 picks one)', '5000')
    .option(
      '--failure-reward <r>',
      'reward for items that cannot be scored (default: the request fails)',
    )
    .option('--max-wait-ms <ms>', 'how long a request waits to be batched with others', '5')
    .action(
      async (options: {
        source: string[];
        host: string;
        port: string;
        failureReward?: string;
        maxWaitMs: string;
      }) => {
        const components = await Promise.all(options.source.map(parseSourceSpec));
        const source =
          components.length === 1 && components[0].weight === 1
            ? components[0].source
            : new RewardMixture({ components });
        const failureReward =
          options.failureReward === undefined ? undefined : Number(options.failureReward);
        if (failureReward !== undefined && !Number.isFinite(failureReward)) {
          throw new InputError('must be a number', { field: '--failure-reward' });
        }
        const logger = createLogger();
        const server = await startRewardServer({
          source,
          host: options.host,
          port: parsePort(options.port),
          failureReward,
          maxWaitMs: Number(options.maxWaitMs),
          logger,
        });
        logger.info(
          { url: server.url, source: source.id },
          'reward endpoint ready (use as --remote_rm_url)',
        );
        process.stdout.write(`${server.url}\n`);
        await untilInterrupted(server.close);
      },
    );

  serveCommand
    .command('openai')
    .description(
      'OpenAI-compatible /v1/chat/completions, /v1/completions, /v1/models for a local model',
    )
    .requiredOption('--model <path>', 'llama2.c .bin, model folder, or .gguf')
    .option('--name <name>', 'model name clients send (default: file name)')
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--port <port>', 'port (0 picks one)', '8000')
    .action(async (options: { model: string; name?: string; host: string; port: string }) => {
      const logger = createLogger();
      const { backend, name, dispose } = await loadTextBackend(options.model);
      const server = await startOpenAIServer({
        backend,
        modelName: options.name ?? name,
        host: options.host,
        port: parsePort(options.port),
      });
      logger.info(
        { url: server.url, model: options.name ?? name },
        'OpenAI-compatible endpoint ready',
      );
      process.stdout.write(`${server.url}\n`);
      await untilInterrupted(server.close);
      await dispose();
    });
}
