/**
 * What the providers' transports share about HTTP: the fetch they are given, whether a failed
 * call ever left this process, and how an observer of calls is kept from failing one.
 */

export interface FetchResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** undici's fetch, or a test's: only what the transports use. */
export type FetchLike = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal: AbortSignal;
    redirect: 'error';
    dispatcher?: unknown;
  },
) => Promise<FetchResponseLike>;

/** Wraps a call observer (payment_logs, metrics) so that its failure never fails a payment call. */
export function guardedObserver<E>(
  observe: ((event: E) => void) | undefined,
): ((event: E) => void) | undefined {
  if (!observe) return undefined;
  return (event) => {
    try {
      observe(event);
    } catch {
      // A failing log hook must not fail a payment call.
    }
  };
}

/** Failures where the request certainly never reached the gateway: safe to send again, even a write. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The system error code (ECONNRESET, UND_ERR_...) behind a fetch failure, looking through causes. */
export function systemCodeOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 4; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export function neverSent(systemCode: string | undefined): boolean {
  return systemCode !== undefined && NOT_SENT_CODES.has(systemCode);
}
