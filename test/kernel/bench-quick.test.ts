/**
 * The benchmark harness end to end on a tiny budget: the load generator compiles, runs in the
 * throwaway cgroups on every transport, unpinned and pinned to one CPU (the default placements),
 * the accelerated runs really are redirected (the cilium counters move), paired ratios are formed,
 * the results render, and no cgroup is left behind. Performance is reported by
 * `npm run bench`, never asserted here.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseBenchArgs } from '../../src/bench/main.js';
import { runBench } from '../../src/bench/run.js';
import { cgroup2Root, describeKernel } from './support.js';

describeKernel('tsbpf bench (quick, tiny budget)', () => {
  it('measures stream, rr and connection rate on plain, cilium, minimal and unix, and writes the reports', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tsbpf-bench-test-'));
    const progress: string[] = [];
    try {
      const r = await runBench(
        {
          quick: true,
          seconds: 0.1,
          repetitions: 1,
          scenarios: ['stream-65536-nodelay', 'rr-64', 'crr'],
          reference: false,
          buildTiming: false,
          outDir: out,
        },
        { progress: (l) => progress.push(l) },
      );
      const ids = ['stream-65536-nodelay', 'rr-64', 'crr'];
      const placements = cpus().length > 1 ? ['unpinned', `cpu${cpus().length - 1}`] : ['unpinned'];
      expect(r.schemaVersion).toBe(2);
      expect(r.scenarios.map((s) => `${s.placement}/${s.scenario.id}`)).toEqual(
        placements.flatMap((p) => ids.map((id) => `${p}/${id}`)),
      );
      for (const s of r.scenarios) {
        expect(Object.keys(s.transports).sort()).toEqual(['cilium', 'minimal', 'plain', 'unix']);
        for (const t of Object.values(s.transports)) {
          for (const v of Object.values(t.median)) expect(v).toBeGreaterThan(0);
        }
        expect(Object.keys(s.ratios).sort()).toEqual(['cilium', 'minimal', 'unix']);
        // One repetition: one pair per transport and metric, equal to the ratio of medians.
        for (const [t, byMetric] of Object.entries(s.paired ?? {})) {
          for (const [metric, p] of Object.entries(byMetric)) {
            expect(p.n).toBe(1);
            expect(p.median).toBeCloseTo(s.ratios[t as 'cilium']![metric]!, 9);
          }
        }
      }
      expect(progress.some((l) => l.includes(`${placements.at(-1)} rr-64 cilium`))).toBe(true);
      // The cilium runs were redirected: sockets inserted and messages redirected.
      expect(r.ciliumStats.inserted).toBeGreaterThan(0);
      expect(r.ciliumStats.msg_redirected).toBeGreaterThan(0);
      expect(r.minimalStats.msg_redirected).toBeGreaterThan(0);
      const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as typeof r;
      expect(json.scenarios).toHaveLength(3 * placements.length);
      expect(readFileSync(join(out, 'results.md'), 'utf8')).toContain(
        '| rr-64 | unpinned | opsPerSecond',
      );
      expect(readFileSync(join(out, 'results.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
      // Every cgroup the bench created is gone.
      expect(
        readdirSync(cgroup2Root()).filter(
          (n) => n.startsWith(`tsbpf-test-bench-`) && n.includes(`-${process.pid}-`),
        ),
      ).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a CPU the machine does not have before creating anything', async () => {
    await expect(
      runBench(
        { quick: true, placements: [{ pin: 'cpu', cpu: cpus().length }], reference: false },
        { progress: () => {} },
      ),
    ).rejects.toThrow(`cannot pin to CPU ${cpus().length}: this machine has CPUs 0..`);
  });

  it('parses bench arguments and names a bad one', () => {
    expect(
      parseBenchArgs(['--quick', '--reps', '2', '--only', 'rr-64,crr', '--cpu', 'none,0']).options,
    ).toMatchObject({
      quick: true,
      repetitions: 2,
      scenarios: ['rr-64', 'crr'],
      placements: [{ pin: 'none' }, { pin: 'cpu', cpu: 0 }],
    });
    expect(() => parseBenchArgs(['--fast'])).toThrow(/unknown bench option --fast/);
  });
});
