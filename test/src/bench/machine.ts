import { cpus, totalmem } from 'node:os';

/** What the numbers were measured on; printed beside every result. */
export function describeMachine(): string {
  const cpu = cpus();
  return [
    `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}`,
    `${Math.round(totalmem() / 2 ** 30)} GiB`,
    `Node ${process.version}`,
    `${process.platform}/${process.arch}`,
  ].join(', ');
}
