/**
 * The per-CPU counters of socket acceleration: their indices in the stats map (a PERCPU_ARRAY of
 * u64) and what increments each (docs/maps.md, "tsbpf_stats").
 */

/** Counter names in index order. */
export const STAT_NAMES = [
  'inserted',
  'insert_failed',
  'skip_family',
  'skip_service',
  'skip_remote',
  'msg_redirected',
  'msg_bytes',
  'redirect_miss',
  'policy_denied',
] as const;

/** One counter's name. */
export type StatName = (typeof STAT_NAMES)[number];

/** Index of each counter in the stats map. */
export const STAT_INDEX = Object.fromEntries(STAT_NAMES.map((n, i) => [n, i])) as Record<
  StatName,
  number
>;

/** Sums the per-CPU values of each counter (values[index][cpu]) into one bigint per name. */
export function sumStats(values: readonly (readonly bigint[])[]): Record<StatName, bigint> {
  return Object.fromEntries(
    STAT_NAMES.map((n, i) => [n, (values[i] ?? []).reduce((a, b) => a + b, 0n)]),
  ) as Record<StatName, bigint>;
}
