import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ConfigError, flag, parseEnvironment, port, postgresUrl } from './config.js';

const schema = z.object({ PORT: port(4000), DEBUG: flag(false), DATABASE_URL: postgresUrl.optional() });

describe('parseEnvironment', () => {
  it('applies defaults and treats empty strings as unset', () => {
    expect(parseEnvironment(schema, { PORT: '', DEBUG: 'true' })).toEqual({ PORT: 4000, DEBUG: true });
  });

  it('names every bad variable', () => {
    try {
      parseEnvironment(schema, { PORT: 'eighty', DATABASE_URL: 'mysql://x' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const variables = (error as ConfigError).problems.map((p) => p.variable).sort();
      expect(variables).toEqual(['DATABASE_URL', 'PORT']);
      expect((error as Error).message).toMatch(/DATABASE_URL: expected a postgres/);
    }
  });
});
