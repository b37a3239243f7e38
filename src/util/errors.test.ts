import { describe, expect, it } from 'vitest';

import { InputError, formatLocated } from './errors.ts';

describe('InputError', () => {
  it('names file, line and field', () => {
    const error = new InputError('expected a number', { file: 'run.yaml', line: 4, field: 'ppo.lr' });
    expect(error.message).toBe('run.yaml:4, field "ppo.lr": expected a number');
    expect(error.name).toBe('InputError');
  });

  it('leaves out what is unknown', () => {
    expect(formatLocated('empty', { field: 'principles' })).toBe('field "principles": empty');
    expect(formatLocated('empty', {})).toBe('empty');
  });
});
