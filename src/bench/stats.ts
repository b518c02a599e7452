/**
 * Small statistics for benchmark samples: medians, ratios of medians, and per-repetition paired
 * ratios with their spread.
 */

/** Median of `xs` (mean of the two middle values for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The q-quantile (0 ≤ q ≤ 1) of `xs` by nearest rank; NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
}

/** `a / b`, or NaN when either is missing or b is 0 (a ratio that cannot be formed is not 0). */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || b === 0) return Number.NaN;
  return a / b;
}

/**
 * Per-repetition ratios `xs[i] / base[i]`: each run divided by the baseline run of the same
 * repetition, which ran next to it in time, so a drift of the machine between repetitions cancels
 * instead of landing in one median and not the other. Pairs that cannot form a ratio (a missing
 * sample, a zero baseline, NaN) are left out rather than reported as 0.
 */
export function pairedRatios(xs: readonly number[], base: readonly number[]): number[] {
  const out: number[] = [];
  const n = Math.min(xs.length, base.length);
  for (let i = 0; i < n; i++) {
    const r = ratio(xs[i], base[i]);
    if (Number.isFinite(r)) out.push(r);
  }
  return out;
}

/** The median of paired ratios and their range; `n` is how many pairs there were. */
export interface RatioSpread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Median, minimum and maximum of `rs` (all NaN with n = 0 when there is none). */
export function spread(rs: readonly number[]): RatioSpread {
  if (rs.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  let min = rs[0]!;
  let max = rs[0]!;
  for (const r of rs) {
    if (r < min) min = r;
    if (r > max) max = r;
  }
  return { median: median(rs), min, max, n: rs.length };
}

/**
 * The figure a ratio stands for: the median of its paired ratios when there are any, else the
 * ratio of medians (results of schema 1 have no pairs). The targets and the chart both use it.
 */
export function headlineRatio(
  pair: RatioSpread | undefined,
  ofMedians: number | undefined,
): number | undefined {
  return pair !== undefined && pair.n > 0 ? pair.median : ofMedians;
}
