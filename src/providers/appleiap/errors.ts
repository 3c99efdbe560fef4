/** App Store Server API errors -> the unified table (reference/protocols.md part E). */
import { type ErrorCode, PayError } from '../../core/errors.ts';

export function unifiedAppleCode(status: number, errorCode: number | null): ErrorCode {
  if (status === 401 || status === 403) return 40009;
  if (errorCode === null) return status >= 500 ? 40010 : 50000;
  if (errorCode === 4040010 || errorCode === 4040005 || errorCode === 4040019) return 40005;
  if (errorCode === 4290000) return 40008;
  if (errorCode >= 4000000 && errorCode <= 4000999) return 40001;
  if (errorCode === 5000000 || errorCode === 5000001) return 40010;
  if (errorCode === 4040002 || errorCode === 4040004 || errorCode === 4040006) return 40010;
  return 50000;
}

export function appleApiError(
  status: number,
  errorCode: number | null,
  errorMessage: string | null,
): PayError {
  return new PayError(unifiedAppleCode(status, errorCode), {
    gatewayCode: errorCode === null ? `HTTP_${status}` : String(errorCode),
    message: `App Store Server API: ${errorMessage ?? `HTTP ${status}`}`,
  });
}
