/**
 * Rendering benchmark results: a markdown report (medians, ratios to plain TCP, the cross-check
 * with iperf3/sockperf, build times, targets as measured) and a hand-written SVG bar chart of the
 * ratios (one group per scenario metric, one bar per transport, a line at 1.0 = plain TCP).
 */
import type { BenchResults } from './run.js';
import { metricsOf, type Transport } from './scenarios.js';
import { median } from './stats.js';

const SHOWN: readonly Transport[] = ['plain', 'cilium', 'minimal', 'unix'];

const fmt = (x: number | undefined, digits = 2) =>
  x === undefined || Number.isNaN(x) ? '—' : x.toFixed(digits);

/** The markdown report. */
export function renderMarkdown(r: BenchResults): string {
  const lines: string[] = [];
  lines.push('# tsbpf benchmark results', '');
  lines.push(
    `${r.date}, Linux ${r.kernel}, ${r.cpus} CPUs; ${r.repetitions} interleaved repetitions of ${r.seconds} s per run; medians. ` +
      'Ratios are to plain TCP over loopback (for latency, below 1 is better). ' +
      '`cilium` = default `buildSockops()` with 127.0.0.0/8 and ::1 as local endpoints, `minimal` = the minimal variant, `unix` = a UNIX domain stream socket.',
    '',
  );
  lines.push(
    '## Targets (cilium variant, measured)',
    '',
    '| target | goal | measured | met |',
    '|---|---|---|---|',
  );
  for (const t of r.targets)
    lines.push(`| ${t.name} | ${t.goal} | ${fmt(t.measured)} | ${t.met ? 'yes' : '**no**'} |`);
  lines.push('', '## Medians and ratios', '');
  lines.push(
    '| scenario | metric | plain | cilium | minimal | unix | cilium/plain | minimal/plain | unix/plain |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const s of r.scenarios) {
    for (const m of metricsOf(s.scenario)) {
      const med = SHOWN.map((t) => fmt(s.transports[t]?.median[m.name]));
      const rat = (['cilium', 'minimal', 'unix'] as const).map((t) => fmt(s.ratios[t]?.[m.name]));
      lines.push(
        `| ${s.scenario.id} | ${m.name} (${m.unit}) | ${med.join(' | ')} | ${rat.join(' | ')} |`,
      );
    }
  }
  if (r.reference) {
    const ref = r.reference;
    const plainStream = r.scenarios.find((s) => s.scenario.id === 'stream-65536-nagle');
    const rr64 = r.scenarios.find((s) => s.scenario.id === 'rr-64');
    const m = (xs: readonly { [k: string]: number }[], k: string) =>
      median(xs.map((x) => x[k] ?? Number.NaN));
    lines.push('', '## Cross-check with iperf3 and sockperf', '');
    if (r.referenceError) lines.push(`The cross-check stopped early: ${r.referenceError}`, '');
    lines.push(
      'The same quantity measured by the load generator and by the independent tool, side by side (medians).',
      '',
    );
    lines.push('| quantity | transport | loadgen | tool |', '|---|---|---|---|');
    for (const t of ['plain', 'cilium'] as const) {
      const ip = t === 'plain' ? ref.iperf3Plain : ref.iperf3Cilium;
      const sp = t === 'plain' ? ref.sockperfPlain : ref.sockperfCilium;
      const st = plainStream?.transports[t]?.median.gbitPerSecond;
      lines.push(
        `| stream 64 KiB writes, Nagle on (Gbit/s) | ${t} | ${fmt(st)} | iperf3 -l 64K: ${fmt(m(ip as never, 'gbitPerSecond'))} |`,
      );
      lines.push(
        `| rr 64 B p50 round trip (µs) | ${t} | ${fmt(rr64?.transports[t]?.median.p50Us)} | sockperf ping-pong: ${fmt(m(sp as never, 'rttP50Us'))} (2 × its half-RTT p50) |`,
      );
      lines.push(
        `| rr 64 B round trips/s | ${t} | ${fmt(rr64?.transports[t]?.median.opsPerSecond, 0)} | sockperf --mps max, messages / valid duration (not comparable: sockperf's own per-message work is included): ${fmt(m(sp as never, 'opsPerSecond'), 0)} |`,
      );
    }
  }
  if (r.buildTiming) {
    const b = r.buildTiming;
    lines.push(
      '',
      '## Build time',
      '',
      `Cold: \`tsbpf build\` (the compiled CLI in a fresh node, writing the .o and .lst) against clang -O2 -g -target bpf on the C equivalent (${b.clangSource ?? 'clang missing'}); medians of ${b.coldRuns} interleaved rounds, Node ${b.node}; \`node -e 0\` alone ${fmt(b.nodeStartMs, 1)} ms; load average ${fmt(b.load.before)} → ${fmt(b.load.after)} on ${b.load.cpus} CPUs. Warm: median of ${b.warmRuns} buildSockops() calls in one process.`,
      '',
      '| variant | buildSockops() warm ms | tsbpf build cold ms | clang -O2 ms | tsbpf / clang |',
      '|---|---|---|---|---|',
    );
    for (const v of ['cilium', 'minimal'] as const) {
      const c = b.cold[v];
      lines.push(
        `| ${v} | ${fmt(b.warmMs[v], 3)} | ${fmt(c.tsbpfMs, 1)} | ${fmt(c.clangMs, 1)} | ${fmt(c.clangMs === undefined ? undefined : c.tsbpfMs / c.clangMs)} |`,
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
  for (const s of r.scenarios) {
    for (const m of metricsOf(s.scenario)) {
      if (m.name === 'p99Us') continue;
      const values = (['cilium', 'minimal', 'unix'] as const)
        .map((t): [typeof t, number] => [t, s.ratios[t]?.[m.name] ?? Number.NaN])
        .filter(([, v]) => !Number.isNaN(v));
      groups.push({ label: `${s.scenario.id}${m.name === 'p50Us' ? ' p50' : ''}`, values });
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
    `<text x="10" y="20" font-size="14">tsbpf bench: median ratio to plain TCP loopback (${esc(r.kernel)}); p50 rows: lower is better</text>`,
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
