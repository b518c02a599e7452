/** Small statistics for benchmark samples: medians and ratios of medians. */

/** Median of `xs` (mean of the two middle values for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `a / b`, or NaN when either is missing or b is 0 (a ratio that cannot be formed is not 0). */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || b === 0) return Number.NaN;
  return a / b;
}
