/**
 * Reading model files whole, with errors that name the file: the one place the format readers
 * (safetensors, GGUF, config JSON) touch the disk.
 */
import { readFile } from 'node:fs/promises';

import { ModelFormatError } from '../util/errors.ts';

/** The bytes of a model file; a missing or unreadable file is a ModelFormatError. */
export async function readModelFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ModelFormatError(path, `cannot read: ${(error as Error).message}`, { cause: error });
  }
}

/** A JSON file (config.json, tokenizer.json, ...) parsed, naming the file when it is not JSON. */
export async function readJsonFile(path: string): Promise<unknown> {
  const text = (await readModelFile(path)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(path, `not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
