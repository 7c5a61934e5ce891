/** Dollar sums are kept to 1e-10 so repeated float additions do not print as 0.30000000000000004. */
export function roundUsd(v: number): number {
  return Math.round(v * 1e10) / 1e10;
}
