/**
 * A scripted OpenAI-compatible Chat Completions server on 127.0.0.1 (node:http): a reply
 * function decides each answer, status, headers and delay. Used by tests of the HTTP backend
 * and by the judge benchmark; it counts requests so callers can prove what was (not) called.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedReply {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string is sent as is. */
  body: unknown;
  /** Milliseconds before answering. Default 0. */
  delayMs?: number;
}

export interface ScriptedServer {
  /** e.g. "http://127.0.0.1:40123/v1" */
  baseUrl: string;
  /** Requests received, including failed ones. */
  requests: number;
  /** Parsed request bodies in arrival order. */
  bodies: unknown[];
  close(): Promise<void>;
}

export type ScriptedHandler = (body: any, index: number) => ScriptedReply | Promise<ScriptedReply>;

export async function startScriptedServer(handler: ScriptedHandler, options: { keepBodies?: boolean } = {}):
  Promise<ScriptedServer> {
  const state = { requests: 0, bodies: [] as unknown[] };
  const keepBodies = options.keepBodies ?? true;
  const server: Server = createServer(async (request, response) => {
    const index = state.requests++;
    try {
      const body = JSON.parse(await readBody(request)) as unknown;
      if (keepBodies) state.bodies.push(body);
      const reply = await handler(body, index);
      if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      if (response.destroyed) return;
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      response.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
      response.end(text);
    } catch (error) {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: String(error) }));
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    get requests() {
      return state.requests;
    },
    get bodies() {
      return state.bodies;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A Chat Completions reply body with one choice, optional per-token log-probs. */
export function chatReply(
  text: string,
  logprobs?: { token: string; logprob: number; top_logprobs?: { token: string; logprob: number }[] }[],
  usage = { prompt_tokens: 10, completion_tokens: 1 },
): Record<string, unknown> {
  return {
    id: 'chatcmpl-scripted',
    object: 'chat.completion',
    choices: [{
      index: 0,
      message: { role: 'assistant', content: text },
      finish_reason: 'stop',
      logprobs: logprobs ? { content: logprobs } : null,
    }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
