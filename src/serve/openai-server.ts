/**
 * An OpenAI-compatible endpoint for local models: `/v1/chat/completions`, `/v1/completions` and
 * `/v1/models`, over any TextBackend (the in-process CausalLM through CausalLMBackend, a GGUF
 * through node-llama-cpp). OpenAI clients, judges written for OpenAI and tools such as evaluation
 * harnesses can then talk to a model rlaif trained. Requests are validated with zod and errors use
 * OpenAI's `{error: {message, type, param, code}}` shape. Generation is serialised
 * (`maxConcurrent`, default 1) because a local model computes one batch at a time anyway.
 * Streaming is answered with the whole reply as one chunk: clients that ask for a stream work,
 * without token-by-token latency.
 */
import type { AddressInfo } from 'node:net';

import { serve, type ServerType } from '@hono/node-server';
import Bottleneck from 'bottleneck';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';

import type { CompletionRequest, CompletionResult, TextBackend } from '../providers/types.ts';

export interface OpenAIAppOptions {
  backend: TextBackend;
  /** Model name clients send and `/v1/models` lists. Default the backend id. */
  modelName?: string;
  /** Calls to the backend at once. Default 1. */
  maxConcurrent?: number;
  /** Largest max_tokens accepted. Default 2048. */
  maxTokensLimit?: number;
  /** Largest request body. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Unix seconds for `created`. Default Date.now() / 1000. */
  clock?: () => number;
  /** Ids of responses. Default a counter: "cmpl-1", "cmpl-2", ... */
  newId?: () => string;
}

const stop = z.union([z.string(), z.array(z.string()).max(4)]).optional();
const sampling = {
  model: z.string(),
  max_tokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  stop,
  seed: z.number().int().optional(),
  n: z.literal(1).optional(),
  stream: z.boolean().optional(),
  user: z.string().optional(),
};

const chatSchema = z.object({
  ...sampling,
  messages: z
    .array(
      z.object({ role: z.enum(['system', 'user', 'assistant', 'developer']), content: z.string() }),
    )
    .min(1),
  max_completion_tokens: z.number().int().positive().optional(),
  logprobs: z.boolean().optional(),
  top_logprobs: z.number().int().min(0).max(20).optional(),
});

const completionSchema = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
  logprobs: z.number().int().min(0).max(5).optional(),
  echo: z.literal(false).optional(),
});

type ErrorStatus = 400 | 404 | 413 | 500;

function openAIError(
  c: Context,
  status: ErrorStatus,
  message: string,
  param: string | null,
  code: string | null,
) {
  const type = status === 500 ? 'server_error' : 'invalid_request_error';
  return c.json({ error: { message, type, param, code } }, status);
}

export function createOpenAIApp(options: OpenAIAppOptions): Hono {
  const modelName = options.modelName ?? options.backend.id;
  const limiter = new Bottleneck({ maxConcurrent: options.maxConcurrent ?? 1 });
  const clock = options.clock ?? (() => Math.floor(Date.now() / 1000));
  let counter = 0;
  const newId = options.newId ?? (() => `cmpl-${++counter}`);
  const maxTokensLimit = options.maxTokensLimit ?? 2048;
  const app = new Hono();
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: options.maxBodyBytes ?? 4 * 1024 * 1024,
      onError: (c) => openAIError(c, 413, 'request body too large', null, 'request_too_large'),
    }),
  );

  /** Parses the body with `schema`; returns the data or an OpenAI-style 400/404 response. */
  async function validate<T extends z.ZodType>(
    c: Context,
    schema: T,
  ): Promise<z.infer<T> | Response> {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return openAIError(c, 400, 'body is not valid JSON', null, 'invalid_json');
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue.path.join('.') || null;
      return openAIError(
        c,
        400,
        `${param ? `${param}: ` : ''}${issue.message}`,
        param,
        'invalid_value',
      );
    }
    const data = parsed.data as { model: string; max_tokens?: number };
    if (data.model !== modelName) {
      return openAIError(
        c,
        404,
        `The model '${data.model}' does not exist; this server has '${modelName}'`,
        'model',
        'model_not_found',
      );
    }
    if ((data.max_tokens ?? 0) > maxTokensLimit) {
      return openAIError(
        c,
        400,
        `max_tokens: at most ${maxTokensLimit}`,
        'max_tokens',
        'invalid_value',
      );
    }
    return parsed.data;
  }

  async function run(c: Context, request: CompletionRequest): Promise<CompletionResult | Response> {
    try {
      return await limiter.schedule(() => options.backend.complete(request, c.req.raw.signal));
    } catch (error) {
      return openAIError(c, 500, `generation failed: ${(error as Error).message}`, null, null);
    }
  }

  const usageOf = (r: CompletionResult) => ({
    prompt_tokens: r.usage.promptTokens,
    completion_tokens: r.usage.completionTokens,
    total_tokens: r.usage.promptTokens + r.usage.completionTokens,
  });
  const finish = (r: CompletionResult) => (r.finishReason === 'length' ? 'length' : 'stop');
  const stopList = (s: string | string[] | undefined) =>
    s === undefined ? undefined : Array.isArray(s) ? s : [s];

  app.get('/v1/models', (c) =>
    c.json({
      object: 'list',
      data: [{ id: modelName, object: 'model', created: clock(), owned_by: 'rlaif' }],
    }),
  );

  app.post('/v1/chat/completions', async (c) => {
    const body = await validate(c, chatSchema);
    if (body instanceof Response) return body;
    const wantLogprobs = body.logprobs === true;
    const result = await run(c, {
      messages: body.messages.map((m) => ({
        role: m.role === 'developer' ? 'system' : m.role,
        content: m.content,
      })),
      maxTokens: body.max_completion_tokens ?? body.max_tokens ?? 256,
      temperature: body.temperature ?? 1,
      topP: body.top_p,
      stop: stopList(body.stop),
      seed: body.seed,
      topLogprobs: wantLogprobs ? body.top_logprobs : undefined,
    });
    if (result instanceof Response) return result;

    const id = `chat${newId()}`;
    const created = clock();
    const logprobs =
      wantLogprobs && result.logprobs
        ? {
            content: result.logprobs.map((t) => ({
              token: t.token,
              logprob: t.logprob,
              bytes: [...Buffer.from(t.token, 'utf8')],
              top_logprobs: (t.top ?? []).map((a) => ({
                token: a.token,
                logprob: a.logprob,
                bytes: [...Buffer.from(a.token, 'utf8')],
              })),
            })),
          }
        : null;

    if (body.stream) {
      return streamSSE(c, async (stream) => {
        const chunk = (delta: object, finishReason: string | null) => ({
          id,
          object: 'chat.completion.chunk',
          created,
          model: modelName,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        });
        await stream.writeSSE({
          data: JSON.stringify(chunk({ role: 'assistant', content: result.text }, null)),
        });
        await stream.writeSSE({ data: JSON.stringify(chunk({}, finish(result))) });
        await stream.writeSSE({ data: '[DONE]' });
      });
    }
    return c.json({
      id,
      object: 'chat.completion',
      created,
      model: modelName,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: result.text },
          logprobs,
          finish_reason: finish(result),
        },
      ],
      usage: usageOf(result),
    });
  });

  app.post('/v1/completions', async (c) => {
    const body = await validate(c, completionSchema);
    if (body instanceof Response) return body;
    const prompt = Array.isArray(body.prompt) ? body.prompt[0] : body.prompt;
    const topN = body.logprobs;
    const result = await run(c, {
      prompt,
      maxTokens: body.max_tokens ?? 16,
      temperature: body.temperature ?? 1,
      topP: body.top_p,
      stop: stopList(body.stop),
      seed: body.seed,
      topLogprobs: topN && topN > 0 ? topN : undefined,
    });
    if (result instanceof Response) return result;

    const logprobs =
      topN !== undefined && result.logprobs
        ? {
            tokens: result.logprobs.map((t) => t.token),
            token_logprobs: result.logprobs.map((t) => t.logprob),
            top_logprobs: result.logprobs.map((t) =>
              Object.fromEntries((t.top ?? []).map((a) => [a.token, a.logprob])),
            ),
            text_offset: offsets(
              prompt.length,
              result.logprobs.map((t) => t.token),
            ),
          }
        : null;
    const response = {
      id: newId(),
      object: 'text_completion',
      created: clock(),
      model: modelName,
      choices: [{ text: result.text, index: 0, logprobs, finish_reason: finish(result) }],
      usage: usageOf(result),
    };
    if (body.stream) {
      return streamSSE(c, async (stream) => {
        await stream.writeSSE({ data: JSON.stringify(response) });
        await stream.writeSSE({ data: '[DONE]' });
      });
    }
    return c.json(response);
  });

  app.notFound((c) =>
    openAIError(c, 404, `no route ${c.req.method} ${c.req.path}`, null, 'not_found'),
  );
  return app;
}

function offsets(start: number, tokens: string[]): number[] {
  const out: number[] = [];
  let at = start;
  for (const token of tokens) {
    out.push(at);
    at += token.length;
  }
  return out;
}

export interface OpenAIServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startOpenAIServer(
  options: OpenAIAppOptions & { host?: string; port?: number },
): Promise<OpenAIServer> {
  const app = createOpenAIApp(options);
  const host = options.host ?? '127.0.0.1';
  const server: ServerType = await new Promise((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 8000 }, () =>
      resolve(started),
    );
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`,
    port,
    close: () => new Promise((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
