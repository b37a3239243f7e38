/**
 * The in-process model (any CausalLM, e.g. LlamaModel) as a TextBackend. Generation goes
 * through the model's own sampler; when top alternatives are asked for, one teacher-forced
 * forward pass over prompt + reply gives the full next-token distribution at each position.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { CausalLM } from '../model/types.ts';
import type { ChatMessage, CompletionRequest, CompletionResult, TextBackend, TokenLogprob } from './types.ts';

export interface CausalLMBackendOptions {
  model: CausalLM;
  /** Identity in cache keys, e.g. "local:stories260K". Required: weights change in training. */
  id: string;
  /** How chat turns become one prompt. Default: contents joined by blank lines. */
  renderMessages?: (messages: ChatMessage[]) => string;
}

export class CausalLMBackend implements TextBackend {
  readonly id: string;
  readonly supportsLogprobs = true;
  private readonly model: CausalLM;
  private readonly render: (messages: ChatMessage[]) => string;

  constructor(options: CausalLMBackendOptions) {
    this.model = options.model;
    this.id = options.id;
    this.render = options.renderMessages ?? ((messages) => messages.map((m) => m.content).join('\n\n'));
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const { tokenizer } = this.model;
    const promptIds = tokenizer.encode(request.prompt ?? this.render(request.messages ?? []), { bos: true });
    const room = this.model.config.maxSeqLen - promptIds.length;
    if (room <= 0) throw new RangeError(`prompt of ${promptIds.length} tokens fills the model's context`);

    const [generated] = await this.model.generate([promptIds], {
      maxNewTokens: Math.min(request.maxTokens, room),
      temperature: request.temperature ?? 0,
      topK: request.topK,
      topP: request.topP,
      stop: request.stop,
      seed: request.seed,
    });
    const wantTop = (request.topLogprobs ?? 0) > 0 && generated.tokens.length > 0;
    const logprobs: TokenLogprob[] = wantTop
      ? this.alternatives(promptIds, generated.tokens, request.topLogprobs!)
      : generated.tokens.map((id, i) => ({ token: tokenizer.piece(id), logprob: generated.logprobs[i] }));

    return {
      text: generated.text,
      logprobs,
      finishReason: generated.finishReason === 'length' ? 'length' : 'stop',
      usage: { promptTokens: promptIds.length, completionTokens: generated.tokens.length },
    };
  }

  /** Log-probs of each generated token and its top-n alternatives from one forward pass. */
  private alternatives(promptIds: number[], reply: number[], topN: number): TokenLogprob[] {
    const { tokenizer } = this.model;
    const ids = [...promptIds, ...reply];
    const [values, indices, chosen] = tf.tidy(() => {
      const input = tf.tensor2d([ids], [1, ids.length], 'int32'); // [1, seqLen]
      const { logits } = this.model.forward(input);
      // Rows that predict the reply: positions promptLen-1 .. seqLen-2. [replyLen, vocab]
      const window = tf.slice(logits, [0, promptIds.length - 1, 0], [1, reply.length, -1]);
      const rows = tf.squeeze(window, [0]) as tf.Tensor2D;
      const logProbs = tf.logSoftmax(rows);
      const top = tf.topk(logProbs, Math.min(topN, this.model.config.vocabSize));
      const picked = tf.gather(tf.reshape(logProbs, [-1]),
        tf.tensor1d(reply.map((id, i) => i * this.model.config.vocabSize + id), 'int32'));
      return [top.values, top.indices, picked];
    });
    const topValues = values.arraySync() as number[][];
    const topIndices = indices.arraySync() as number[][];
    const chosenValues = chosen.arraySync() as number[];
    tf.dispose([values, indices, chosen]);

    return reply.map((id, i) => ({
      token: tokenizer.piece(id),
      logprob: chosenValues[i],
      top: topIndices[i].map((alt, k) => ({ token: tokenizer.piece(alt), logprob: topValues[i][k] })),
    }));
  }
}
