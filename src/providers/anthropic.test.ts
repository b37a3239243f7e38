import { afterEach, describe, expect, it } from 'vitest';

import { LlmPairwiseJudge } from '../judge/pairwise.ts';
import type { PairwiseVerdict } from '../judge/types.ts';
import { AnthropicBackend } from './anthropic.ts';
import { ManagedBackend } from './managed.ts';
import { startScriptedServer, type ScriptedServer } from './scripted-server.ts';

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('Anthropic Messages backend on a loopback server', () => {
  it('sends the system prompt apart, reads text blocks, and judges by parsing', async () => {
    server = await startScriptedServer((body) => {
      const user = body.messages[body.messages.length - 1].content as string;
      const verdict = user.indexOf('Paris.') < user.indexOf('Lyon.') ? 'A' : 'B';
      return {
        body: {
          id: 'msg_1', type: 'message', role: 'assistant', model: body.model, stop_reason: 'end_turn',
          content: [{ type: 'text', text: `Paris is the capital.\nVerdict: ${verdict}` }],
          usage: { input_tokens: 50, output_tokens: 8 },
        },
      };
    });
    const backend = new ManagedBackend({
      backend: new AnthropicBackend({ model: 'claude-3-5-haiku-latest', baseUrl: server.baseUrl.replace(/\/v1$/, ''), apiKey: 'sk-ant' }),
    });
    const judge = new LlmPairwiseJudge({
      backend,
      constitution: { name: 'c', principles: [{ id: 'p', text: 'Choose the correct answer.', weight: 1 }] },
      chainOfThought: true,
    });
    const verdict = (await judge.compare({ prompt: 'Capital of France?', a: 'Paris.', b: 'Lyon.' })) as PairwiseVerdict;
    expect(verdict).toMatchObject({ ok: true, pA: 1, choice: 'A', consistent: true, source: 'parsed' });
    expect(verdict.rationale).toBe('Paris is the capital.\n---\nParis is the capital.');
    const sent = server.bodies[0] as { system: string; messages: { role: string }[]; max_tokens: number };
    expect(sent.system).toMatch(/impartial judge/);
    expect(sent.messages.map((m) => m.role)).toEqual(['user']);
    expect(sent.max_tokens).toBe(512);
    // 2 calls x (50 x $0.80 + 8 x $4) per million tokens.
    expect(verdict.usage!.costUsd).toBeCloseTo(2 * (50 * 0.8 + 8 * 4) / 1e6, 15);
  });
});
