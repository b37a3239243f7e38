/**
 * The reward endpoint that distributed RL trainers call: OpenRLHF's remote reward-model
 * protocol (`--remote_rm_url http://host:port/get_reward`). A request is
 *
 *   POST {"query": [prompt+response, ...], "prompts": [prompt, ...], "labels": [label, ...]}
 *
 * (`prompts` and `labels` optional, as older OpenRLHF versions send only `query`), and the reply
 *
 *   {"rewards": [r, ...], "scores": [r, ...], "extra_logs": {"rlaif/failed": [0|1, ...]}}
 *
 * where the response scored is the query with its prompt prefix removed and the label is the
 * item's reference (a verifier's ground truth). Items of concurrent requests are scored together
 * through a RewardBatcher. A malformed request gets a 400 with the reason; it never reaches the
 * batch, so it cannot disturb other requests.
 */
import type { AddressInfo } from 'node:net';

import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';

import type { RewardItem, RewardSource } from '../rewards/types.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import { RewardBatcher, type RewardBatcherOptions } from './reward-batcher.ts';

export interface RewardAppOptions extends Omit<RewardBatcherOptions, 'source'> {
  source: RewardSource;
  /**
   * Reward given to an item the source could not score. Default undefined: the whole request
   * fails with 502 naming the items, since OpenRLHF retries a failed request.
   */
  failureReward?: number;
  /** Largest request body. Default 32 MiB. */
  maxBodyBytes?: number;
  /** Most items in one request. Default 8192. */
  maxItems?: number;
  logger?: Logger;
}

const requestSchema = z
  .object({
    query: z.array(z.string()),
    prompts: z.array(z.string()).optional(),
    labels: z.array(z.union([z.string(), z.number(), z.null()])).optional(),
  })
  .refine((r) => r.prompts === undefined || r.prompts.length === r.query.length, {
    message: 'must have as many entries as "query"',
    path: ['prompts'],
  })
  .refine((r) => r.labels === undefined || r.labels.length === r.query.length, {
    message: 'must have as many entries as "query"',
    path: ['labels'],
  });

export type RewardRequest = z.infer<typeof requestSchema>;

/** The items a request stands for: each query split into prompt and response. */
export function requestItems(request: RewardRequest): RewardItem[] {
  return request.query.map((query, i) => {
    const prompt = request.prompts?.[i] ?? '';
    const response = prompt !== '' && query.startsWith(prompt) ? query.slice(prompt.length) : query;
    const label = request.labels?.[i];
    const item: RewardItem = { prompt, response };
    if (label !== undefined && label !== null && label !== '') item.reference = String(label);
    return item;
  });
}

export function createRewardApp(options: RewardAppOptions): { app: Hono; batcher: RewardBatcher } {
  const logger = options.logger ?? silentLogger;
  const batcher = new RewardBatcher({ ...options, source: options.source });
  const maxItems = options.maxItems ?? 8192;
  const app = new Hono();

  app.get('/health', (c) => c.json({ ok: true, source: options.source.id, ...batcher.stats }));

  const handler = app.post.bind(app);
  for (const path of ['/get_reward', '/']) {
    handler(
      path,
      bodyLimit({
        maxSize: options.maxBodyBytes ?? 32 * 1024 * 1024,
        onError: (c) => c.json({ error: 'request body too large' }, 413),
      }),
      async (c) => {
        let body: unknown;
        try {
          body = await c.req.json();
        } catch {
          return c.json({ error: 'body is not valid JSON' }, 400);
        }
        const parsed = requestSchema.safeParse(body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const field = issue.path.length > 0 ? `field "${issue.path.join('.')}": ` : '';
          return c.json({ error: `${field}${issue.message}` }, 400);
        }
        if (parsed.data.query.length > maxItems) {
          return c.json({ error: `field "query": at most ${maxItems} items per request` }, 400);
        }

        let outcomes;
        try {
          outcomes = await batcher.score(requestItems(parsed.data));
        } catch (error) {
          logger.error({ err: error }, 'reward source failed');
          return c.json({ error: `reward source failed: ${(error as Error).message}` }, 502);
        }

        const failed = outcomes.flatMap((o, i) => (o.ok ? [] : [`${i}: ${o.reason}`]));
        if (failed.length > 0 && options.failureReward === undefined) {
          return c.json({ error: `could not score items ${failed.slice(0, 10).join('; ')}` }, 502);
        }
        const rewards = outcomes.map((o) => (o.ok ? o.reward : options.failureReward!));
        return c.json({
          rewards,
          scores: rewards,
          extra_logs: { 'rlaif/failed': outcomes.map((o) => (o.ok ? 0 : 1)) },
        });
      },
    );
  }
  return { app, batcher };
}

export interface RewardServer {
  url: string;
  port: number;
  batcher: RewardBatcher;
  close(): Promise<void>;
}

export interface RewardServerOptions extends RewardAppOptions {
  /** Default 127.0.0.1: only this machine can call it unless asked otherwise. */
  host?: string;
  /** 0 picks a free port. Default 5000 (OpenRLHF's example port). */
  port?: number;
}

export async function startRewardServer(options: RewardServerOptions): Promise<RewardServer> {
  const { app, batcher } = createRewardApp(options);
  const host = options.host ?? '127.0.0.1';
  const server: ServerType = await new Promise((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 5000 }, () =>
      resolve(started),
    );
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/get_reward`,
    port,
    batcher,
    close: () => new Promise((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
