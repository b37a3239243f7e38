/**
 * Where model files come from. A named model (stories260K) is found by the `--model` flag,
 * then the `--models-dir` flag or the RLAIF_MODELS folder, then the user cache
 * (~/.cache/rlaif/models), and last downloaded from the Hugging Face hub, checked against a
 * pinned SHA-256 and written atomically (a temporary file renamed into place), so a killed
 * download never leaves a half file that looks whole.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, openSync, closeSync, fsyncSync, renameSync,
  rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { RlaifError } from '../util/errors.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import { cacheDir } from '../util/paths.ts';
import { startProgress } from '../util/progress.ts';

/** A file of a known model: where it lives on the hub and what its bytes hash to. */
export interface HubFile {
  /** File name inside the model's folder. */
  name: string;
  /** Path under `<baseUrl>/<repo>/resolve/<revision>/`. */
  hubPath: string;
  sha256: string;
  bytes: number;
}

export interface KnownModel {
  repo: string;
  revision: string;
  /** The weights file (first) and its tokenizer. */
  files: [HubFile, HubFile];
}

/** Models rlaif can fetch by name. Hashes measured on the official copies. */
export const knownModels: Record<string, KnownModel> = {
  stories260K: {
    repo: 'karpathy/tinyllamas',
    revision: 'main',
    files: [
      {
        name: 'stories260K.bin',
        hubPath: 'stories260K/stories260K.bin',
        sha256: 'b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696',
        bytes: 1_056_540,
      },
      {
        name: 'tok512.bin',
        hubPath: 'stories260K/tok512.bin',
        sha256: '037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312',
        bytes: 6_227,
      },
    ],
  },
};

export const defaultHubUrl = 'https://huggingface.co';

/** No copy of a model could be found or fetched; the message says how to provide one. */
export class ModelNotFoundError extends RlaifError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelNotFoundError';
  }
}

/** Downloaded bytes did not hash to the pinned value; nothing was written. */
export class ChecksumError extends RlaifError {
  constructor(readonly url: string, readonly expected: string, readonly actual: string) {
    super(`${url}: SHA-256 ${actual} does not match the expected ${expected}; file discarded`);
    this.name = 'ChecksumError';
  }
}

export interface ResolveModelOptions {
  /** A model name from `knownModels`, or any name to look for as a folder. */
  name: string;
  /** `--model`: a weights file or a folder holding it. Wins over everything else. */
  modelPath?: string;
  /** `--models-dir`: a folder of model folders. Default: the RLAIF_MODELS variable. */
  modelsDir?: string;
  /** Environment to read RLAIF_MODELS and RLAIF_OFFLINE from. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The user cache. Default ~/.cache/rlaif/models (XDG_CACHE_HOME respected). */
  cacheDir?: string;
  /** Hub base URL (tests point it at a loopback server). Default https://huggingface.co. */
  hubUrl?: string;
  /** Never download. Default: RLAIF_OFFLINE=1 or HF_HUB_OFFLINE=1 in `env`. */
  offline?: boolean;
  logger?: Logger;
  /** Hide the download progress bar. */
  silent?: boolean;
}

export interface ResolvedModel {
  /** Absolute path of the weights file. */
  model: string;
  /** Absolute path of the tokenizer file, when the format keeps it apart. */
  tokenizer?: string;
  source: 'flag' | 'models-dir' | 'cache' | 'download';
}

/** Finds the files of a model, downloading them into the cache when nothing else has them. */
export async function resolveModel(options: ResolveModelOptions): Promise<ResolvedModel> {
  const env = options.env ?? process.env;
  const known = knownModels[options.name];
  const logger = options.logger ?? silentLogger;

  // 1. --model: a file or a folder given on purpose; a missing one is an error, not a fallback.
  if (options.modelPath) {
    const found = lookIn(resolve(options.modelPath), options.name, known);
    if (!found) {
      throw new ModelNotFoundError(`--model ${options.modelPath}: no such model file or folder`);
    }
    return { ...found, source: 'flag' };
  }

  // 2. --models-dir, else RLAIF_MODELS.
  const modelsDir = options.modelsDir ?? env.RLAIF_MODELS;
  if (modelsDir) {
    const found = lookIn(join(resolve(modelsDir), options.name), options.name, known);
    if (found) return { ...found, source: 'models-dir' };
  }

  // 3. The user cache, trusted only when the hashes still match.
  const cache = options.cacheDir ?? cacheDir('models');
  const cached = join(cache, options.name);
  if (known && (await isIntact(cached, known))) {
    return { ...filesOf(cached, known), source: 'cache' };
  }
  if (!known) {
    const found = lookIn(cached, options.name, undefined);
    if (found) return { ...found, source: 'cache' };
    throw new ModelNotFoundError(
      howToProvide(options.name, cache, modelsDir, undefined, undefined, options.modelsDir));
  }

  // 4. The hub.
  const offline = options.offline ?? (env.RLAIF_OFFLINE === '1' || env.HF_HUB_OFFLINE === '1');
  if (offline) {
    throw new ModelNotFoundError(
      howToProvide(options.name, cache, modelsDir, known, options.hubUrl, options.modelsDir));
  }
  const hubUrl = options.hubUrl ?? defaultHubUrl;
  try {
    for (const file of known.files) {
      const target = join(cached, file.name);
      if (existsSync(target) && (await sha256File(target)) === file.sha256) continue;
      const url = `${hubUrl}/${known.repo}/resolve/${known.revision}/${file.hubPath}`;
      logger.info({ url, target }, 'downloading model file');
      await downloadVerified({ url, target, sha256: file.sha256, silent: options.silent });
    }
  } catch (error) {
    if (error instanceof ChecksumError) throw error;
    throw new ModelNotFoundError(
      `could not download ${options.name} (${(error as Error).message}).\n` +
        howToProvide(options.name, cache, modelsDir, known, options.hubUrl, options.modelsDir),
      { cause: error },
    );
  }
  return { ...filesOf(cached, known), source: 'download' };
}

export interface DownloadOptions {
  url: string;
  target: string;
  sha256: string;
  silent?: boolean;
}

/** Streams `url` into `target` through a temporary file, renamed only after the hash matches. */
export async function downloadVerified(options: DownloadOptions): Promise<void> {
  const { url, target, sha256 } = options;
  const response = await fetch(url, { redirect: 'follow' });
  if (!response.ok || !response.body) {
    throw new Error(`HTTP ${response.status} from ${url}`);
  }

  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.partial-${process.pid}`;
  const hash = createHash('sha256');
  const total = Number(response.headers.get('content-length') ?? 0);
  const progress = startProgress({
    label: 'download',
    total: total || 1,
    silent: options.silent || total < 1 << 20,
  });
  const fd = openSync(partial, 'w');
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      writeSync(fd, chunk);
      progress.tick(chunk.length);
    }
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(partial, { force: true });
    throw error;
  } finally {
    progress.stop();
  }
  closeSync(fd);

  const actual = hash.digest('hex');
  if (actual !== sha256) {
    rmSync(partial, { force: true });
    throw new ChecksumError(url, sha256, actual);
  }
  renameSync(partial, target);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The model inside `path` (a file, or a folder holding the known file names or one model). */
function lookIn(
  path: string,
  name: string,
  known: KnownModel | undefined,
): Omit<ResolvedModel, 'source'> | undefined {
  if (!existsSync(path)) return undefined;
  if (statSync(path).isFile()) {
    const tokenizer = known ? join(dirname(path), known.files[1].name) : undefined;
    return { model: path, tokenizer: tokenizer && existsSync(tokenizer) ? tokenizer : undefined };
  }
  if (known) {
    const files = filesOf(path, known);
    return existsSync(files.model) ? files : undefined;
  }
  for (const candidate of [`${name}.bin`, `${name}.gguf`, 'model.safetensors', 'config.json']) {
    if (existsSync(join(path, candidate))) {
      return { model: candidate === 'config.json' ? path : join(path, candidate) };
    }
  }
  return undefined;
}

function filesOf(folder: string, known: KnownModel): Omit<ResolvedModel, 'source'> {
  return { model: join(folder, known.files[0].name), tokenizer: join(folder, known.files[1].name) };
}

async function isIntact(folder: string, known: KnownModel): Promise<boolean> {
  for (const file of known.files) {
    const path = join(folder, file.name);
    if (!existsSync(path) || statSync(path).size !== file.bytes) return false;
    if ((await sha256File(path)) !== file.sha256) return false;
  }
  return true;
}

function howToProvide(
  name: string,
  cache: string,
  modelsDir: string | undefined,
  known: KnownModel | undefined,
  hubUrl = defaultHubUrl,
  modelsDirFlag?: string,
): string {
  const lines = [`model "${name}" not found. Provide it in one of these ways:`];
  lines.push(`  - pass the file: --model /path/to/${known?.files[0].name ?? `${name}.bin`}`);
  if (modelsDirFlag) {
    lines.push(`  - put a folder "${name}" in the --models-dir folder ${modelsDirFlag} ` +
      `(${join(resolve(modelsDirFlag), name)} holds no model)`);
  } else {
    lines.push(`  - put a folder "${name}" in a models folder and set RLAIF_MODELS=/that/folder` +
      (modelsDir ? ` (looked in ${modelsDir})` : ''));
  }
  lines.push(`  - copy the files into ${join(cache, name)}/`);
  if (known) {
    const urls = known.files.map(
      (f) => `${hubUrl}/${known.repo}/resolve/${known.revision}/${f.hubPath}`,
    );
    lines.push(`  - download them (SHA-256 checked) while online, or fetch them yourself:`);
    for (const url of urls) lines.push(`      ${url}`);
  }
  return lines.join('\n');
}
