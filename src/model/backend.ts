/**
 * TensorFlow.js backend setup for the engine. Selects the wasm backend once per process and
 * registers two kernels it lacks in a usable form:
 *  - BatchMatMul with transposeA/transposeB: the shipped kernel falls to a slow generic loop
 *    (~1.5 GFLOP/s); transposing the operand physically first keeps the fast path (~15 GFLOP/s).
 *    Every backward pass of a dense layer hits this.
 *  - UnsortedSegmentSum: missing on wasm, so `tf.gather` (token embeddings) could not
 *    back-propagate.
 * and replaces Identity, which copied every tensor the gradient tape saves (a quarter of a
 * training step) where sharing the immutable data, as the cpu backend does, suffices.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { buildSync } from 'esbuild';

import { cacheDir } from '../util/paths.ts';

// The wasm backend's internal class is not exported in a typed way; these are the members used.
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

type KernelFunction = (args: {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}) => tf.TensorInfo | tf.TensorInfo[];

let ready: Promise<void> | undefined;

/**
 * Makes the wasm backend current, with the engine's kernels registered. Safe to call any number
 * of times; every entry point that creates tensors awaits it first.
 */
export function ensureBackend(): Promise<void> {
  ready ??= setUp();
  return ready;
}

async function setUp(): Promise<void> {
  registerAllGradients();
  registerEngineKernels('wasm');
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error('TensorFlow.js wasm backend failed to initialise');
  await tf.ready();
}

/** Registers the engine's kernels on `backendName` (exported so tests can compare backends). */
export function registerEngineKernels(backendName: string): void {
  registerTransposingMatMul(backendName);
  registerSharingIdentity(backendName);
  if (!tf.getKernel('UnsortedSegmentSum', backendName)) {
    tf.registerKernel({
      kernelName: 'UnsortedSegmentSum',
      backendName,
      kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
    });
  }
}

const sharedIdentity = new Set<string>();

function registerSharingIdentity(backendName: string): void {
  if (backendName !== 'wasm' || sharedIdentity.has(backendName)) return;
  sharedIdentity.add(backendName);
  const kernelFunc: KernelFunction = ({ inputs, backend }) => {
    const x = inputs.x;
    if (x.dtype === 'string') throw new Error('Identity of string tensors is not supported here');
    // Tensor data is never written in place, so the clone can share it by reference count.
    (backend as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  tf.unregisterKernel('Identity', backendName);
  tf.registerKernel({ kernelName: 'Identity', backendName,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

const wrappedMatMul = new Set<string>();
/** The shipped wasm BatchMatMul kernel, kept for direct calls from the decode kernel. */
let wasmPlainMatMul: KernelFunction | undefined;

function registerTransposingMatMul(backendName: string): void {
  if (wrappedMatMul.has(backendName)) return;
  const original = tf.getKernel('BatchMatMul', backendName);
  const transposeKernel = tf.getKernel('Transpose', backendName);
  if (!original || !transposeKernel) return;
  wrappedMatMul.add(backendName);

  const plainMatMul = original.kernelFunc as unknown as KernelFunction;
  if (backendName === 'wasm') wasmPlainMatMul = plainMatMul;
  const transpose = transposeKernel.kernelFunc as unknown as KernelFunction;

  const kernelFunc: KernelFunction = ({ inputs, backend, attrs }) => {
    const transposeA = Boolean(attrs?.transposeA);
    const transposeB = Boolean(attrs?.transposeB);
    if (!transposeA && !transposeB) {
      return matMulPerBatch(inputs.a, inputs.b, backend as WasmBackendLike, plainMatMul);
    }

    // Swap the last two axes of a transposed operand so the kernel sees plain row-major data.
    const swapLast = (x: tf.TensorInfo): tf.TensorInfo => {
      const rank = x.shape.length;
      const perm = [...Array(rank).keys()];
      [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
      return transpose({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
    };
    const a = transposeA ? swapLast(inputs.a) : inputs.a;
    const b = transposeB ? swapLast(inputs.b) : inputs.b;
    const out = matMulPerBatch(a, b, backend as WasmBackendLike, plainMatMul);
    const wasm = backend as WasmBackendLike;
    if (a !== inputs.a) wasm.disposeData(a.dataId);
    if (b !== inputs.b) wasm.disposeData(b.dataId);
    return out;
  };

  tf.unregisterKernel('BatchMatMul', backendName);
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName,
    setupFunc: original.setupFunc,
    disposeFunc: original.disposeFunc,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  });
}

/**
 * The shipped kernel takes its fast path only for a single matrix product; a batched product
 * (attention) falls to a generic loop at ~1 GFLOP/s. Running each batch entry as its own
 * single product is ~3x faster even counting the copies.
 */
function matMulPerBatch(a: tf.TensorInfo, b: tf.TensorInfo, backend: WasmBackendLike,
  plainMatMul: KernelFunction): tf.TensorInfo {
  const plain = () => plainMatMul({
    inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false },
  }) as tf.TensorInfo;
  const aRank = a.shape.length;
  const bRank = b.shape.length;
  const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const batchB = b.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const sameBatch = aRank === bRank && a.shape.slice(0, -2).every((d, i) => d === b.shape[i]);
  if (batchA <= 1 || !sameBatch || a.dtype !== 'float32') return plain();

  const [m, k] = a.shape.slice(-2);
  const n = b.shape[bRank - 1];
  const out = backend.makeOutput([...a.shape.slice(0, -2), m, n], 'float32');
  for (let i = 0; i < batchA; i++) {
    // A fresh right operand each time: the kernel caches its packed form by tensor id, so a
    // reused buffer with new contents would be multiplied with the stale packing.
    const aPart = backend.makeOutput([1, m, k], 'float32');
    const bPart = backend.makeOutput([1, k, n], 'float32');
    // Views are re-taken each time: a kernel call may grow the heap and detach them.
    backend.typedArrayFromHeap(aPart).set(
      backend.typedArrayFromHeap(a).subarray(i * m * k, (i + 1) * m * k));
    backend.typedArrayFromHeap(bPart).set(
      backend.typedArrayFromHeap(b).subarray(i * k * n, (i + 1) * k * n));
    const part = plainMatMul({
      inputs: { a: aPart, b: bPart }, backend, attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(part), i * m * n);
    for (const t of [part, aPart, bPart]) backend.disposeData(t.dataId);
  }
  return out;
}

/**
 * out[s, ...] = sum of x[i, ...] over i with segmentIds[i] = s. segmentIds covers the leading
 * axes of x; ids outside [0, numSegments) are dropped, as TensorFlow does.
 */
function unsortedSegmentSum(args: {
  inputs: { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  backend: WasmBackendLike;
  attrs: { numSegments: number };
}): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments;
  const idCount = segmentIds.shape.reduce((p, d) => p * d, 1);
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = innerShape.reduce((p, d) => p * d, 1);

  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views are taken after allocating: allocation may grow the heap and detach older views.
  const outValues = backend.typedArrayFromHeap(out);
  const xValues = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  outValues.fill(0);
  for (let i = 0; i < idCount; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) outValues[dst + j] += xValues[src + j];
  }
  return out;
}

/**
 * tfjs-core's Node bundle ships no gradient functions, and its ES module files use
 * extensionless imports that Node's loader rejects. esbuild bundles the registration module
 * once (cached per tfjs version); the registries it fills are process-global, so the copy it
 * carries shares them with the main one.
 */
function registerAllGradients(): void {
  if (tf.getGradient('Sum')) return;
  const require = createRequire(import.meta.url);
  const cached = join(cacheDir('tfjs'), `register-all-gradients-${tf.version_core}.cjs`);

  let code: string;
  if (existsSync(cached)) {
    code = readFileSync(cached, 'utf8');
  } else {
    const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    const built = buildSync({
      entryPoints: [entry], bundle: true, format: 'cjs', platform: 'node', write: false,
      logLevel: 'silent',
    });
    code = built.outputFiles[0].text;
    try {
      mkdirSync(dirname(cached), { recursive: true });
      const partial = `${cached}.${process.pid}.tmp`;
      writeFileSync(partial, code);
      renameSync(partial, cached);
    } catch {
      // A read-only cache only costs the bundling time on the next start.
    }
  }

  const moduleShim = { exports: {} };
  new Function('module', 'exports', 'require', code)(moduleShim, moduleShim.exports, require);
}

/**
 * A fixed weight matrix [inDim, outDim] living on the wasm heap, multiplied by row batches
 * through the backend's matMul kernel directly. Skipping TensorFlow.js's engine (tensor
 * bookkeeping, tape, tidy) cuts a call to ~15-25 µs, and the kernel keeps the weights packed
 * between calls. For no-grad inference loops only.
 */
export class WasmDense {
  private readonly backend: WasmBackendLike;
  private readonly weight: tf.TensorInfo;
  private disposed = false;

  constructor(values: Float32Array, readonly inDim: number, readonly outDim: number) {
    if (tf.getBackend() !== 'wasm' || !wasmPlainMatMul) {
      throw new Error('WasmDense needs the wasm backend: await ensureBackend() first');
    }
    if (values.length !== inDim * outDim) {
      throw new Error(`WasmDense got ${values.length} values for [${inDim}, ${outDim}]`);
    }
    this.backend = tf.backend() as unknown as WasmBackendLike;
    this.weight = this.backend.makeOutput([1, inDim, outDim], 'float32');
    this.backend.typedArrayFromHeap(this.weight).set(values);
  }

  /** out[r, :] = x[r, :] W for rows r < rows; x is [rows, inDim], out [rows, outDim]. */
  multiply(x: Float32Array, rows: number, out: Float32Array): void {
    if (this.disposed) throw new Error('WasmDense used after dispose()');
    const backend = this.backend;
    const input = backend.makeOutput([1, rows, this.inDim], 'float32');
    backend.typedArrayFromHeap(input).set(x.subarray(0, rows * this.inDim));
    const product = wasmPlainMatMul!({
      inputs: { a: input, b: this.weight }, backend,
      attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    out.set(backend.typedArrayFromHeap(product).subarray(0, rows * this.outDim));
    backend.disposeData(input.dataId);
    backend.disposeData(product.dataId);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backend.disposeData(this.weight.dataId);
  }
}
