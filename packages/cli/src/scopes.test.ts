import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCOPES } from '@annex/platform';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { scopeList, scopeProblem } from './scopes.js';

describe('token scopes in the CLI', () => {
  it('reads --scope repeated or comma-separated', () => {
    expect(scopeList(['apps:read, config:write', 'sso', ''])).toEqual(['apps:read', 'config:write', 'sso']);
  });

  it('names unknown scopes and the valid ones for the kind', () => {
    expect(scopeProblem('org', ['apps:read', 'sso'])).toBeNull();
    expect(scopeProblem('org', ['apps:admin', 'apps:read'])).toBe(
      `unknown scope apps:admin; org tokens may have: ${Object.keys(SCOPES).join(', ')}`,
    );
    expect(scopeProblem('provider', ['apps:read'])).toMatch(
      /may have: catalog:publish, provider:read, provider:write$/,
    );
  });
});

describe('annex admin tokens:create --scope', () => {
  // Nothing listens there: a command that sent anything would exit 3.
  const annex = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      [...argv, '--catalog', 'http://127.0.0.1:9/graphql', '--token', 'annex_admin_xxxxxxxxxxxxxxxxxxxxxxxx'],
      { catalogUrl: undefined, token: undefined, configDir: join(tmpdir(), 'annex-cli-scopes-none') },
      { stdout: (t) => out.push(t), stderr: (t) => err.push(t), interactive: false },
      async () => '',
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('refuses an unknown scope with exit 2 before any request, naming the valid ones', async () => {
    const refused = await annex([
      'admin',
      'tokens:create',
      '--kind',
      'org',
      '--org',
      'acme',
      '--name',
      'ci',
      '--scope',
      'apps:read,apps:admin',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('--scope: unknown scope apps:admin; org tokens may have: apps:read, apps:write');
  });

  it('lists every scope in `annex help`', async () => {
    const help = await annex(['help']);
    const lines = help.out.split('\n');
    for (const [scope, what] of Object.entries(SCOPES)) {
      expect(lines.some((line) => line.trim().startsWith(`${scope} `) && line.endsWith(`  ${what}`))).toBe(true);
    }
  });
});
