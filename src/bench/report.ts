/**
 * Rendering benchmark results: a markdown report (medians, paired ratios to plain TCP with their
 * spread next to the ratio of medians, the cross-check with iperf3/sockperf, build times, targets
 * as measured) and a hand-written SVG bar chart of the paired ratios (one group per scenario
 * metric and placement, one bar per transport, a line at 1.0 = plain TCP).
 */
import { placementIdOf, placementLabel } from './placement.js';
import type { BenchResults, ScenarioResult } from './run.js';
import { metricsOf, type Transport } from './scenarios.js';
import { headlineRatio, median } from './stats.js';

const SHOWN: readonly Transport[] = ['plain', 'cilium', 'minimal', 'unix'];

const fmt = (x: number | undefined, digits = 2) =>
  x === undefined || Number.isNaN(x) ? '—' : x.toFixed(digits);

/** Placement id → label ('cpu1' → 'pinned to CPU 1'); results of schema 1 are unpinned. */
function labelOf(id: string | undefined): string {
  const cpu = id?.match(/^cpu(\d+)$/)?.[1];
  return cpu === undefined ? 'unpinned' : placementLabel({ pin: 'cpu', cpu: Number(cpu) });
}

/** A ratio cell: `paired median (min–max); of medians R`, or just the ratio for schema 1. */
function ratioCell(s: ScenarioResult, t: Transport, metric: string): string {
  const p = s.paired?.[t]?.[metric];
  const rom = s.ratios[t]?.[metric];
  if (!p || p.n === 0) return fmt(rom);
  return `${fmt(p.median)} (${fmt(p.min)}–${fmt(p.max)}); of medians ${fmt(rom)}`;
}

/** The markdown report. */
export function renderMarkdown(r: BenchResults): string {
  const lines: string[] = [];
  lines.push('# tsbpf benchmark results', '');
  lines.push(
    `${r.date}, Linux ${r.kernel}, ${r.cpus} CPUs; ${r.repetitions} interleaved repetitions of ${r.seconds} s per run; ` +
      `placements: ${(r.placements ?? [{ pin: 'none' as const }]).map(placementLabel).join(', ')} (unpinned: the scheduler places client and server; pinned: both on that one CPU with taskset). ` +
      'Ratios are to plain TCP over loopback (for latency, below 1 is better). ' +
      'Each ratio is first the **median of paired ratios** — every run divided by the plain run of the same repetition and placement, which ran next to it in time, so drift of the machine between repetitions cancels — with the smallest and largest paired ratio in parentheses, then the ratio of the medians for comparison. ' +
      'The targets are judged on the paired median. ' +
      '`cilium` = default `buildSockops()` with 127.0.0.0/8 and ::1 as local endpoints, `minimal` = the minimal variant, `unix` = a UNIX domain stream socket.',
    '',
  );
  lines.push(
    '## Targets (cilium variant, measured)',
    '',
    '| target | goal | placement | measured (paired median) | paired min–max | ratio of medians | met |',
    '|---|---|---|---|---|---|---|',
  );
  for (const t of r.targets) {
    const range = t.min === undefined ? '—' : `${fmt(t.min)}–${fmt(t.max)}`;
    lines.push(
      `| ${t.name} | ${t.goal} | ${t.placement ?? '—'} | ${fmt(t.measured)} | ${range} | ${fmt(t.ratioOfMedians)} | ${t.met ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('', '## Medians and ratios', '');
  lines.push(
    '| scenario | placement | metric | plain | cilium | minimal | unix | cilium/plain | minimal/plain | unix/plain |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const s of r.scenarios) {
    for (const m of metricsOf(s.scenario)) {
      const med = SHOWN.map((t) => fmt(s.transports[t]?.median[m.name]));
      const rat = (['cilium', 'minimal', 'unix'] as const).map((t) => ratioCell(s, t, m.name));
      lines.push(
        `| ${s.scenario.id} | ${labelOf(s.placement)} | ${m.name} (${m.unit}) | ${med.join(' | ')} | ${rat.join(' | ')} |`,
      );
    }
  }
  if (r.reference) {
    const ref = r.reference;
    const m = (xs: readonly { readonly placement?: string }[], k: string, pl: string) =>
      median(
        xs
          .filter((x) => placementIdOf(x) === pl)
          .map((x) => (x as unknown as Record<string, number>)[k] ?? Number.NaN),
      );
    lines.push('', '## Cross-check with iperf3 and sockperf', '');
    if (r.referenceError) lines.push(`The cross-check stopped early: ${r.referenceError}`, '');
    lines.push(
      'The same quantity measured by the load generator and by the independent tool, side by side (medians), in the same placement. ' +
        "The poll-before-read row runs the load generator with iperf3's receive pattern: sk_msg redirect has no receive window, so a receiver that is slower than its sender lets the queue grow and the gain shrinks (docs/benchmarks.md, why iperf3 gains less).",
      '',
    );
    lines.push('| quantity | placement | transport | loadgen | tool |', '|---|---|---|---|---|');
    const placements = [...new Set(r.scenarios.map(placementIdOf))];
    for (const pl of placements) {
      const find = (id: string) =>
        r.scenarios.find((s) => s.scenario.id === id && placementIdOf(s) === pl);
      const stream = find('stream-65536-nagle');
      const rr64 = find('rr-64');
      const where = labelOf(pl);
      for (const t of ['plain', 'cilium'] as const) {
        const ip = t === 'plain' ? ref.iperf3Plain : ref.iperf3Cilium;
        const sp = t === 'plain' ? ref.sockperfPlain : ref.sockperfCilium;
        const pr = t === 'plain' ? ref.pollReadPlain : ref.pollReadCilium;
        lines.push(
          `| stream 64 KiB writes, Nagle on (Gbit/s) | ${where} | ${t} | ${fmt(stream?.transports[t]?.median.gbitPerSecond)} | iperf3 -l 64K: ${fmt(m(ip, 'gbitPerSecond', pl))} |`,
        );
        if (pr && pr.length > 0) {
          lines.push(
            `| the same, receiver polls before every 64 KiB read as iperf3 does (Gbit/s; ms to drain after the last write) | ${where} | ${t} | ${fmt(m(pr, 'gbitPerSecond', pl))}; ${fmt(1000 * m(pr, 'drainSeconds', pl), 1)} ms | iperf3 -l 64K: ${fmt(m(ip, 'gbitPerSecond', pl))} |`,
          );
        }
        lines.push(
          `| rr 64 B p50 round trip (µs) | ${where} | ${t} | ${fmt(rr64?.transports[t]?.median.p50Us)} | sockperf ping-pong: ${fmt(m(sp, 'rttP50Us', pl))} (2 × its half-RTT p50) |`,
        );
        lines.push(
          `| rr 64 B round trips/s | ${where} | ${t} | ${fmt(rr64?.transports[t]?.median.opsPerSecond, 0)} | sockperf --mps max, messages / valid duration (not comparable: sockperf's own per-message work is included): ${fmt(m(sp, 'opsPerSecond', pl), 0)} |`,
        );
      }
    }
  }
  if (r.buildTiming) {
    const b = r.buildTiming;
    lines.push(
      '',
      '## Build time',
      '',
      `Cold: \`tsbpf build\` (the compiled CLI in a fresh node, writing the .o and .lst) against clang -O2 -g -target bpf on the C equivalent (${b.clangSource ?? 'clang missing'}); medians of ${b.coldRuns} interleaved rounds, Node ${b.node}; \`node -e 0\` alone ${fmt(b.nodeStartMs, 1)} ms; load average ${fmt(b.load.before)} → ${fmt(b.load.after)} on ${b.load.cpus} CPUs. Warm: median (p90) of ${b.warmRuns} buildSockops() calls in one process${b.warmUpBuilds === undefined ? '' : `, after ${b.warmUpBuilds} untimed warm-up builds`}.`,
      '',
      '| variant | buildSockops() warm ms | tsbpf build cold ms | clang -O2 ms | tsbpf / clang |',
      '|---|---|---|---|---|',
    );
    for (const v of ['cilium', 'minimal'] as const) {
      const c = b.cold[v];
      lines.push(
        `| ${v} | ${fmt(b.warmMs[v], 3)}${b.warmP90Ms === undefined ? '' : ` (${fmt(b.warmP90Ms[v], 3)})`} | ${fmt(c.tsbpfMs, 1)} | ${fmt(c.clangMs, 1)} | ${fmt(c.clangMs === undefined ? undefined : c.tsbpfMs / c.clangMs)} |`,
      );
    }
  }
  lines.push('', '## Blocking reads that returned EAGAIN', '');
  lines.push(
    `Per transport, over the whole run (the load generator polls and retries; see docs/conformance.md, half_close): ${JSON.stringify(r.eagainOnBlockingRead)}`,
  );
  lines.push('', '## Evidence of redirection', '');
  lines.push(`cilium variant counters after the run: ${JSON.stringify(r.ciliumStats)}`, '');
  lines.push(`minimal variant counters after the run: ${JSON.stringify(r.minimalStats)}`, '');
  return `${lines.join('\n')}\n`;
}

const COLORS: Record<Exclude<Transport, 'plain'>, string> = {
  cilium: '#2b6cb0',
  minimal: '#38a169',
  unix: '#a0aec0',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A bar chart of ratios to plain TCP (log scale would hide small gaps; linear, capped at 4×). */
export function renderSvg(r: BenchResults): string {
  const groups: { label: string; values: [Exclude<Transport, 'plain'>, number][] }[] = [];
  const several = new Set(r.scenarios.map(placementIdOf)).size > 1;
  for (const s of r.scenarios) {
    for (const m of metricsOf(s.scenario)) {
      if (m.name === 'p99Us') continue;
      const values = (['cilium', 'minimal', 'unix'] as const)
        .map((t): [typeof t, number] => [
          t,
          headlineRatio(s.paired?.[t]?.[m.name], s.ratios[t]?.[m.name]) ?? Number.NaN,
        ])
        .filter(([, v]) => !Number.isNaN(v));
      const where = several ? ` (${placementIdOf(s)})` : '';
      groups.push({ label: `${s.scenario.id}${m.name === 'p50Us' ? ' p50' : ''}${where}`, values });
    }
  }
  const cap = 4;
  const rowH = 34;
  const left = 190;
  const width = 760;
  const plotW = width - left - 40;
  const top = 50;
  const height = top + groups.length * rowH + 40;
  const x = (v: number) => left + (Math.min(v, cap) / cap) * plotW;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(
    `<text x="10" y="20" font-size="14">tsbpf bench: paired median ratio to plain TCP loopback (${esc(r.kernel)}); p50 rows: lower is better</text>`,
  );
  let lx = 10;
  for (const [t, c] of Object.entries(COLORS)) {
    parts.push(
      `<rect x="${lx}" y="30" width="10" height="10" fill="${c}"/><text x="${lx + 14}" y="39">${t}</text>`,
    );
    lx += 80;
  }
  for (let g = 0; g <= cap; g++) {
    parts.push(
      `<line x1="${x(g)}" y1="${top - 5}" x2="${x(g)}" y2="${height - 35}" stroke="${g === 1 ? '#e53e3e' : '#e2e8f0'}"/>`,
    );
    parts.push(`<text x="${x(g)}" y="${height - 20}" text-anchor="middle">${g}×</text>`);
  }
  groups.forEach((grp, i) => {
    const y0 = top + i * rowH;
    parts.push(
      `<text x="${left - 6}" y="${y0 + rowH / 2 + 4}" text-anchor="end">${esc(grp.label)}</text>`,
    );
    grp.values.forEach(([t, v], j) => {
      const y = y0 + 3 + j * 9;
      parts.push(
        `<rect x="${left}" y="${y}" width="${Math.max(1, x(v) - left)}" height="8" fill="${COLORS[t]}"><title>${t}: ${v.toFixed(2)}</title></rect>`,
      );
      if (v > cap) parts.push(`<text x="${x(cap) + 3}" y="${y + 8}">${v.toFixed(1)}</text>`);
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
