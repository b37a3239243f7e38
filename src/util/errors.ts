/**
 * Typed errors shared by every plane. Each has a stable `name` so callers (and the HTTP
 * layer) can branch on it without `instanceof` across module copies.
 */

export class RlaifError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RlaifError';
  }
}

/** Where in an input a fault was found: file, 1-based line, and the field path. */
export interface InputLocation {
  file?: string;
  line?: number;
  field?: string;
}

/** Bad user input: a config, a data file, a request. The message names file, line, field. */
export class InputError extends RlaifError {
  readonly location: InputLocation;

  constructor(problem: string, location: InputLocation = {}, options?: { cause?: unknown }) {
    super(formatLocated(problem, location), options);
    this.name = 'InputError';
    this.location = location;
  }
}

/** A model file that cannot be read: wrong magic, truncated, unsupported tensor type. */
export class ModelFormatError extends RlaifError {
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'ModelFormatError';
    this.file = file;
  }
}

export function formatLocated(problem: string, location: InputLocation): string {
  const parts: string[] = [];
  if (location.file) parts.push(location.file + (location.line ? `:${location.line}` : ''));
  if (location.field) parts.push(`field "${location.field}"`);
  return parts.length > 0 ? `${parts.join(', ')}: ${problem}` : problem;
}
