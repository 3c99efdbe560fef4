/** In-process load: `count` calls with at most `concurrency` in flight, timed one by one. */

export interface LoadResult {
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export function percentile(sortedMs: Float64Array, fraction: number): number {
  if (sortedMs.length === 0) return 0;
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor(fraction * sortedMs.length))]!;
}

export async function runConcurrently(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<LoadResult> {
  let next = 0;
  const latencies = new Float64Array(count);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        const callStarted = performance.now();
        await task(i);
        latencies[i] = performance.now() - callStarted;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  return {
    seconds,
    perSecond: count / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}
