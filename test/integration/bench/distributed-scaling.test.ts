// The distributed-scaling comparison with tiny counts: a well-formed result, every job done, and nothing left behind
// (namespaces, links, processes), also when Ctrl-C ends the run midway. Timings are never asserted. Needs root and
// iproute2, as the comparison does.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { checkNamespaceSupport, NamespaceStar } from '../../../bench/netns.ts';
import { validateComparison } from '../../../bench/report.ts';
import { distributedScalingComparison, SCALING_QUICK } from '../../../bench/scenarios/distributed-scaling.ts';
import { childrenOf } from '../../helpers/processes.ts';

const run = promisify(execFile);

/** The namespaces the comparison makes (prefix `abs`) that exist now. */
async function scalingNamespaces(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name.startsWith('abs-'));
}

/** Every descendant of `pid`, with its command line. */
function descendants(pid: number): { pid: number; cmdline: string[] }[] {
  return childrenOf(pid).flatMap((c) => [c, ...descendants(c.pid)]);
}

describe('the distributed-scaling comparison', { timeout: 120_000 }, () => {
  it('refuses, naming what is missing, without root or without ip', async () => {
    await expect(checkNamespaceSupport('The bench', { uid: 1000 })).rejects.toThrow(
      /The bench needs root .* uid 1000/,
    );
    await expect(checkNamespaceSupport('The bench', { ip: '/nonexistent/ip' })).rejects.toThrow(
      /needs iproute2's `\/nonexistent\/ip`/,
    );
    await expect(NamespaceStar.create(2, { uid: 1000 })).rejects.toThrow(/needs root/);
    await expect(NamespaceStar.create(0)).rejects.toThrow(RangeError);
    await expect(distributedScalingComparison({ ...SCALING_QUICK, workers: [] })).rejects.toThrow(
      /`workers`/,
    );
    await expect(distributedScalingComparison({ ...SCALING_QUICK, slots: 0 })).rejects.toThrow(/`slots`/);
    await expect(NamespaceStar.create(2, { subnet: '10.300.0' })).rejects.toThrow(/options\.subnet/);
  });

  it('measures 1, 2 and 4 workers in namespaces of their own and removes everything after', async () => {
    const before = await scalingNamespaces();
    const c = await distributedScalingComparison({ ...SCALING_QUICK, count: 60 });
    expect(validateComparison(c)).toEqual([]);
    expect(c.rows.map((r) => r.name)).toEqual(['1 worker', '2 workers', '4 workers']);
    for (const t of c.targets) expect(typeof t.holds).toBe('boolean');
    // Every worker of the 4-worker point took jobs: the notes say how many each started.
    expect(c.notes?.join('\n')).toMatch(
      /Jobs each of the 4 workers started over the whole run: [1-9]\d*, [1-9]\d*, [1-9]\d*, [1-9]\d*/,
    );
    expect(await scalingNamespaces()).toEqual(before);
    expect(
      descendants(process.pid).filter((p) =>
        p.cmdline.some((a) => /worker-process|scaling-proxy|redis-server/.test(a)),
      ),
    ).toEqual([]);
  });

  it('removes its namespaces and processes when Ctrl-C interrupts the run', async () => {
    const before = await scalingNamespaces();
    const bench = spawn(process.execPath, ['bench/run.ts', '--only', 'distributed-scaling'], {
      detached: true,
      stdio: 'ignore',
    });
    const group = bench.pid as number;
    const ended = new Promise((resolve) => bench.once('exit', resolve));
    try {
      // Midway: the namespaces made, the proxy in the hub and a worker in the last spoke running.
      await vi.waitFor(
        async () => {
          const made = (await scalingNamespaces()).filter((n) => !before.includes(n));
          expect(made).toHaveLength(5);
          for (const ns of made.filter((n) => n.endsWith('-hub') || n.endsWith('-4'))) {
            const { stdout } = await run('ip', ['netns', 'pids', ns]);
            expect(stdout.trim()).not.toBe('');
          }
        },
        { timeout: 60_000, interval: 200 },
      );
      process.kill(-group, 'SIGINT'); // what Ctrl-C does: the whole process group
      await ended;
      await vi.waitFor(
        () => {
          expect(() => process.kill(-group, 0)).toThrow(); // no process of the run is left
        },
        { timeout: 30_000, interval: 100 },
      );
      expect(await scalingNamespaces()).toEqual(before);
    } finally {
      // Should the run outlive the test: end it, and remove what it can no longer remove itself.
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // Already gone, as it should be.
      }
      for (const ns of (await scalingNamespaces()).filter((n) => !before.includes(n))) {
        await run('ip', ['netns', 'del', ns]).catch(() => {});
      }
    }
  });
});
