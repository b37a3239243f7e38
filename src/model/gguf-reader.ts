/**
 * GGUF (v2, v3) reader: the metadata key/values (all value types, arrays included), the tensor
 * table and the aligned data section, and from them a Llama-family LlamaConfig + LlamaWeights
 * for the llama (SmolLM is llama) and qwen2 architectures. Tensors of type F32, F16, BF16 and
 * Q8_0 are read; any other type fails naming the file, the tensor and the type.
 *
 * GGUF dims list the fastest-varying axis first, so a [out, in] matrix is stored with dims
 * [in, out] and the same row-major bytes. llama.cpp's converter permutes HF q/k rows into the
 * interleaved RoPE layout for llama; qwen2 keeps the HF 'half' (NEOX) layout.
 */
import { ModelFormatError } from '../util/errors.ts';
import { fromHfTensors, ggufTensorName } from './hf-layout.ts';
import { readModelFile } from './model-file.ts';
import { bfloat16ToFloat32, halfTable, halfToFloat32 } from './safetensors.ts';
import type { LlamaConfig, LlamaWeights } from './types.ts';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types. */
export const GgufValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8,
  ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;

/** Tensor types (ggml_type) by id; the ones read here are F32, F16, Q8_0, BF16. */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1',
  10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS',
  17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS',
  24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0',
  35: 'TQ2_0',
};
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** Dimensions, fastest-varying first (ggml's ne). */
  dims: number[];
  type: number;
  /** Byte offset inside the data section. */
  offset: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: Map<string, GgufTensorInfo>;
  alignment: number;
  /** Absolute byte offset of the data section. */
  dataOffset: number;
  bytes: Uint8Array;
}

/** A cursor over the file that names the file when the bytes run out. */
class Cursor {
  private readonly view: DataView;
  private readonly decoder = new TextDecoder('utf-8');
  position = 0;

  constructor(private readonly bytes: Uint8Array, private readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number, what: string): number {
    if (this.position + n > this.bytes.byteLength) {
      const problem = `truncated: ${what} at byte ${this.position} runs past the end of the file`;
      throw new ModelFormatError(this.file, problem);
    }
    const at = this.position;
    this.position += n;
    return at;
  }

  u8 = (what = 'uint8') => this.view.getUint8(this.need(1, what));
  i8 = (what = 'int8') => this.view.getInt8(this.need(1, what));
  u16 = (what = 'uint16') => this.view.getUint16(this.need(2, what), true);
  i16 = (what = 'int16') => this.view.getInt16(this.need(2, what), true);
  u32 = (what = 'uint32') => this.view.getUint32(this.need(4, what), true);
  i32 = (what = 'int32') => this.view.getInt32(this.need(4, what), true);
  f32 = (what = 'float32') => this.view.getFloat32(this.need(4, what), true);
  f64 = (what = 'float64') => this.view.getFloat64(this.need(8, what), true);
  u64 = (what = 'uint64') => this.view.getBigUint64(this.need(8, what), true);
  i64 = (what = 'int64') => this.view.getBigInt64(this.need(8, what), true);

  /** A uint64 that must fit a JS number (counts, lengths, offsets). */
  count(what: string): number {
    const value = this.u64(what);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ModelFormatError(this.file, `${what} ${value} at byte ${this.position - 8} is implausible`);
    }
    return Number(value);
  }

  string(what: string): string {
    const length = this.count(`length of ${what}`);
    const at = this.need(length, what);
    return this.decoder.decode(this.bytes.subarray(at, at + length));
  }
}

/** The shortest decimal that is the same float32 (1e-5, not 0.000009999999747378752). */
function shortestFloat32(value: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

/** uint64/int64 become numbers when exact, bigints otherwise. */
function narrow(value: bigint): number | bigint {
  const exact = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
  return exact ? Number(value) : value;
}

function readValue(cursor: Cursor, type: number, key: string, file: string): GgufValue {
  switch (type) {
    case GgufValueType.UINT8: return cursor.u8();
    case GgufValueType.INT8: return cursor.i8();
    case GgufValueType.UINT16: return cursor.u16();
    case GgufValueType.INT16: return cursor.i16();
    case GgufValueType.UINT32: return cursor.u32();
    case GgufValueType.INT32: return cursor.i32();
    case GgufValueType.FLOAT32: return shortestFloat32(cursor.f32());
    case GgufValueType.FLOAT64: return cursor.f64();
    case GgufValueType.BOOL: return cursor.u8() !== 0;
    case GgufValueType.UINT64: return narrow(cursor.u64());
    case GgufValueType.INT64: return narrow(cursor.i64());
    case GgufValueType.STRING: return cursor.string(`value of "${key}"`);
    case GgufValueType.ARRAY: {
      const elementType = cursor.u32(`array type of "${key}"`);
      const length = cursor.count(`array length of "${key}"`);
      const out: GgufValue[] = new Array(length);
      for (let i = 0; i < length; i++) out[i] = readValue(cursor, elementType, key, file);
      return out;
    }
    default:
      throw new ModelFormatError(file, `metadata "${key}" has unknown value type ${type}`);
  }
}

/** Parses the header, metadata and tensor table of a GGUF file held in memory. */
export function parseGguf(bytes: Uint8Array, path: string): GgufFile {
  const cursor = new Cursor(bytes, path);
  const magic = cursor.u32('magic number');
  if (magic !== GGUF_MAGIC) {
    const found = magic.toString(16).padStart(8, '0');
    throw new ModelFormatError(path, `not a GGUF file: magic number 0x${found}, expected "GGUF"`);
  }
  const version = cursor.u32('version');
  if (version !== 2 && version !== 3) {
    throw new ModelFormatError(path, `GGUF version ${version} is not supported (2 and 3 are)`);
  }
  const tensorCount = cursor.count('tensor count');
  const kvCount = cursor.count('metadata count');

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string(`metadata key ${i}`);
    const type = cursor.u32(`value type of "${key}"`);
    metadata.set(key, readValue(cursor, type, key, path));
  }

  const tensors = new Map<string, GgufTensorInfo>();
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string(`name of tensor ${i}`);
    const nDims = cursor.u32(`dimension count of "${name}"`);
    if (nDims > 4) throw new ModelFormatError(path, `tensor "${name}" has ${nDims} dimensions`);
    const dims = Array.from({ length: nDims }, () => cursor.count(`dimensions of "${name}"`));
    const type = cursor.u32(`type of "${name}"`);
    const offset = cursor.count(`offset of "${name}"`);
    tensors.set(name, { name, dims, type, offset });
  }

  const alignment = Number(metadata.get('general.alignment') ?? GGUF_DEFAULT_ALIGNMENT);
  if (!Number.isInteger(alignment) || alignment <= 0) {
    throw new ModelFormatError(path, `general.alignment ${alignment} is not a positive integer`);
  }
  const dataOffset = Math.ceil(cursor.position / alignment) * alignment;
  const file: GgufFile = { path, version, metadata, tensors, alignment, dataOffset, bytes };
  for (const info of tensors.values()) {
    const end = dataOffset + info.offset + tensorByteLength(file, info);
    if (end > bytes.byteLength) {
      const problem = `truncated: tensor "${info.name}" ends at byte ${end} of ${bytes.byteLength}`;
      throw new ModelFormatError(path, problem);
    }
  }
  return file;
}

/** Reads and parses a GGUF file from disk. */
export async function readGguf(path: string): Promise<GgufFile> {
  return parseGguf(await readModelFile(path), path);
}

export function typeName(type: number): string {
  return GGML_TYPE_NAMES[type] ?? `unknown type ${type}`;
}

/** Bytes per block and elements per block of the tensor types read here. */
const BLOCK_LAYOUT: Record<number, { bytes: number; elements: number }> = {
  [GgmlType.F32]: { bytes: 4, elements: 1 },
  [GgmlType.F16]: { bytes: 2, elements: 1 },
  [GgmlType.BF16]: { bytes: 2, elements: 1 },
  [GgmlType.Q8_0]: { bytes: 34, elements: 32 },
};

function unsupported(file: GgufFile, info: GgufTensorInfo): ModelFormatError {
  return new ModelFormatError(
    file.path,
    `tensor "${info.name}" has type ${typeName(info.type)}, ` +
      'which is not supported (F32, F16, BF16, Q8_0 are)',
  );
}

function tensorByteLength(file: GgufFile, info: GgufTensorInfo): number {
  const layout = BLOCK_LAYOUT[info.type];
  // Sizes of other types are not needed to reject them later, so they are not bounds-checked.
  if (!layout) return 0;
  const elements = info.dims.reduce((a, b) => a * b, 1);
  if (elements % layout.elements !== 0) {
    const problem = `${elements} elements do not fill whole ${typeName(info.type)} blocks`;
    throw new ModelFormatError(file.path, `tensor "${info.name}": ${problem}`);
  }
  return (elements / layout.elements) * layout.bytes;
}

/** The values of one tensor as float32, dequantising when needed. */
export function ggufTensorToFloat32(file: GgufFile, info: GgufTensorInfo): Float32Array {
  const layout = BLOCK_LAYOUT[info.type];
  if (!layout) throw unsupported(file, info);
  const start = file.dataOffset + info.offset;
  // A copy, so typed views start aligned whatever the file's alignment.
  const raw = new Uint8Array(file.bytes.subarray(start, start + tensorByteLength(file, info)));
  switch (info.type) {
    case GgmlType.F32: return new Float32Array(raw.buffer);
    case GgmlType.F16: return halfToFloat32(new Uint16Array(raw.buffer));
    case GgmlType.BF16: return bfloat16ToFloat32(new Uint16Array(raw.buffer));
    default: return dequantizeQ8_0(raw);
  }
}

/** Q8_0: blocks of 32 values, each a float16 scale followed by 32 int8 quanta. */
export function dequantizeQ8_0(raw: Uint8Array): Float32Array {
  const blocks = raw.byteLength / 34;
  const out = new Float32Array(blocks * 32);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const halves = halfTable();
  for (let b = 0; b < blocks; b++) {
    const scale = halves[view.getUint16(b * 34, true)];
    for (let i = 0; i < 32; i++) out[b * 32 + i] = scale * view.getInt8(b * 34 + 2 + i);
  }
  return out;
}

/** A typed metadata lookup that names the file and key when a value is missing or wrong. */
export function metadataNumber(file: GgufFile, key: string, fallback?: number): number {
  const value = file.metadata.get(key);
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new ModelFormatError(file.path, `metadata "${key}" is missing`);
  }
  if (typeof value !== 'number') throw new ModelFormatError(file.path, `metadata "${key}" is not a number`);
  return value;
}

export function metadataString(file: GgufFile, key: string, fallback?: string): string {
  const value = file.metadata.get(key);
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string') {
    throw new ModelFormatError(file.path, `metadata "${key}" is missing or not a string`);
  }
  return value;
}

const SUPPORTED_ARCHITECTURES = ['llama', 'qwen2'];

/** Our config from the metadata (and, for the vocabulary size, the embedding's dims). */
export function ggufConfig(file: GgufFile): LlamaConfig {
  const arch = metadataString(file, 'general.architecture');
  if (!SUPPORTED_ARCHITECTURES.includes(arch)) {
    throw new ModelFormatError(file.path, `architecture "${arch}" is not supported (llama, qwen2 are)`);
  }
  const key = (name: string) => `${arch}.${name}`;
  const dim = metadataNumber(file, key('embedding_length'));
  const nHeads = metadataNumber(file, key('attention.head_count'));
  const headDim = dim / nHeads;
  const ropeDims = metadataNumber(file, key('rope.dimension_count'), headDim);
  if (ropeDims !== headDim) {
    throw new ModelFormatError(file.path, `partial RoPE (${ropeDims} of ${headDim} dims) is not supported`);
  }
  const scaling = file.metadata.get(key('rope.scaling.type'));
  if (scaling !== undefined && scaling !== 'none') {
    throw new ModelFormatError(file.path, `RoPE scaling "${String(scaling)}" is not supported`);
  }
  if (file.tensors.has('rope_freqs.weight')) {
    const problem = 'RoPE frequency factors (tensor "rope_freqs.weight") are not supported';
    throw new ModelFormatError(file.path, problem);
  }
  const experts = file.metadata.get(key('expert_count'));
  if (typeof experts === 'number' && experts > 0) {
    throw new ModelFormatError(file.path, `mixture-of-experts models (${experts} experts) are not supported`);
  }
  const embedding = file.tensors.get('token_embd.weight');
  if (!embedding) throw new ModelFormatError(file.path, 'tensor "token_embd.weight" is missing');
  return {
    dim,
    hiddenDim: metadataNumber(file, key('feed_forward_length')),
    nLayers: metadataNumber(file, key('block_count')),
    nHeads,
    nKvHeads: metadataNumber(file, key('attention.head_count_kv'), nHeads),
    vocabSize: embedding.dims[1] ?? 0,
    maxSeqLen: metadataNumber(file, key('context_length')),
    normEps: metadataNumber(file, key('attention.layer_norm_rms_epsilon')),
    ropeTheta: metadataNumber(file, key('rope.freq_base'), 10000),
    ropeStyle: arch === 'qwen2' ? 'half' : 'interleaved',
    tiedEmbeddings: !file.tensors.has('output.weight'),
    qkvBias: file.tensors.has('blk.0.attn_q.bias'),
  };
}

/** Config and float32 weights of a llama or qwen2 GGUF. */
export function ggufModel(file: GgufFile): { config: LlamaConfig; weights: LlamaWeights } {
  const config = ggufConfig(file);
  const lookup = (name: string) => {
    const info = file.tensors.get(name);
    if (!info) return undefined;
    return { shape: [...info.dims].reverse(), data: ggufTensorToFloat32(file, info) };
  };
  return { config, weights: fromHfTensors(config, lookup, file.path, ggufTensorName) };
}
