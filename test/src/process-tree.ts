import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';

// What runs in production is plain Node on built JavaScript. These read the process list, so a
// test can see what a start script or bin really runs, including what it spawns.

export interface Listed {
  pid: number;
  args: string;
}

/** `pid` and every process under it, from the process list. */
export function processTree(pid: number): Listed[] {
  const rows = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), ppid: Number(match[2]), args: match[3] as string }));
  const tree: Listed[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift() as number;
    for (const row of rows) {
      if (row.pid === current) tree.push({ pid: row.pid, args: row.args });
      if (row.ppid === current) queue.push(row.pid);
    }
  }
  return tree;
}

/** What is wrong with a process tree for production: build tools, or Node run with a loader. */
export function buildToolsIn(tree: Listed[]): string[] {
  const found: string[] = [];
  for (const { pid, args } of tree) {
    if (/\btsx\b|esbuild/.test(args)) found.push(`${pid}: a build tool: ${args}`);
    const [executable, first] = args.split(/\s+/);
    if (executable && basename(executable) === 'node' && first?.startsWith('-')) {
      found.push(`${pid}: node with flags before its script: ${args}`);
    }
  }
  return found;
}
