/**
 * Douyin err_no codes -> the unified table (reference/protocols.md part E). The general trade
 * system answers platform-wide codes (21xxxxx) and business codes (11004, 12001, 20000, ...) in
 * err_no; both are mapped, the raw code staying in gatewayCode.
 */
import { type ErrorCode, PayError } from '../../core/errors.ts';

export const DOUYIN_ERROR_CODES: Readonly<Record<number, ErrorCode>> = {
  2100004: 40010,
  2100005: 40001,
  2100007: 40009,
  2190002: 40009,
  2190008: 40009,
  11001: 40001,
  11004: 40002,
  12001: 40008,
  13000: 40010,
  20000: 40005,
  20001: 40006,
  20002: 40001,
};

/** The access token is invalid or expired: a new one, then the same call again. */
export const TOKEN_ERRORS: ReadonlySet<number> = new Set([2190002, 2190008]);

/** Codes where the same request may succeed when sent again unchanged. */
const RETRYABLE: ReadonlySet<number> = new Set([2100004, 13000]);

export function unifiedCodeFor(errNo: number, httpStatus: number): ErrorCode {
  const known = DOUYIN_ERROR_CODES[errNo];
  if (known !== undefined) return known;
  if (httpStatus === 401) return 40002;
  if (httpStatus === 429) return 40008;
  if (httpStatus >= 500) return 40010;
  return 50000;
}

export function isRetryable(errNo: number, httpStatus: number): boolean {
  return httpStatus >= 500 || httpStatus === 429 || RETRYABLE.has(errNo);
}

/** A PayError for an answer with a non-zero err_no (or a non-2xx status without one). */
export function gatewayError(
  errNo: number,
  errMsg: string | undefined,
  context: { api: string; httpStatus: number; logId: string | null; write: boolean },
): PayError {
  const message = errMsg?.slice(0, 256);
  return new PayError(unifiedCodeFor(errNo, context.httpStatus), {
    gatewayCode: errNo ? String(errNo) : `HTTP_${context.httpStatus}`,
    message: `douyin ${context.api}: ${errNo || `HTTP ${context.httpStatus}`}${message ? ` ${message}` : ''}`,
    details: {
      provider: 'douyin',
      httpStatus: context.httpStatus,
      rawCode: errNo,
      rawMessage: message ?? null,
      logId: context.logId,
    },
    // A 5xx on a write may still have been applied: query before acting on it.
    outcomeUnknown: context.write && context.httpStatus >= 500,
  });
}
