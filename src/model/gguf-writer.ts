/**
 * GGUF v3 writer, and `exportGguf`: a Llama-family model (config, float32 weights and its
 * SentencePiece or byte-level BPE vocabulary) as a file llama.cpp and node-llama-cpp load.
 * Weights are written as F32 (or F16 for matrices). llama.cpp's llama architecture rotates
 * interleaved pairs, so 'half' models are permuted into that order on the way out; models with
 * q/k/v biases are written as qwen2, whose RoPE is 'half', permuted the other way if needed.
 */
import { rename, writeFile } from 'node:fs/promises';

import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufValueType } from './gguf-reader.ts';
import { vocabOf, type GgufVocab } from './gguf-vocab.ts';
import { ggufTensorName, toHfTensors, withRopeStyle } from './hf-layout.ts';
import { bytesOf, float32ToHalf } from './safetensors.ts';
import { TokenType } from './tokenizer-spm.ts';
import type { LlamaConfig, LlamaWeights, Tokenizer } from './types.ts';

type ScalarType = Exclude<(typeof GgufValueType)[keyof typeof GgufValueType], 9>;

/** One metadata entry: a scalar of `type`, or an array of `type` when `value` is an array. */
export interface GgufMetadataEntry {
  key: string;
  type: ScalarType;
  value: number | bigint | boolean | string | readonly (number | bigint | boolean | string)[];
}

/** A tensor to write: dims fastest-varying first (ggml order), raw bytes of `type`. */
export interface GgufTensorInput {
  name: string;
  dims: number[];
  type: number;
  bytes: Uint8Array;
}

/** Grows a byte buffer as values are appended (little-endian throughout). */
class ByteSink {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  private readonly encoder = new TextEncoder();
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buffer.byteLength) {
      const bigger = new Uint8Array(Math.max(this.buffer.byteLength * 2, this.length + n));
      bigger.set(this.buffer.subarray(0, this.length));
      this.buffer = bigger;
      this.view = new DataView(bigger.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): void { this.view.setUint8(this.reserve(1), v); }
  i8(v: number): void { this.view.setInt8(this.reserve(1), v); }
  u16(v: number): void { this.view.setUint16(this.reserve(2), v, true); }
  i16(v: number): void { this.view.setInt16(this.reserve(2), v, true); }
  u32(v: number): void { this.view.setUint32(this.reserve(4), v, true); }
  i32(v: number): void { this.view.setInt32(this.reserve(4), v, true); }
  f32(v: number): void { this.view.setFloat32(this.reserve(4), v, true); }
  f64(v: number): void { this.view.setFloat64(this.reserve(8), v, true); }
  u64(v: number | bigint): void { this.view.setBigUint64(this.reserve(8), BigInt(v), true); }
  i64(v: number | bigint): void { this.view.setBigInt64(this.reserve(8), BigInt(v), true); }

  string(text: string): void {
    const bytes = this.encoder.encode(text);
    this.u64(bytes.byteLength);
    this.bytes(bytes);
  }

  bytes(bytes: Uint8Array): void {
    const at = this.reserve(bytes.byteLength); // may replace this.buffer
    this.buffer.set(bytes, at);
  }

  padTo(alignment: number): void {
    const padding = (alignment - (this.length % alignment)) % alignment;
    this.reserve(padding); // zero-filled: the buffer starts zeroed and is never reused
  }

  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

type Scalar = number | bigint | boolean | string;

function writeScalar(sink: ByteSink, type: ScalarType, value: Scalar, key: string): void {
  const numeric = () => {
    if (typeof value !== 'number') {
      throw new Error(`metadata "${key}": expected a number, got ${typeof value}`);
    }
    return value;
  };
  switch (type) {
    case GgufValueType.UINT8: return sink.u8(numeric());
    case GgufValueType.INT8: return sink.i8(numeric());
    case GgufValueType.UINT16: return sink.u16(numeric());
    case GgufValueType.INT16: return sink.i16(numeric());
    case GgufValueType.UINT32: return sink.u32(numeric());
    case GgufValueType.INT32: return sink.i32(numeric());
    case GgufValueType.FLOAT32: return sink.f32(numeric());
    case GgufValueType.FLOAT64: return sink.f64(numeric());
    case GgufValueType.UINT64: return sink.u64(value as number | bigint);
    case GgufValueType.INT64: return sink.i64(value as number | bigint);
    case GgufValueType.BOOL: return sink.u8(value ? 1 : 0);
    case GgufValueType.STRING: return sink.string(String(value));
  }
}

/** Serialises a GGUF v3 file: header, metadata, tensor table, aligned tensor data. */
export function serializeGguf(
  metadata: GgufMetadataEntry[],
  tensors: GgufTensorInput[],
  alignment = GGUF_DEFAULT_ALIGNMENT,
): Uint8Array {
  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(3);
  sink.u64(tensors.length);
  const entries = alignment === GGUF_DEFAULT_ALIGNMENT
    ? metadata
    : [...metadata, { key: 'general.alignment', type: GgufValueType.UINT32, value: alignment } as const];
  sink.u64(entries.length);
  for (const entry of entries) {
    sink.string(entry.key);
    if (Array.isArray(entry.value)) {
      sink.u32(GgufValueType.ARRAY);
      sink.u32(entry.type);
      sink.u64(entry.value.length);
      for (const item of entry.value) writeScalar(sink, entry.type, item, entry.key);
    } else {
      sink.u32(entry.type);
      writeScalar(sink, entry.type, entry.value as number | bigint | boolean | string, entry.key);
    }
  }

  let offset = 0;
  for (const tensor of tensors) {
    sink.string(tensor.name);
    sink.u32(tensor.dims.length);
    for (const d of tensor.dims) sink.u64(d);
    sink.u32(tensor.type);
    sink.u64(offset);
    offset += Math.ceil(tensor.bytes.byteLength / alignment) * alignment;
  }
  for (const tensor of tensors) {
    sink.padTo(alignment);
    sink.bytes(tensor.bytes);
  }
  sink.padTo(alignment);
  return sink.result();
}

export interface ExportGgufOptions {
  config: LlamaConfig;
  weights: LlamaWeights;
  /**
   * The model's Tokenizer (SentencePiece or byte-level BPE), or its vocabulary as GGUF data
   * (pieces with ▁ for spaces, scores, types, bos/eos; see vocabFromPieces).
   */
  tokenizer: GgufVocab | Tokenizer;
  /** 'F32' (default) or 'F16' for the 2-D weight matrices; norms stay F32 either way. */
  fileType?: 'F32' | 'F16';
  /** general.name; default "rlaif". */
  name?: string;
}

/** The GGUF bytes of a model, see exportGguf. */
export function serializeModelGguf(options: ExportGgufOptions): Uint8Array {
  const { metadata, tensors } = modelGgufParts(options);
  return serializeGguf(metadata, tensors);
}

/** The metadata and tensors a model's GGUF file is made of. */
export function modelGgufParts(options: ExportGgufOptions): {
  metadata: GgufMetadataEntry[];
  tensors: GgufTensorInput[];
} {
  const { fileType = 'F32' } = options;
  const given = 'tokens' in options.tokenizer ? options.tokenizer : vocabOf(options.tokenizer);
  // qwen2 carries q/k/v biases and rotates 'half' pairs; llama has no biases and rotates interleaved.
  const arch = options.config.qkvBias ? 'qwen2' : 'llama';
  const ropeStyle = arch === 'qwen2' ? 'half' : 'interleaved';
  const { config, weights } = withRopeStyle(options.config, options.weights, ropeStyle);
  if (given.tokens.length > config.vocabSize) {
    throw new Error(`the vocabulary has ${given.tokens.length} tokens, the model only ${config.vocabSize}`);
  }
  // HF models often pad the embedding beyond the tokenizer; GGUF wants one token per row.
  const vocab = padVocab(given, config.vocabSize);

  const key = (name: string) => `${arch}.${name}`;
  const u32 = GgufValueType.UINT32;
  const metadata: GgufMetadataEntry[] = [
    { key: 'general.architecture', type: GgufValueType.STRING, value: arch },
    { key: 'general.name', type: GgufValueType.STRING, value: options.name ?? 'rlaif' },
    { key: 'general.file_type', type: u32, value: fileType === 'F16' ? 1 : 0 },
    { key: key('context_length'), type: u32, value: config.maxSeqLen },
    { key: key('embedding_length'), type: u32, value: config.dim },
    { key: key('block_count'), type: u32, value: config.nLayers },
    { key: key('feed_forward_length'), type: u32, value: config.hiddenDim },
    { key: key('rope.dimension_count'), type: u32, value: config.dim / config.nHeads },
    { key: key('attention.head_count'), type: u32, value: config.nHeads },
    { key: key('attention.head_count_kv'), type: u32, value: config.nKvHeads },
    { key: key('attention.layer_norm_rms_epsilon'), type: GgufValueType.FLOAT32, value: config.normEps },
    { key: key('rope.freq_base'), type: GgufValueType.FLOAT32, value: config.ropeTheta },
    ...vocabMetadata(vocab),
  ];

  const tensors = toHfTensors(config, weights).map((tensor): GgufTensorInput => {
    const half = fileType === 'F16' && tensor.shape.length === 2;
    const values = half ? float32ToHalf(tensor.data) : tensor.data;
    return {
      name: ggufTensorName(tensor.name),
      dims: [...tensor.shape].reverse(),
      type: half ? GgmlType.F16 : GgmlType.F32,
      bytes: bytesOf(values),
    };
  });
  return { metadata, tensors };
}

/** The vocabulary with unused `[PADn]` tokens appended up to `size`. */
function padVocab(vocab: GgufVocab, size: number): GgufVocab {
  const missing = size - vocab.tokens.length;
  if (missing === 0) return vocab;
  const ids = Array.from({ length: missing }, (_, i) => vocab.tokens.length + i);
  return {
    ...vocab,
    tokens: [...vocab.tokens, ...ids.map((id) => `[PAD${id}]`)],
    ...(vocab.scores ? { scores: [...vocab.scores, ...ids.map(() => 0)] } : {}),
    tokenTypes: [
      ...(vocab.tokenTypes ?? vocab.tokens.map(() => TokenType.normal)),
      ...ids.map(() => TokenType.unused),
    ],
  };
}

function vocabMetadata(vocab: GgufVocab): GgufMetadataEntry[] {
  const { STRING, FLOAT32, INT32, UINT32, BOOL } = GgufValueType;
  const entries: GgufMetadataEntry[] = [];
  const add = (name: string, type: ScalarType, value: GgufMetadataEntry['value'] | undefined) => {
    if (value !== undefined) entries.push({ key: `tokenizer.ggml.${name}`, type, value });
  };
  add('model', STRING, vocab.model);
  add('tokens', STRING, vocab.tokens);
  add('pre', STRING, vocab.pre);
  add('scores', FLOAT32, vocab.scores);
  add('token_type', INT32, vocab.tokenTypes ?? vocab.tokens.map(() => TokenType.normal));
  add('merges', STRING, vocab.merges);
  add('bos_token_id', UINT32, vocab.bosId);
  add('eos_token_id', UINT32, vocab.eosId);
  add('unknown_token_id', UINT32, vocab.unkId);
  add('padding_token_id', UINT32, vocab.padId);
  add('add_space_prefix', BOOL, vocab.addSpacePrefix);
  add('add_bos_token', BOOL, vocab.addBos);
  return entries;
}

/** Writes a model as a GGUF file that llama.cpp / node-llama-cpp load. */
export async function exportGguf(path: string, options: ExportGgufOptions): Promise<void> {
  const temporary = `${path}.partial-${process.pid}`;
  await writeFile(temporary, serializeModelGguf(options));
  await rename(temporary, path);
}
