// Looking at processes from tests (Linux /proc): whether one still runs, and which a process started.
import { readdirSync, readFileSync } from 'node:fs';

/** Whether `pid` is a running process (a zombie, dead but not yet reaped, counts as ended). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** The direct children of `parent`, with their command lines split into arguments. */
export function childrenOf(parent: number): { pid: number; cmdline: string[] }[] {
  const found: { pid: number; cmdline: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The fields after the command name, which may itself hold spaces and parentheses: state, then parent pid.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== parent) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      found.push({ pid: Number(entry), cmdline });
    } catch {
      // A process that ended while we looked.
    }
  }
  return found;
}
