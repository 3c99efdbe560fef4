/** HTTP load with autocannon against 127.0.0.1, reduced to the figures the benchmarks print. */
import autocannon from 'autocannon';

export interface HttpLoadResult {
  /** Responses received. */
  responses: number;
  ok: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** performance.now() when the run began, so other clocks of this process can be set against it. */
  startedMs: number;
  seconds: number;
  /** 2xx responses per second. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export async function httpLoad(options: autocannon.Options): Promise<HttpLoadResult> {
  const started = performance.now();
  // autocannon notices the end of an `amount` run on its sampling tick (1 s by default): sample often,
  // or a run of 1.2 s would be timed as 2 s.
  const result = await autocannon({ timeout: 30, sampleInt: 10, ...options });
  const seconds = (performance.now() - started) / 1000;
  const ok = result['2xx'];
  return {
    responses: ok + result.non2xx,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    startedMs: started,
    seconds,
    perSecond: ok / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

/** One request per call of `body(i)`, i counting from 0: unique order numbers, one notification each. */
export function numberedRequests(
  method: 'GET' | 'POST',
  path: string,
  build: (i: number) => { body?: string; headers?: Record<string, string> },
): autocannon.Request[] {
  let next = 0;
  return [
    {
      method,
      path,
      setupRequest: (request) => {
        const { body, headers } = build(next++);
        return {
          ...request,
          ...(body === undefined ? {} : { body }),
          headers: { ...request.headers, ...headers },
        };
      },
    },
  ];
}
