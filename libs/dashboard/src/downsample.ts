// Server-side downsampling of a loss curve, so a run of 100,000 steps costs the page the same
// as one of 1,000: Largest-Triangle-Three-Buckets (Steinarsson 2013). It keeps the first and
// last points and, from each bucket of the rest, the point that spans the largest triangle
// with its neighbours' choices: peaks and drops survive, flat stretches thin out.

/** [x, y] pairs, x ascending. */
export type Point = readonly [number, number];

/** At most `limit` points of the series (all of them when it has no more); limit >= 3. */
export function downsample(xs: ArrayLike<number>, ys: ArrayLike<number>, limit: number): Point[] {
  const n = xs.length;
  if (ys.length !== n) throw new RangeError(`downsample: ${n} x values but ${ys.length} y values`);
  if (!Number.isInteger(limit) || limit < 3) throw new RangeError(`downsample: the limit must be an integer >= 3, got ${limit}`);
  if (n <= limit) return Array.from({ length: n }, (_, i) => [xs[i]!, ys[i]!] as const);
  const out: Point[] = [[xs[0]!, ys[0]!]];
  // The points between the first and the last, cut into limit - 2 buckets.
  const bucketSize = (n - 2) / (limit - 2);
  let chosen = 0;
  for (let bucket = 0; bucket < limit - 2; bucket++) {
    const start = Math.floor(bucket * bucketSize) + 1;
    const end = Math.floor((bucket + 1) * bucketSize) + 1;
    // The next bucket's mean (the last point, for the last bucket) is the triangle's third corner.
    const nextStart = end;
    const nextEnd = Math.min(Math.floor((bucket + 2) * bucketSize) + 1, n);
    let meanX = 0;
    let meanY = 0;
    for (let i = nextStart; i < nextEnd; i++) {
      meanX += xs[i]!;
      meanY += ys[i]!;
    }
    const count = Math.max(1, nextEnd - nextStart);
    meanX = nextEnd > nextStart ? meanX / count : xs[n - 1]!;
    meanY = nextEnd > nextStart ? meanY / count : ys[n - 1]!;
    const ax = xs[chosen]!;
    const ay = ys[chosen]!;
    let best = start;
    let bestArea = -1;
    for (let i = start; i < end; i++) {
      const area = Math.abs((ax - meanX) * (ys[i]! - ay) - (ax - xs[i]!) * (meanY - ay));
      if (area > bestArea) {
        bestArea = area;
        best = i;
      }
    }
    out.push([xs[best]!, ys[best]!]);
    chosen = best;
  }
  out.push([xs[n - 1]!, ys[n - 1]!]);
  return out;
}
