import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { sharedModelsDir } from '../util/paths.ts';
import { ChecksumError, ModelNotFoundError, resolveModel, sha256File } from './hub.ts';

const sharedStories = join(sharedModelsDir(), 'stories260K');
const served = new Map<string, Buffer>();
const requests: string[] = [];
let server: Server;
let hubUrl: string;

beforeAll(async () => {
  // A loopback stand-in for the hub: a redirect to a "CDN" path, as huggingface.co does.
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = req.url ?? '';
    if (url.startsWith('/karpathy/')) {
      res.writeHead(302, { location: `/cdn${url}` }).end();
      return;
    }
    const body = served.get(url.replace(/^\/cdn/, ''));
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address() as { port: number };
  hubUrl = `http://127.0.0.1:${address.port}`;
});

afterAll(() => new Promise<void>((done) => server.close(() => done())));

function serveStories(weights: Buffer = readFileSync(join(sharedStories, 'stories260K.bin'))) {
  served.set('/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin', weights);
  served.set(
    '/karpathy/tinyllamas/resolve/main/stories260K/tok512.bin',
    readFileSync(join(sharedStories, 'tok512.bin')),
  );
}

const noEnv = {} as NodeJS.ProcessEnv;

describe('model resolution', () => {
  it('downloads into the cache, checks the hashes, then finds the cached copy', async () => {
    serveStories();
    const cache = mkdtempSync(join(tmpdir(), 'rlaif-hub-'));
    const first = await resolveModel({ name: 'stories260K', env: noEnv, cacheDir: cache, hubUrl, silent: true });
    expect(first.source).toBe('download');
    expect(first.model).toBe(join(cache, 'stories260K', 'stories260K.bin'));
    expect(await sha256File(first.model)).toBe(await sha256File(join(sharedStories, 'stories260K.bin')));
    expect(readdirSync(join(cache, 'stories260K')).sort()).toEqual(['stories260K.bin', 'tok512.bin']);

    const before = requests.length;
    const second = await resolveModel({ name: 'stories260K', env: noEnv, cacheDir: cache, hubUrl });
    expect(second.source).toBe('cache');
    expect(requests.length).toBe(before);
  });

  it('rejects a download whose bytes do not match and leaves nothing behind', async () => {
    const tampered = Buffer.from(readFileSync(join(sharedStories, 'stories260K.bin')));
    tampered[1000] ^= 0xff;
    serveStories(tampered);
    const cache = mkdtempSync(join(tmpdir(), 'rlaif-hub-'));
    await expect(
      resolveModel({ name: 'stories260K', env: noEnv, cacheDir: cache, hubUrl, silent: true }),
    ).rejects.toBeInstanceOf(ChecksumError);
    const folder = join(cache, 'stories260K');
    expect(existsSync(folder) ? readdirSync(folder) : []).toEqual([]);
  });

  it('replaces a corrupted cached copy', async () => {
    serveStories();
    const cache = mkdtempSync(join(tmpdir(), 'rlaif-hub-'));
    mkdirSync(join(cache, 'stories260K'));
    writeFileSync(join(cache, 'stories260K', 'stories260K.bin'), 'truncated');
    const found = await resolveModel({ name: 'stories260K', env: noEnv, cacheDir: cache, hubUrl, silent: true });
    expect(found.source).toBe('download');
    expect(readFileSync(found.model).length).toBe(1_056_540);
  });

  it('prefers the flag, then RLAIF_MODELS, over the cache', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'rlaif-hub-'));
    const flag = await resolveModel({
      name: 'stories260K',
      modelPath: join(sharedStories, 'stories260K.bin'),
      env: { RLAIF_MODELS: '/nowhere' },
      cacheDir: cache,
    });
    expect(flag).toEqual({
      model: join(sharedStories, 'stories260K.bin'),
      tokenizer: join(sharedStories, 'tok512.bin'),
      source: 'flag',
    });
    const env = await resolveModel({
      name: 'stories260K',
      env: { RLAIF_MODELS: sharedModelsDir() },
      cacheDir: cache,
      offline: true,
    });
    expect(env.source).toBe('models-dir');
    expect(env.tokenizer).toBe(join(sharedStories, 'tok512.bin'));
  });

  it('offline with no file: says how to provide one', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'rlaif-hub-'));
    const error = await resolveModel({ name: 'stories260K', env: noEnv, cacheDir: cache, offline: true })
      .catch((e: unknown) => e as ModelNotFoundError);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    const message = (error as Error).message;
    expect(message).toContain('--model');
    expect(message).toContain('RLAIF_MODELS');
    expect(message).toContain(join(cache, 'stories260K'));
    expect(message).toContain(
      'https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin',
    );
  });

  it('an unreachable hub gives the same instructions', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'rlaif-hub-'));
    // Port 9 on loopback: nothing listens, so the connection is refused at once.
    const error = await resolveModel({
      name: 'stories260K', env: noEnv, cacheDir: cache, hubUrl: 'http://127.0.0.1:9',
    }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as Error).message).toMatch(/could not download stories260K[\s\S]*RLAIF_MODELS/);
  });
});
