import { describe, expect, it } from 'vitest';
import { resolveReceiveOptions } from '../../../src/config/options.js';
import { ConfigError } from '../../../src/index.js';

describe('receive option typed', () => {
  it('is off by default, and a boolean', () => {
    expect(resolveReceiveOptions({}).typed).toBe(false);
    expect(resolveReceiveOptions({ typed: true }).typed).toBe(true);
    expect(() => resolveReceiveOptions({ typed: 'yes' })).toThrow(ConfigError);
    expect(() => resolveReceiveOptions({ typed: 1 })).toThrow(/typed/);
  });
});
