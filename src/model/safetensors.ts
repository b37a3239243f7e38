/**
 * The safetensors container: an 8-byte little-endian header length, a JSON header mapping each
 * tensor name to {dtype, shape, data_offsets} (plus an optional `__metadata__` of strings), then
 * the raw little-endian tensor bytes. Reads F32, F16 and BF16 as Float32Array; writes F32 (and
 * passes any other dtype through as raw bytes, so a file read here is written back byte-exact).
 */
import { writeFile } from 'node:fs/promises';

import { ModelFormatError } from '../util/errors.ts';
import { readModelFile } from './model-file.ts';

/** Bytes per element of each dtype the container may hold. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2,
  U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

/** One tensor as stored: its dtype name, shape and raw bytes (a view into the file). */
export interface SafetensorsTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  /** Free-form string metadata from `__metadata__` ({} when absent). */
  metadata: Record<string, string>;
  /** Tensors in header order. */
  tensors: Map<string, SafetensorsTensor>;
}

/** A tensor to write: F32 data, or raw bytes of any dtype (kept as they are). */
export type SafetensorsInput =
  | { shape: number[]; data: Float32Array }
  | { dtype: string; shape: number[]; bytes: Uint8Array };

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Parses a whole safetensors file held in memory; `file` names it in errors. */
export function parseSafetensors(buffer: Uint8Array, file: string): SafetensorsFile {
  if (buffer.byteLength < 8) {
    throw new ModelFormatError(
      file,
      `truncated: ${buffer.byteLength} bytes, shorter than the 8-byte header length`,
    );
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) {
    throw new ModelFormatError(file, `not a safetensors file: header length ${headerLength} is implausible`);
  }
  if (8 + headerLength > buffer.byteLength) {
    throw new ModelFormatError(
      file,
      `truncated: header of ${headerLength} bytes runs past the end of the file`,
    );
  }

  let header: Record<string, unknown>;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(8, 8 + headerLength));
    header = JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(file, 'not a safetensors file: the header is not valid JSON', {
      cause: error,
    });
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new ModelFormatError(file, 'not a safetensors file: the header is not a JSON object');
  }

  const dataStart = 8 + headerLength;
  const dataLength = buffer.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      for (const [key, value] of Object.entries((entry ?? {}) as Record<string, unknown>)) {
        if (typeof value !== 'string') {
          throw new ModelFormatError(file, `__metadata__.${key} is not a string`);
        }
        metadata[key] = value;
      }
      continue;
    }
    tensors.set(name, checkEntry(file, name, entry, dataLength, buffer.subarray(dataStart)));
  }
  return { metadata, tensors };
}

function checkEntry(
  file: string,
  name: string,
  entry: unknown,
  dataLength: number,
  data: Uint8Array,
): SafetensorsTensor {
  const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new ModelFormatError(file, `tensor "${name}": unknown dtype ${JSON.stringify(dtype)}`);
  }
  const validShape = Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 0);
  const validOffsets = Array.isArray(offsets) && offsets.length === 2 &&
    offsets.every((o) => Number.isInteger(o) && o >= 0) && offsets[0] <= offsets[1];
  if (!validShape || !validOffsets) {
    throw new ModelFormatError(file, `tensor "${name}": malformed shape or data_offsets`);
  }
  const [begin, end] = offsets as [number, number];
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end - begin !== elements * DTYPE_BYTES[dtype]) {
    throw new ModelFormatError(
      file,
      `tensor "${name}": ${end - begin} bytes do not hold shape [${shape}] of ${dtype}`,
    );
  }
  if (end > dataLength) {
    throw new ModelFormatError(
      file,
      `truncated: tensor "${name}" ends at byte ${end} of a ${dataLength}-byte data section`,
    );
  }
  return { dtype, shape: shape as number[], bytes: data.subarray(begin, end) };
}

/** Reads a safetensors file from disk. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readModelFile(path), path);
}

/** Decodes a stored tensor of dtype F32, F16 or BF16 into a fresh Float32Array. */
export function tensorToFloat32(tensor: SafetensorsTensor, file: string, name: string): Float32Array {
  const { dtype, bytes } = tensor;
  if (dtype === 'F32') return new Float32Array(copyAligned(bytes));
  if (dtype === 'F16') return halfToFloat32(new Uint16Array(copyAligned(bytes)));
  if (dtype === 'BF16') return bfloat16ToFloat32(new Uint16Array(copyAligned(bytes)));
  throw new ModelFormatError(file, `tensor "${name}": dtype ${dtype} is not supported (F32, F16, BF16 are)`);
}

/**
 * A copy into a fresh buffer, so typed-array views start at an aligned offset. (Not `slice()`:
 * on a Node Buffer that returns a view, not a copy.)
 */
function copyAligned(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

/** IEEE half-precision bits → float32 values (normals, subnormals, infinities, NaN). */
export function halfToFloat32(halves: Uint16Array): Float32Array {
  const table = halfTable();
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = table[halves[i]];
  return out;
}

let halfValues: Float32Array | undefined;

/** The float32 value of each of the 65,536 half bit patterns, computed once. */
export function halfTable(): Float32Array {
  if (halfValues) return halfValues;
  halfValues = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) halfValues[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) halfValues[h] = mantissa ? NaN : sign * Infinity;
    else halfValues[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return halfValues;
}

/** bfloat16 bits → float32 values (bfloat16 is the top half of a float32). */
export function bfloat16ToFloat32(halves: Uint16Array): Float32Array {
  const words = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) words[i] = halves[i] << 16;
  return new Float32Array(words.buffer);
}

/** float32 values → IEEE half bits, rounding to nearest even; overflow becomes infinity. */
export function float32ToHalf(values: Float32Array): Uint16Array {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const w = words[i];
    const sign = (w >>> 16) & 0x8000;
    const exponent = (w >>> 23) & 0xff;
    const mantissa = w & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0);
      continue;
    }
    const halfExponent = exponent - 127 + 15;
    if (halfExponent >= 31) {
      out[i] = sign | 0x7c00;
    } else if (halfExponent <= 0) {
      // Subnormal half (or zero): shift the implicit-one mantissa into place, round to even.
      if (halfExponent < -10) {
        out[i] = sign;
        continue;
      }
      const full = mantissa | 0x800000;
      const shift = 14 - halfExponent;
      out[i] = sign | roundShift(full, shift);
    } else {
      // Rounding may carry into the exponent, which is exactly the right result.
      out[i] = sign | ((halfExponent << 10) + roundShift(mantissa, 13));
    }
  }
  return out;
}

function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1)) ? kept + 1 : kept;
}

/**
 * Serialises tensors in the given order. The header is padded with spaces to a multiple of
 * 8 bytes so tensor data stays aligned, as the reference implementation does.
 */
export function serializeSafetensors(
  tensors: Iterable<[string, SafetensorsInput]>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (name === '__metadata__') throw new Error('"__metadata__" is not a valid tensor name');
    const { dtype, bytes } = 'data' in tensor ? { dtype: 'F32', bytes: bytesOf(tensor.data) } : tensor;
    const elements = tensor.shape.reduce((a, b) => a * b, 1);
    if (bytes.byteLength !== elements * (DTYPE_BYTES[dtype] ?? NaN)) {
      throw new Error(
        `tensor "${name}": ${bytes.byteLength} bytes do not hold shape [${tensor.shape}] of ${dtype}`,
      );
    }
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  const paddedLength = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + paddedLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(paddedLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + paddedLength);
  let position = 8 + paddedLength;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.byteLength;
  }
  return out;
}

/** The bytes under a typed array (a view, not a copy). */
export function bytesOf(values: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Writes tensors (and optional metadata) to a safetensors file. */
export async function writeSafetensors(
  path: string,
  tensors: Iterable<[string, SafetensorsInput]>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFile(path, serializeSafetensors(tensors, metadata));
}
