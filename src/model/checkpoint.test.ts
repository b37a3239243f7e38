import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { permuteRopeRows, withRopeStyle } from './hf-layout.ts';
import { readSafetensors, tensorToFloat32 } from './safetensors.ts';
import { maxLogitDifference, randomWeights, referenceLogits } from './test-support/reference-forward.ts';
import type { LlamaConfig } from './types.ts';

const scratch = await mkdtemp(join(tmpdir(), 'rlaif-checkpoint-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

const interleaved: LlamaConfig = {
  dim: 16, hiddenDim: 24, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 20, maxSeqLen: 32,
  normEps: 1e-5, ropeTheta: 10000, ropeStyle: 'interleaved', tiedEmbeddings: false, qkvBias: false,
};
const tokens = [1, 5, 7, 3, 19, 2, 11];

describe('RoPE row permutation', () => {
  it('maps interleaved pairs (2i, 2i+1) onto half pairs (i, i + hd/2) per head', () => {
    // 2 heads of headDim 4, one column: row r holds the value r.
    const rows = Float32Array.from({ length: 8 }, (_, r) => r);
    expect([...permuteRopeRows(rows, 2, 4, 'half')]).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    expect([...permuteRopeRows(permuteRopeRows(rows, 2, 4, 'half'), 2, 4, 'interleaved')]).toEqual([...rows]);
  });

  it('leaves the logits unchanged when the RoPE convention changes with the rows', () => {
    const weights = randomWeights({ ...interleaved, qkvBias: true }, 3);
    const half = withRopeStyle({ ...interleaved, qkvBias: true }, weights, 'half');
    const before = referenceLogits({ ...interleaved, qkvBias: true }, weights, tokens);
    const after = referenceLogits(half.config, half.weights, tokens);
    expect(maxLogitDifference(before, after)).toBeLessThan(1e-9);
    // Without the permutation the same switch changes the model: the test can fail.
    const wrong = referenceLogits({ ...interleaved, qkvBias: true, ropeStyle: 'half' }, weights, tokens);
    expect(maxLogitDifference(before, wrong)).toBeGreaterThan(1e-3);
  });
});

describe('checkpoints', () => {
  it('saves HF names and config, and loads back exactly what was saved', async () => {
    const weights = randomWeights(interleaved, 7);
    const dir = join(scratch, 'untied');
    const valueHead = { shape: [1, 16], data: Float32Array.from({ length: 16 }, (_, i) => i / 10) };
    await saveCheckpoint(dir, interleaved, weights, { extra: { 'v_head.weight': valueHead }, bosId: 1, eosId: 2 });

    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 16, intermediate_size: 24,
      num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 20,
      rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1,
    });
    const file = await readSafetensors(join(dir, 'model.safetensors'));
    expect(file.metadata.format).toBe('pt');
    expect(file.tensors.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([8, 16]);
    expect(file.tensors.get('lm_head.weight')!.shape).toEqual([20, 16]);
    // q rows are stored in the HF (half) order: head 0 row 1 of the file is interleaved row 2.
    const storedQ = tensorToFloat32(file.tensors.get('model.layers.0.self_attn.q_proj.weight')!, 'f', 'q');
    expect([...storedQ.subarray(16, 32)]).toEqual([...weights.layers[0].wq.subarray(32, 48)]);

    const loaded = await loadCheckpoint(dir);
    expect(loaded.config).toEqual(interleaved);
    expect(loaded.weights).toEqual(weights);
    expect([...loaded.extra.keys()]).toEqual(['v_head.weight']);
    expect(loaded.extra.get('v_head.weight')).toEqual(valueHead);
    expect(maxLogitDifference(
      referenceLogits(loaded.config, loaded.weights, tokens),
      referenceLogits(interleaved, weights, tokens),
    )).toBe(0);
  });

  it('round-trips a tied qwen2-style model with biases', async () => {
    const config: LlamaConfig = { ...interleaved, ropeStyle: 'half', tiedEmbeddings: true, qkvBias: true };
    const weights = randomWeights(config, 9);
    const dir = join(scratch, 'qwen');
    await saveCheckpoint(dir, config, weights);
    const hf = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(hf.model_type).toBe('qwen2');
    const file = await readSafetensors(join(dir, 'model.safetensors'));
    expect(file.tensors.has('lm_head.weight')).toBe(false);
    expect(file.tensors.has('model.layers.0.self_attn.q_proj.bias')).toBe(true);
    const loaded = await loadCheckpoint(dir);
    expect(loaded.config).toEqual(config);
    expect(loaded.weights).toEqual(weights);
  });

  it('names the file and field when config.json is wrong', async () => {
    const dir = join(scratch, 'broken');
    await saveCheckpoint(dir, interleaved, randomWeights(interleaved, 1));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'config.json'), JSON.stringify({ hidden_size: 'wide' }));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/config\.json: field "hidden_size"/);
    await expect(loadCheckpoint(join(scratch, 'absent'))).rejects.toThrow(/absent.*config\.json: cannot read/);
  });
});
