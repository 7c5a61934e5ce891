/** Dollar sums are kept to 1e-10 so repeated float additions do not print as 0.30000000000000004. */
export function roundUsd(v: number): number {
  return Math.round(v * 1e10) / 1e10;
}

/** What status shows: a millionth of a dollar is enough to see a single cheap request, and keeps `kubectl get` columns short. */
export function usdShown(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
