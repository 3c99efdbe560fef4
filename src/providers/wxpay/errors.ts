/**
 * WeChat Pay APIv3 error codes -> the unified table (reference/protocols.md part E).
 * Older v3 pages spell codes without underscores (NOTENOUGH for NOT_ENOUGH), so codes are compared
 * with underscores removed and both spellings land on the same entry.
 */
import { type ErrorCode, PayError } from '../../core/errors.ts';

/** Canonical (underscored) spelling -> unified code. */
export const WXPAY_ERROR_CODES: Readonly<Record<string, ErrorCode>> = {
  PARAM_ERROR: 40001,
  INVALID_REQUEST: 40001,
  APPID_MCHID_NOT_MATCH: 40001,
  MCH_NOT_EXISTS: 40001,
  OUT_TRADE_NO_USED: 40001,
  OPENID_MISMATCH: 40001,
  INVALID_TRANSACTIONID: 40001,
  SIGN_ERROR: 40002,
  ORDER_NOT_EXIST: 40005,
  RESOURCE_NOT_EXISTS: 40005,
  ORDER_PAID: 40006,
  NOT_ENOUGH: 40007,
  FREQUENCY_LIMITED: 40008,
  RATE_LIMITED: 40008,
  RULE_LIMIT: 40008,
  NO_AUTH: 40009,
  SYSTEM_ERROR: 40010,
  BANK_ERROR: 40010,
  SERVICE_UNAVAILABLE: 40010,
  ORDER_CLOSED: 50000,
  TRADE_ERROR: 50000,
  ACCOUNT_ERROR: 50000,
  // Payment codes (codepay): a bad, used or expired code; a code of another buyer; a buyer's
  // account that cannot pay; a trade already reversed.
  AUTH_CODE_INVALID: 40001,
  AUTH_CODE_ERROR: 40001,
  AUTH_CODE_EXPIRE: 40001,
  BUYER_MISMATCH: 40001,
  USER_ACCOUNT_ABNORMAL: 50000,
  ORDER_REVERSED: 50000,
};

/** The legacy spellings the gateway is known to use; any underscore-free spelling is accepted. */
export const LEGACY_SPELLINGS: Readonly<Record<string, string>> = {
  NOAUTH: 'NO_AUTH',
  NOTENOUGH: 'NOT_ENOUGH',
  RULELIMIT: 'RULE_LIMIT',
  ACCOUNTERROR: 'ACCOUNT_ERROR',
  ORDERNOTEXIST: 'ORDER_NOT_EXIST',
  SYSTEMERROR: 'SYSTEM_ERROR',
  BANKERROR: 'BANK_ERROR',
  ORDERPAID: 'ORDER_PAID',
  ORDERCLOSED: 'ORDER_CLOSED',
  ORDERREVERSED: 'ORDER_REVERSED',
};

const squash = (code: string): string => code.toUpperCase().replace(/_/g, '');
const BY_SQUASHED = new Map(
  Object.entries(WXPAY_ERROR_CODES).map(([code, unified]) => [squash(code), unified]),
);

/** The canonical spelling of a WeChat code, or null when it is not one we know. */
export function canonicalWxpayCode(code: string): string | null {
  const squashed = squash(code);
  for (const canonical of Object.keys(WXPAY_ERROR_CODES)) {
    if (squash(canonical) === squashed) return canonical;
  }
  return null;
}

function fromStatus(httpStatus: number): ErrorCode {
  if (httpStatus === 400) return 40001;
  if (httpStatus === 401) return 40002;
  if (httpStatus === 404) return 40005;
  if (httpStatus === 429) return 40008;
  if (httpStatus >= 500) return 40010;
  return 50000;
}

/** Provider code first, then the HTTP status (part E, rule 1). */
export function unifiedCodeFor(code: string | null | undefined, httpStatus: number): ErrorCode {
  if (code) {
    const unified = BY_SQUASHED.get(squash(code));
    if (unified !== undefined) return unified;
  }
  return fromStatus(httpStatus);
}

/** Whether the same request may be sent again unchanged (5xx, SYSTEM_ERROR, rate limits). */
export function isRetryableFailure(code: string | null | undefined, httpStatus: number): boolean {
  if (httpStatus >= 500 || httpStatus === 429) return true;
  // RULE_LIMIT (403) is a business limit, not load: sending it again would only fail again.
  return code ? BY_SQUASHED.get(squash(code)) === 40010 : false;
}

export interface WxpayErrorBody {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

/** A PayError for a non-2xx gateway answer; the raw code stays in gatewayCode. */
export function gatewayError(
  httpStatus: number,
  body: WxpayErrorBody | null,
  context: { api: string; requestId: string | null; write: boolean },
): PayError {
  const gatewayCode = typeof body?.code === 'string' ? body.code : undefined;
  const unified = unifiedCodeFor(gatewayCode, httpStatus);
  const gatewayMessage = typeof body?.message === 'string' ? body.message.slice(0, 256) : undefined;
  return new PayError(unified, {
    gatewayCode: gatewayCode ?? `HTTP_${httpStatus}`,
    message: `wxpay ${context.api}: ${gatewayCode ?? `HTTP ${httpStatus}`}${gatewayMessage ? ` ${gatewayMessage}` : ''}`,
    details: {
      provider: 'wxpay',
      httpStatus,
      rawMessage: gatewayMessage ?? null,
      detail: body?.detail ?? null,
      requestId: context.requestId,
    },
    // A 5xx on a write may still have been applied by the gateway: query before acting on it.
    outcomeUnknown: context.write && httpStatus >= 500,
  });
}
