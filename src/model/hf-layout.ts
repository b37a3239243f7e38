/**
 * How Llama-family weights are laid out in Hugging Face checkpoints: tensor names, the
 * `config.json` fields, and the RoPE row order. HF transformers rotates dimension pairs
 * (i, i + headDim/2) ('half'); llama2.c and GGUF llama rotate (2i, 2i+1) ('interleaved'). The
 * two are the same model up to a fixed permutation of the q and k rows inside each head, so a
 * checkpoint can be moved between conventions without changing a single logit.
 */
import { z } from 'zod';

import { ModelFormatError } from '../util/errors.ts';
import type { LlamaConfig, LlamaLayerWeights, LlamaWeights } from './types.ts';

/** A named tensor in [out, in] (or [n]) shape order. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export function headDimOf(config: LlamaConfig): number {
  return config.dim / config.nHeads;
}

/**
 * Reorders the rows of a q or k projection (or its bias) from one RoPE convention to the other.
 * Row `h*hd + 2i + j` of the interleaved layout is row `h*hd + j*hd/2 + i` of the half layout.
 */
export function permuteRopeRows(
  data: Float32Array,
  nHeads: number,
  headDim: number,
  to: 'half' | 'interleaved',
): Float32Array {
  const cols = data.length / (nHeads * headDim);
  const out = new Float32Array(data.length);
  const halfDim = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < halfDim; i++) {
      for (let j = 0; j < 2; j++) {
        const interleavedRow = h * headDim + 2 * i + j;
        const halfRow = h * headDim + j * halfDim + i;
        const [from, into] = to === 'half' ? [interleavedRow, halfRow] : [halfRow, interleavedRow];
        out.set(data.subarray(from * cols, (from + 1) * cols), into * cols);
      }
    }
  }
  return out;
}

/** Weights converted to the other RoPE convention (q/k rows and biases permuted). */
export function withRopeStyle(
  config: LlamaConfig,
  weights: LlamaWeights,
  ropeStyle: LlamaConfig['ropeStyle'],
): { config: LlamaConfig; weights: LlamaWeights } {
  if (config.ropeStyle === ropeStyle) return { config, weights };
  const headDim = headDimOf(config);
  const q = (w: Float32Array) => permuteRopeRows(w, config.nHeads, headDim, ropeStyle);
  const k = (w: Float32Array) => permuteRopeRows(w, config.nKvHeads, headDim, ropeStyle);
  const layers = weights.layers.map((layer) => ({
    ...layer,
    wq: q(layer.wq),
    wk: k(layer.wk),
    ...(layer.bq ? { bq: q(layer.bq) } : {}),
    ...(layer.bk ? { bk: k(layer.bk) } : {}),
  }));
  return { config: { ...config, ropeStyle }, weights: { ...weights, layers } };
}

/** The HF names of one layer's tensors, keyed by our field names. */
function hfLayerNames(index: number): Record<keyof LlamaLayerWeights, string> {
  const p = `model.layers.${index}`;
  return {
    attnNorm: `${p}.input_layernorm.weight`,
    wq: `${p}.self_attn.q_proj.weight`,
    wk: `${p}.self_attn.k_proj.weight`,
    wv: `${p}.self_attn.v_proj.weight`,
    wo: `${p}.self_attn.o_proj.weight`,
    bq: `${p}.self_attn.q_proj.bias`,
    bk: `${p}.self_attn.k_proj.bias`,
    bv: `${p}.self_attn.v_proj.bias`,
    ffnNorm: `${p}.post_attention_layernorm.weight`,
    w1: `${p}.mlp.gate_proj.weight`,
    w2: `${p}.mlp.down_proj.weight`,
    w3: `${p}.mlp.up_proj.weight`,
  };
}

/** Shapes of one layer's tensors, keyed by our field names. */
function layerShapes(config: LlamaConfig): Record<keyof LlamaLayerWeights, number[]> {
  const qDim = config.nHeads * headDimOf(config);
  const kvDim = config.nKvHeads * headDimOf(config);
  return {
    attnNorm: [config.dim], wq: [qDim, config.dim], wk: [kvDim, config.dim], wv: [kvDim, config.dim],
    wo: [config.dim, qDim], bq: [qDim], bk: [kvDim], bv: [kvDim], ffnNorm: [config.dim],
    w1: [config.hiddenDim, config.dim], w2: [config.dim, config.hiddenDim],
    w3: [config.hiddenDim, config.dim],
  };
}

/** Weights as HF-named tensors. The caller chooses the RoPE convention first (see withRopeStyle). */
export function toHfTensors(config: LlamaConfig, weights: LlamaWeights): NamedTensor[] {
  const embeddingShape = [config.vocabSize, config.dim];
  const tensors: NamedTensor[] = [
    { name: 'model.embed_tokens.weight', shape: embeddingShape, data: weights.tokenEmbedding },
  ];
  const shapes = layerShapes(config);
  weights.layers.forEach((layer, index) => {
    const names = hfLayerNames(index);
    for (const key of Object.keys(names) as (keyof LlamaLayerWeights)[]) {
      const data = layer[key];
      if (data) tensors.push({ name: names[key], shape: shapes[key], data });
    }
  });
  tensors.push({ name: 'model.norm.weight', shape: [config.dim], data: weights.finalNorm });
  if (!config.tiedEmbeddings) {
    if (!weights.output) throw new Error('untied model without output weights');
    tensors.push({ name: 'lm_head.weight', shape: [config.vocabSize, config.dim], data: weights.output });
  }
  return tensors;
}

/** A lookup that returns a tensor's values and shape, or undefined when it is absent. */
export type TensorLookup = (name: string) => { shape: number[]; data: Float32Array } | undefined;

/**
 * Gathers LlamaWeights from HF-named tensors, checking every shape against the config.
 * `rename` maps an HF name to the name the file uses (GGUF files name tensors their own way).
 */
export function fromHfTensors(
  config: LlamaConfig,
  lookup: TensorLookup,
  file: string,
  rename: (hfName: string) => string = (hfName) => hfName,
): LlamaWeights {
  const take = (hfName: string, shape: number[]): Float32Array => {
    const name = rename(hfName);
    const tensor = lookup(name);
    if (!tensor) {
      throw new ModelFormatError(file, `tensor "${name}" is missing`);
    }
    if (tensor.shape.join(',') !== shape.join(',')) {
      throw new ModelFormatError(
        file,
        `tensor "${name}" has shape [${tensor.shape}], the config implies [${shape}]`,
      );
    }
    return tensor.data;
  };
  const shapes = layerShapes(config);
  const layers: LlamaLayerWeights[] = [];
  for (let index = 0; index < config.nLayers; index++) {
    const names = hfLayerNames(index);
    const get = (key: keyof LlamaLayerWeights) => take(names[key], shapes[key]);
    const layer: LlamaLayerWeights = {
      attnNorm: get('attnNorm'), wq: get('wq'), wk: get('wk'), wv: get('wv'), wo: get('wo'),
      ffnNorm: get('ffnNorm'), w1: get('w1'), w2: get('w2'), w3: get('w3'),
    };
    if (config.qkvBias) Object.assign(layer, { bq: get('bq'), bk: get('bk'), bv: get('bv') });
    layers.push(layer);
  }
  const embedding = [config.vocabSize, config.dim];
  const output = config.tiedEmbeddings ? undefined : take('lm_head.weight', embedding);
  return {
    tokenEmbedding: take('model.embed_tokens.weight', embedding),
    layers,
    finalNorm: take('model.norm.weight', [config.dim]),
    ...(output ? { output } : {}),
  };
}

/** The fields of an HF `config.json` we read; others are ignored. */
const hfConfigSchema = z.object({
  model_type: z.string().optional(),
  architectures: z.array(z.string()).optional(),
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().optional(),
  vocab_size: z.number().int().positive(),
  max_position_embeddings: z.number().int().positive().default(2048),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  tie_word_embeddings: z.boolean().optional(),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().optional(),
  head_dim: z.number().int().positive().nullish(),
  hidden_act: z.string().optional(),
  rope_scaling: z.unknown().optional(),
});

/** Our config from an HF `config.json` object of the llama, qwen2 or SmolLM (llama) family. */
export function llamaConfigFromHf(json: unknown, file: string): LlamaConfig {
  const parsed = hfConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelFormatError(file, `field "${issue.path.join('.')}": ${issue.message}`);
  }
  const hf = parsed.data;
  const family = hf.model_type ?? (hf.architectures?.[0]?.startsWith('Qwen2') ? 'qwen2' : 'llama');
  if (family !== 'llama' && family !== 'qwen2') {
    throw new ModelFormatError(file, `field "model_type": "${family}" is not supported (llama, qwen2 are)`);
  }
  const unsupported = (field: string, why: string) => {
    throw new ModelFormatError(file, `field "${field}": ${why} is not supported`);
  };
  if (hf.rope_scaling !== undefined && hf.rope_scaling !== null) unsupported('rope_scaling', 'RoPE scaling');
  if (hf.mlp_bias) unsupported('mlp_bias', 'an MLP bias');
  if (family === 'llama' && hf.attention_bias) unsupported('attention_bias', 'an attention bias');
  if (hf.hidden_act && hf.hidden_act !== 'silu') unsupported('hidden_act', `activation "${hf.hidden_act}"`);
  if (hf.head_dim && hf.head_dim * hf.num_attention_heads !== hf.hidden_size) {
    unsupported('head_dim', 'a head_dim other than hidden_size / num_attention_heads');
  }
  return {
    dim: hf.hidden_size,
    hiddenDim: hf.intermediate_size,
    nLayers: hf.num_hidden_layers,
    nHeads: hf.num_attention_heads,
    nKvHeads: hf.num_key_value_heads ?? hf.num_attention_heads,
    vocabSize: hf.vocab_size,
    maxSeqLen: hf.max_position_embeddings,
    normEps: hf.rms_norm_eps,
    ropeTheta: hf.rope_theta,
    ropeStyle: 'half',
    tiedEmbeddings: hf.tie_word_embeddings ?? false,
    qkvBias: family === 'qwen2',
  };
}

/** An HF `config.json` object for our config (which must already be in 'half' RoPE order). */
export function hfConfigFromLlama(
  config: LlamaConfig,
  tokens: { bosId?: number; eosId?: number } = {},
): Record<string, unknown> {
  if (config.ropeStyle !== 'half') throw new Error('HF checkpoints use the half RoPE layout');
  const qwen = config.qkvBias;
  return {
    architectures: [qwen ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: qwen ? 'qwen2' : 'llama',
    hidden_size: config.dim,
    intermediate_size: config.hiddenDim,
    num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads,
    num_key_value_heads: config.nKvHeads,
    vocab_size: config.vocabSize,
    max_position_embeddings: config.maxSeqLen,
    rms_norm_eps: config.normEps,
    rope_theta: config.ropeTheta,
    tie_word_embeddings: config.tiedEmbeddings,
    hidden_act: 'silu',
    torch_dtype: 'float32',
    ...(tokens.bosId !== undefined ? { bos_token_id: tokens.bosId } : {}),
    ...(tokens.eosId !== undefined ? { eos_token_id: tokens.eosId } : {}),
  };
}

const GGUF_LAYER_NAMES: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
};

const GGUF_GLOBAL_NAMES: Record<string, string> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};

/** The GGUF (llama.cpp) name of an HF model tensor: `blk.N.attn_q.weight` and so on. */
export function ggufTensorName(hfName: string): string {
  const layer = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
  const name = layer ? GGUF_LAYER_NAMES[layer[2]] : GGUF_GLOBAL_NAMES[hfName];
  if (!name) throw new Error(`no GGUF name for tensor "${hfName}"`);
  return layer ? `blk.${layer[1]}.${name}` : name;
}
