/**
 * The schema of a run config: one YAML file naming every stage's inputs and settings. Each
 * field is documented where it is declared (meaning, unit, default, recommended value); the
 * README's config reference is generated from these descriptions. Defaults give the embedded
 * default run (stories260K, embedded judge, PPO), so an empty file is a valid config.
 */
import { z } from 'zod';

const positiveInt = () => z.number().int().positive();

export const policySchema = z.strictObject({
  model: z.string().min(1).default('stories260K').describe(
    'Policy model: a name looked up in the models folder (stories260K) or a path to a llama2.c ' +
      '.bin, a .gguf or a Hugging Face folder. Default stories260K.',
  ),
  tokenizer: z.string().min(1).optional().describe(
    'Tokenizer file for a llama2.c checkpoint; default tok512.bin beside the model.',
  ),
});

export const samplingSchema = z.strictObject({
  k: z.number().int().min(2).max(16).default(4).describe(
    'Responses sampled per prompt for judging; pairs are formed among them. Default 4; 4 is ' +
      'enough for a reward model on a few hundred prompts.',
  ),
  maxNewTokens: positiveInt().max(512).default(32).describe(
    'Longest response, in tokens. Default 32 (about two short sentences of stories260K).',
  ),
  temperature: z.number().min(0).max(2).default(1).describe(
    'Sampling temperature; 0 is greedy. Default 1: the RL maths assumes the model\'s own ' +
      'distribution, so keep 1 unless you know why.',
  ),
  topK: z.number().int().min(0).default(0).describe('Top-k cut-off; 0 disables it. Default 0.'),
  topP: z.number().gt(0).max(1).default(1).describe('Nucleus cut-off; 1 disables it. Default 1.'),
});

export const promptsSchema = z.strictObject({
  train: z.string().min(1).default('prompts/train.txt').describe(
    'Training prompts, one per line (or JSONL with a "prompt" field). Relative paths are ' +
      'relative to the config file. Default prompts/train.txt.',
  ),
  heldOut: z.string().min(1).default('prompts/held-out.txt').describe(
    'Held-out prompts for evaluation only; never used in training. Default prompts/held-out.txt.',
  ),
  maxTrain: positiveInt().optional().default(128).describe(
    'Use at most this many training prompts (the first ones), for sampling, judging and RL. ' +
      'Default 128 (keeps the default run within minutes); raise it for larger runs.',
  ),
  maxHeldOut: positiveInt().optional().describe(
    'Use at most this many held-out prompts. Default: all.',
  ),
});

export const judgeSchema = z.strictObject({
  backend: z.enum(['embedded', 'openai-compatible', 'anthropic', 'gguf']).default('embedded')
    .describe(
      'Who judges: embedded (offline, built from small NLP models), openai-compatible (vLLM, ' +
        'Ollama, llama.cpp server, OpenAI), anthropic, or gguf (a local file through ' +
        'node-llama-cpp). Default embedded.',
    ),
  constitution: z.string().min(1).default('constitutions/stories-for-children.yaml').describe(
    'Constitution file (YAML or JSON), relative to the config file. Default ' +
      'constitutions/stories-for-children.yaml.',
  ),
  model: z.string().min(1).optional().describe(
    'Model name for HTTP backends (e.g. gpt-4o-mini, claude-3-5-haiku-latest, ' +
      'Qwen/Qwen2.5-7B-Instruct), or the path of the .gguf file for the gguf backend.',
  ),
  baseUrl: z.string().url().optional().describe(
    'Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (vLLM), ' +
      'http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8080/v1 (llama.cpp server).',
  ),
  apiKeyEnv: z.string().min(1).optional().describe(
    'Name of the environment variable holding the API key (OPENAI_API_KEY, ' +
      'ANTHROPIC_API_KEY). The key itself never goes in the config.',
  ),
  bothOrders: z.boolean().default(true).describe(
    'Ask each pair in both orders (A/B and B/A) and average, to cancel position bias. ' +
      'Default true; recommended true.',
  ),
  principles: z.enum(['sample', 'all']).default('all').describe(
    'Per comparison, sample one principle (seeded, by weight; the Constitutional AI paper\'s ' +
      'choice) or evaluate all and average. Default all: with a few hundred pairs a small ' +
      'reward model learns the averaged labels far better (84% against ~50% validation ' +
      'accuracy in the default run); sample suits LLM judges and large datasets.',
  ),
  temperature: z.number().positive().default(0.3).describe(
    'Embedded judge only: softness of its preferences, P(A) = sigmoid(score gap / temperature). ' +
      'Lower gives more decisive labels. Default 0.3.',
  ),
  concurrency: positiveInt().max(256).default(4).describe(
    'Judge calls in flight at once. Default 4; raise to 32-64 for a vLLM server.',
  ),
  maxCostUsd: z.number().nonnegative().optional().describe(
    'Stop judging when the estimated spend reaches this many US dollars. Default: no cap.',
  ),
  pairsPerPrompt: positiveInt().optional().default(6).describe(
    'Pairs judged per prompt out of the K(K-1)/2 possible (K/2 disjoint pairs first). ' +
      'Default 6 (all pairs of K = 4): more labels at no extra sampling cost.',
  ),
});

export const rewardModelSchema = z.strictObject({
  enabled: z.boolean().default(true).describe(
    'Train a Bradley-Terry reward model on the preferences. Ignored by dpo and direct. ' +
      'Default true.',
  ),
  epochs: positiveInt().max(100).default(2).describe('Passes over the preferences. Default 2.'),
  lr: z.number().positive().default(3e-4).describe(
    'AdamW learning rate of the reward model. Default 3e-4 (small models); 1e-5 for 1B+.',
  ),
  batchSize: positiveInt().default(16).describe('Pairs per optimiser step. Default 16.'),
  validationFraction: z.number().min(0).max(0.5).default(0.1).describe(
    'Share of preferences held out to measure reward-model accuracy. Default 0.1.',
  ),
  margin: z.number().min(0).default(0).describe(
    'Margin in the Bradley-Terry loss, in reward units. Default 0.',
  ),
});

export const rlSchema = z.strictObject({
  algorithm: z.enum(['ppo', 'rloo', 'grpo', 'reinforce', 'dpo', 'direct']).default('ppo')
    .describe(
      'RL algorithm: ppo (reward model + value head), rloo, grpo, reinforce (with a baseline), ' +
        'dpo (offline, on the preferences) or direct (PPO with the judge as the reward, no ' +
        'reward model). Default ppo.',
    ),
  steps: positiveInt().max(100_000).default(16).describe(
    'Policy updates (PPO iterations). Default 16 for the default run.',
  ),
  promptsPerStep: positiveInt().default(32).describe(
    'Prompts sampled per update (rollout batch). Default 32: with 16 the default run learned ' +
      'under one seed and not under another; 32 halves the gradient noise at twice the cost.',
  ),
  groupSize: positiveInt().default(4).describe(
    'Responses per prompt for rloo and grpo (the group). Default 4.',
  ),
  maxNewTokens: positiveInt().max(512).optional().describe(
    'Response length during RL, in tokens. Default: sampling.maxNewTokens.',
  ),
  lr: z.number().positive().default(1e-4).describe(
    'Policy learning rate (AdamW). Default 1e-4 for stories260K (3e-4 ran the KL past 10 ' +
      'nats within 6 steps); 1e-6 to 1e-5 for 1B+ models.',
  ),
  klCoef: z.number().min(0).default(0.1).describe(
    'Initial beta of the per-token KL penalty to the reference. Default 0.1 (0.05 let the ' +
      'default run reach 11.8 nats).',
  ),
  klTarget: z.number().positive().optional().describe(
    'Target KL (nats per response) for adaptive control; unset (the default) keeps beta fixed. ' +
      'A value near eval.klMax, e.g. 6, is a reasonable start.',
  ),
  klHorizon: positiveInt().default(10_000).describe(
    'Horizon of the adaptive KL controller, in samples. Default 10000 (Ziegler et al.).',
  ),
  epochs: positiveInt().max(16).default(4).describe(
    'PPO epochs per rollout batch. Default 4 (Schulman et al. 2017).',
  ),
  minibatches: positiveInt().default(2).describe('Minibatches per PPO epoch. Default 2.'),
  clipRange: z.number().positive().default(0.2).describe('PPO ratio clip epsilon. Default 0.2.'),
  valueClip: z.number().positive().default(0.2).describe('Value clip range. Default 0.2.'),
  entropyCoef: z.number().min(0).default(0).describe(
    'PPO entropy bonus: weight of the policy\'s entropy in the loss, against collapse onto one ' +
      'phrase the judge likes. Default 0; 0.01 kept diversity on a seed that otherwise repeated ' +
      'itself, at some cost in win rate on the others.',
  ),
  gamma: z.number().min(0).max(1).default(1).describe('Discount. Default 1.'),
  lam: z.number().min(0).max(1).default(1).describe(
    'GAE lambda. Default 1: the reward comes once, at the end, and the value head starts ' +
      'untrained, so bootstrapping from it early (0.95) mostly adds noise in a short run.',
  ),
  dpoBeta: z.number().positive().default(0.1).describe('DPO beta. Default 0.1.'),
  promptBaseline: z.boolean().default(true).describe(
    'Centre each reward on the mean reward of the starting policy\'s K samples for the same ' +
      'prompt (from the sampling stage). Removes the opening\'s share of the reward\'s variance ' +
      'that PPO\'s value head would otherwise have to learn first. Default true.',
  ),
  checkpointEvery: positiveInt().default(4).describe(
    'Save a checkpoint every this many updates; a killed run resumes from the last one. ' +
      'Default 4.',
  ),
});

export const evalSchema = z.strictObject({
  maxNewTokens: positiveInt().max(512).optional().describe(
    'Response length for evaluation, in tokens. Default: the RL response length.',
  ),
  temperature: z.number().min(0).max(2).default(0.7).describe(
    'Sampling temperature of both policies during evaluation. Default 0.7.',
  ),
  evaluator: z.enum(['embedded-heldout', 'judge']).default('embedded-heldout').describe(
    'Who decides the win rate: embedded-heldout (different signals from the training judge: ' +
      'VADER sentiment and repetition) or judge (the training judge itself). Default ' +
      'embedded-heldout.',
  ),
  klMax: z.number().positive().default(8).describe(
    'KL to the reference (nats per response) above which the report raises an alarm. ' +
      'Default 8.',
  ),
  minWinRate: z.number().min(0).max(1).default(0.7).describe(
    'Win rate the report calls a success. Default 0.7.',
  ),
});

export const runConfigSchema = z.strictObject({
  seed: z.number().int().min(0).default(1).describe(
    'Seed of every random choice (sampling, principle choice, shuffles, init). Default 1.',
  ),
  runDir: z.string().min(1).default('runs/quickstart').describe(
    'Run directory, relative to the current folder: config, store.sqlite, checkpoints, ' +
      'metrics.jsonl, preferences.jsonl, report.html. Default runs/quickstart.',
  ),
  policy: policySchema.prefault({}).describe('The policy model that is trained.'),
  reference: z.string().min(1).optional().describe(
    'Frozen reference model for the KL penalty. Default: a copy of the starting policy.',
  ),
  prompts: promptsSchema.prefault({}).describe('Prompt files.'),
  sampling: samplingSchema.prefault({}).describe('How responses are sampled for judging.'),
  judge: judgeSchema.prefault({}).describe('The AI judge and its constitution.'),
  rewardModel: rewardModelSchema.prefault({}).describe('Reward-model training.'),
  rl: rlSchema.prefault({}).describe('The RL stage.'),
  eval: evalSchema.prefault({}).describe('Evaluation against the starting policy.'),
});

export type RunConfig = z.infer<typeof runConfigSchema>;
