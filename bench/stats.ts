/** Small statistics for benchmark figures. */

/** Median of the values; NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) {
    return Number.NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  if (sorted.length % 2 === 1) {
    return upper;
  }
  return ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}

/**
 * Least-squares fit of y = a + b x. Used to extrapolate the time of one `ovs-vsctl add-port`
 * call, which grows with the number of ports already on the bridge.
 */
export function fitLine(points: readonly { x: number; y: number }[]): { a: number; b: number } {
  const n = points.length;
  if (n < 2) {
    throw new RangeError(`a line needs at least 2 points, got ${n}`);
  }
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.x - meanX) * (p.y - meanY);
    variance += (p.x - meanX) ** 2;
  }
  const b = variance === 0 ? 0 : covariance / variance;
  return { a: meanY - b * meanX, b };
}

/**
 * Total of a per-item cost a + b k over items k = 1 to n: the time to add n ports one by one
 * when adding the k-th costs a + b k.
 */
export function sumLinearCost(fit: { a: number; b: number }, n: number): number {
  return fit.a * n + (fit.b * n * (n + 1)) / 2;
}
