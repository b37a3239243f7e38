import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  bfloat16ToFloat32,
  float32ToHalf,
  halfToFloat32,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  tensorToFloat32,
  writeSafetensors,
} from './safetensors.ts';

const scratch = await mkdtemp(join(tmpdir(), 'rlaif-safetensors-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** A file assembled by hand, byte by byte, as the format describes it. */
function handMadeFile(): Uint8Array {
  const header = '{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},' +
    '"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"__metadata__":{"format":"pt"}}';
  const headerBytes = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + headerBytes.length + 6);
  new DataView(out.buffer).setUint32(0, headerBytes.length, true);
  out.set(headerBytes, 8);
  // a = [1.0, -2.0] as halves 0x3c00, 0xc000; b = [1.0] as bfloat16 0x3f80 (little-endian).
  out.set([0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f], 8 + headerBytes.length);
  return out;
}

describe('safetensors', () => {
  it('reads a hand-assembled file with F16 and BF16 tensors and metadata', () => {
    const parsed = parseSafetensors(handMadeFile(), 'hand.safetensors');
    expect(parsed.metadata).toEqual({ format: 'pt' });
    expect([...parsed.tensors.keys()]).toEqual(['a', 'b']);
    expect(parsed.tensors.get('a')!.shape).toEqual([2]);
    expect([...tensorToFloat32(parsed.tensors.get('a')!, 'f', 'a')]).toEqual([1, -2]);
    expect([...tensorToFloat32(parsed.tensors.get('b')!, 'f', 'b')]).toEqual([1]);
  });

  it('writes the documented layout: u64 header length, padded JSON, F32 data', () => {
    const data = new Float32Array([1.5, -0.25, 3]);
    const bytes = serializeSafetensors([['w', { shape: [3], data }]], { note: 'x' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    expect(header).toEqual({
      __metadata__: { note: 'x' },
      w: { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
    });
    expect([...new Float32Array(bytes.slice(8 + headerLength).buffer)]).toEqual([1.5, -0.25, 3]);
  });

  it('round-trips byte-exactly through disk, F32 and raw F16 tensors alike', async () => {
    const weights = new Float32Array(6).map((_, i) => Math.sin(i) * 1e3);
    const path = join(scratch, 'round.safetensors');
    await writeSafetensors(
      path,
      [
        ['layers.0.w', { shape: [2, 3], data: weights }],
        ['half', { dtype: 'F16', shape: [2], bytes: new Uint8Array([0x00, 0x3c, 0x00, 0xc0]) }],
      ],
      { format: 'pt' },
    );
    const original = new Uint8Array(await readFile(path));
    const parsed = await readSafetensors(path);
    expect([...tensorToFloat32(parsed.tensors.get('layers.0.w')!, path, 'w')]).toEqual([...weights]);

    const rewritten = serializeSafetensors(parsed.tensors, parsed.metadata);
    expect(Buffer.from(rewritten).equals(Buffer.from(original))).toBe(true);

    // A hand-made file (unpadded header) survives read → write → read with the same contents.
    const again = parseSafetensors(serializeSafetensors(parseSafetensors(handMadeFile(), 'h').tensors), 'h2');
    expect([...again.tensors.get('a')!.bytes]).toEqual([0x00, 0x3c, 0x00, 0xc0]);
  });

  it('converts half and bfloat16 bit patterns exactly', () => {
    const halves = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0x8000, 0x3555]);
    expect([...halfToFloat32(halves)]).toEqual([
      1, -2, 65504, 2 ** -24, 2 ** -14, Infinity, -0, Math.fround(0.333251953125),
    ]);
    expect(Number.isNaN(halfToFloat32(new Uint16Array([0x7e00]))[0])).toBe(true);
    expect([...bfloat16ToFloat32(new Uint16Array([0x3f80, 0xc040, 0x4049]))]).toEqual([1, -3, 3.140625]);

    // float32 → half → float32 is exact for representable values and rounds to nearest even.
    const values = new Float32Array([1, -2, 65504, 2 ** -24, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e6, 1e-9]);
    expect([...float32ToHalf(values)]).toEqual([
      0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x3c00, 0x3c02, 0x7c00, 0x0000,
    ]);
  });

  it('names the file and the fault for truncated and malformed input', () => {
    const good = handMadeFile();
    expect(() => parseSafetensors(good.subarray(0, 5), 'short.safetensors')).toThrow(
      /short\.safetensors: truncated/,
    );
    expect(() => parseSafetensors(good.subarray(0, good.length - 1), 'cut.safetensors')).toThrow(
      /cut\.safetensors: truncated: tensor "b"/,
    );
    const garbage = new Uint8Array(64).fill(0x41);
    expect(() => parseSafetensors(garbage, 'text.bin')).toThrow(/text\.bin: not a safetensors file/);
    const parsed = parseSafetensors(good, 'hand.safetensors');
    const asInt = { ...parsed.tensors.get('a')!, dtype: 'I16' };
    expect(() => tensorToFloat32(asInt, 'hand.safetensors', 'a')).toThrow(
      /hand\.safetensors: tensor "a": dtype I16 is not supported/,
    );
  });
});
