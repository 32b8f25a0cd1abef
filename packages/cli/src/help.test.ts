import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { GLOBAL_FLAGS } from './command.js';
import { commands } from './commands/index.js';

// Nothing listens there: help that sent anything would exit 3.
const catalog = 'http://127.0.0.1:9/graphql';

async function annex(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let prompted = false;
  const code = await runCli(
    [...argv, '--catalog', catalog],
    { catalogUrl: undefined, token: undefined, configDir: join(tmpdir(), 'annex-cli-help-none') },
    { stdout: (t) => out.push(t), stderr: (t) => err.push(t), interactive: true },
    async () => {
      prompted = true;
      return '';
    },
  );
  return { code, out: out.join('\n'), err: err.join('\n'), prompted };
}

describe('help', () => {
  it.each(commands.map((c) => [c.id, c] as const))('`annex %s --help` shows that command only', async (id, command) => {
    const help = await annex([...id.split(' '), '--help']);
    expect(help).toMatchObject({ code: 0, err: '', prompted: false });
    expect(help.out.split('\n')[0]).toMatch(new RegExp(`^Usage: annex ${literal(id)}( |$)`));
    expect(help.out.toLowerCase()).toContain(command.summary.toLowerCase());
    for (const [name, spec] of Object.entries({ ...command.flags, ...GLOBAL_FLAGS })) {
      expect(help.out).toContain(`--${name}`);
      expect(help.out).toContain(spec.description);
    }
    for (const [name, spec] of Object.entries(command.args)) {
      expect(help.out).toContain(name);
      expect(help.out).toContain(spec.description);
    }
    expect(help.out).toMatch(new RegExp(`\\nExamples:\\n  annex ${literal(id)}\\b`));
    // Not the list of every command.
    expect(help.out).not.toContain('Commands:');

    expect(await annex(['help', ...id.split(' ')])).toEqual(help);
    expect(await annex([...id.split(' '), '-h'])).toEqual(help);
  });

  it('shows login’s usage without asking for a token or calling the catalog', async () => {
    const help = await annex(['login', '--help']);
    expect(help).toMatchObject({ code: 0, prompted: false });
    expect(help.out).toMatch(/^Usage: annex login\n/);
    expect(help.out).toContain('--token TOKEN');
    expect(help.out).toContain('(not shown)');
  });

  it('wins over the rest of the command line', async () => {
    const help = await annex(['addons:create', '--dryrun', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: annex addons:create SERVICE:PLAN --app APP /);
  });

  it('lists every command for `annex help` and `annex --help`; exit 2 with no command at all', async () => {
    const list = await annex(['help']);
    expect(list.code).toBe(0);
    expect(list.out).toContain('Commands:');
    for (const command of commands)
      expect(list.out).toMatch(new RegExp(`\\n  ${command.id} +${literal(command.summary)}`));
    expect(await annex(['--help'])).toEqual(list);
    expect(await annex([])).toEqual({ ...list, code: 2 });
  });

  it('names an unknown command', async () => {
    const unknown = await annex(['help', 'addons:frob']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe('error: unknown command "addons:frob"; see `annex help`');
  });
});

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
