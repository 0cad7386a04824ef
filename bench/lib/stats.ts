// Small statistics helpers for the benchmarks.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Smallest and largest value. */
export function range(xs: readonly number[]): { min: number; max: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const x of xs) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { min, max };
}

/** Half the distance between the largest and smallest value, as a fraction of the median. */
export function relativeSpread(xs: readonly number[]): number {
  const m = median(xs);
  const { min, max } = range(xs);
  return m === 0 ? 0 : (max - min) / 2 / m;
}

/** The p-th percentile (0 < p ≤ 100) of a sorted array, nearest-rank. */
export function percentile(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
export const fmtFixed = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');
export const fmtPct = (f: number): string => (Number.isFinite(f) ? `±${Math.round(f * 100)}%` : '');
