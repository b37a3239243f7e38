import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LlamaModel } from '../model/llama.ts';
import { CausalLMBackend } from '../providers/causal-lm.ts';
import { OpenAIBackend } from '../providers/openai.ts';
import { sharedModelsDir } from '../util/paths.ts';
import { startOpenAIServer, type OpenAIServer } from './openai-server.ts';

// Greedy continuation of "Once upon a time" by stories260K, as measured with independent code.
const GREEDY = ', there was a little girl named Lily. She loved to play outside in the park.';

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

describe('OpenAI-compatible endpoint over the in-process stories260K', () => {
  let server: OpenAIServer;
  let model: LlamaModel;

  beforeAll(async () => {
    model = await LlamaModel.fromLlama2c(join(sharedModelsDir(), 'stories260K', 'stories260K.bin'));
    const backend = new CausalLMBackend({ model, id: 'local:stories260K' });
    server = await startOpenAIServer({
      backend,
      modelName: 'stories260K',
      port: 0,
      clock: () => 1_700_000_000,
    });
  });
  afterAll(async () => {
    await server.close();
    model.dispose();
  });

  it('lists its model', async () => {
    const response = await fetch(`${server.url}/models`);
    expect(await response.json()).toEqual({
      object: 'list',
      data: [{ id: 'stories260K', object: 'model', created: 1_700_000_000, owned_by: 'rlaif' }],
    });
  });

  it('completes greedily with the reference text, with usage and logprobs', async () => {
    const { status, json } = await post(`${server.url}/completions`, {
      model: 'stories260K',
      prompt: 'Once upon a time',
      max_tokens: 40,
      temperature: 0,
      stop: ' park.',
      logprobs: 2,
    });
    expect(status).toBe(200);
    const choice = json.choices[0];
    expect(choice.text + ' park.').toBe(GREEDY);
    expect(choice.finish_reason).toBe('stop');
    expect(json).toMatchObject({
      object: 'text_completion',
      model: 'stories260K',
      created: 1_700_000_000,
    });
    expect(choice.logprobs.tokens.join('')).toContain(choice.text.slice(0, 20));
    expect(choice.logprobs.token_logprobs.every((l: number) => l <= 0)).toBe(true);
    expect(Object.keys(choice.logprobs.top_logprobs[0])).toHaveLength(2);
    expect(json.usage.completion_tokens).toBe(choice.logprobs.tokens.length);
    expect(json.usage.total_tokens).toBe(json.usage.prompt_tokens + json.usage.completion_tokens);
  });

  it("answers rlaif's own OpenAI client over chat completions", async () => {
    const client = new OpenAIBackend({
      model: 'stories260K',
      baseUrl: server.url,
      apiKey: 'unused',
    });
    const result = await client.complete({
      messages: [{ role: 'user', content: 'Once upon a time' }],
      maxTokens: 20,
      temperature: 0,
    });
    expect(GREEDY.startsWith(result.text)).toBe(true);
    expect(result.text.length).toBeGreaterThan(20);
    expect(result.finishReason).toBe('length');
    expect(result.usage.completionTokens).toBe(20);
  });

  it('streams the reply as server-sent events ending in [DONE]', async () => {
    const response = await fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'stories260K',
        messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 8,
        temperature: 0,
        stream: true,
      }),
    });
    const events = (await response.text())
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6));
    expect(events[events.length - 1]).toBe('[DONE]');
    const first = JSON.parse(events[0]);
    expect(first.object).toBe('chat.completion.chunk');
    expect(GREEDY.startsWith(first.choices[0].delta.content)).toBe(true);
    expect(JSON.parse(events[1]).choices[0].finish_reason).toBe('length');
  });

  it('rejects malformed requests with OpenAI-style errors', async () => {
    const noMessages = await post(`${server.url}/chat/completions`, {
      model: 'stories260K',
      messages: [],
    });
    expect(noMessages.status).toBe(400);
    expect(noMessages.json.error).toMatchObject({
      type: 'invalid_request_error',
      param: 'messages',
    });

    const badTemperature = await post(`${server.url}/completions`, {
      model: 'stories260K',
      prompt: 'x',
      temperature: 9,
    });
    expect(badTemperature.status).toBe(400);
    expect(badTemperature.json.error.param).toBe('temperature');

    const wrongModel = await post(`${server.url}/completions`, { model: 'gpt-4o', prompt: 'x' });
    expect(wrongModel.status).toBe(404);
    expect(wrongModel.json.error.code).toBe('model_not_found');

    const huge = await post(`${server.url}/completions`, {
      model: 'stories260K',
      prompt: 'x'.repeat(5 * 1024 * 1024),
    });
    expect(huge.status).toBe(413);
    expect(huge.json.error.code).toBe('request_too_large');

    const notJson = await post(`${server.url}/completions`, '{nope');
    expect(notJson).toEqual({
      status: 400,
      json: {
        error: {
          message: 'body is not valid JSON',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_json',
        },
      },
    });
  });
});
