/** What a failed HTTP call to a gateway tells about whether the request ever left this process. */

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
