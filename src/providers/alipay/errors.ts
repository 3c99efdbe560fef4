/**
 * Alipay gateway codes -> the unified table (reference/protocols.md part E). The sub_code decides
 * first, the top-level code second; the raw codes stay in gatewayCode and details.
 */
import { type ErrorCode, PayError } from '../../core/errors.ts';

const SUB_CODES: Readonly<Record<string, ErrorCode>> = {
  'isv.invalid-signature': 40002,
  'isv.missing-signature': 40002,
  'isv.invalid-signature-type': 40002,
  'ACQ.INVALID_PARAMETER': 40001,
  'ACQ.CONTEXT_INCONSISTENT': 40001,
  'ACQ.TOTAL_FEE_EXCEED': 40001,
  'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL': 40001,
  'ACQ.DISCORDANT_REPEAT_REQUEST': 40001,
  'ACQ.PAYMENT_AUTH_CODE_INVALID': 40001,
  'ACQ.TRADE_NOT_EXIST': 40005,
  // Profit sharing: a receiver the app has not bound, more than the trade still holds frozen.
  'ACQ.ROYALTY_RECEIVER_NOT_BOUND': 40001,
  'ACQ.ALLOC_AMOUNT_VALIDATE_ERROR': 40001,
  'ACQ.TRADE_SETTLE_ERROR': 50000,
  'ACQ.TRADE_HAS_SUCCESS': 40006,
  'ACQ.TRADE_HAS_FINISHED': 40006,
  'ACQ.BUYER_BALANCE_NOT_ENOUGH': 40007,
  'ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH': 40007,
  'ACQ.SELLER_BALANCE_NOT_ENOUGH': 40007,
  'isv.insufficient-isv-permissions': 40009,
  'ACQ.ACCESS_FORBIDDEN': 40009,
  'isp.unknow-error': 40010,
  'aop.unknow-error': 40010,
  'ACQ.SYSTEM_ERROR': 40010,
  'aop.ACQ.SYSTEM_ERROR': 40010,
  'ACQ.TRADE_HAS_CLOSE': 50000,
  'ACQ.TRADE_STATUS_ERROR': 50000,
  'ACQ.TRADE_NOT_ALLOW_REFUND': 50000,
  'ACQ.REASON_TRADE_BEEN_FREEZEN': 50000,
  'ACQ.BUYER_SELLER_EQUAL': 50000,
};

const TOP_CODES: Readonly<Record<string, ErrorCode>> = {
  '20000': 40010,
  '20001': 40009,
  '40001': 40001,
  '40002': 40001,
  '40006': 40009,
};

/** Codes that mean "done" or "in progress" rather than failure. */
export const SUCCESS_CODE = '10000';
export const PENDING_CODE = '10003';

export function unifiedCodeFor(code: string, subCode: string | null): ErrorCode {
  if (subCode) {
    const known = SUB_CODES[subCode];
    if (known !== undefined) return known;
    // Certificate SN problems (app_cert_sn, alipay_root_cert_sn...) are configuration, not parameters.
    if (/cert|(^|[-_.])sn([-_.]|$)/i.test(subCode)) return 40003;
    if (/auth-token/i.test(subCode)) return 40009;
    if (subCode.startsWith('isv.missing-') || subCode.startsWith('isv.invalid-')) return 40001;
    // No single documented rate-limit sub_code exists: this heuristic is the reference's (part E).
    if (/LIMIT|FREQUEN/i.test(subCode)) return 40008;
  }
  return TOP_CODES[code] ?? 50000;
}

/** Whether the same signed request may be sent again: the gateway's system errors. */
export function isRetryableCode(unified: ErrorCode): boolean {
  return unified === 40010;
}

/**
 * The gateway's sub_msg may echo the request it rebuilt (C.3): neither an ISV token nor a buyer's
 * payment code (auth_code, inside biz_content) may reach logs.
 */
export function redactGatewayMessage(message: string): string {
  return message
    .replace(/(app_auth_token|auth_token|auth_code)=[^&\s]*/g, '$1=[redacted]')
    .replace(/("?auth_code"?\s*[:=]\s*"?)[0-9A-Za-z]+/g, '$1[redacted]')
    .slice(0, 512);
}

export interface GatewayFailure {
  code: string;
  msg?: unknown;
  sub_code?: unknown;
  sub_msg?: unknown;
}

/** A PayError for a signed non-success answer; gatewayCode is the sub_code, else the code. */
export function gatewayError(
  failure: GatewayFailure,
  context: { method: string; write: boolean; traceId: string | null },
): PayError {
  const subCode = typeof failure.sub_code === 'string' && failure.sub_code ? failure.sub_code : null;
  const unified = unifiedCodeFor(failure.code, subCode);
  const subMsg = typeof failure.sub_msg === 'string' ? redactGatewayMessage(failure.sub_msg) : null;
  const msg = typeof failure.msg === 'string' ? failure.msg.slice(0, 128) : null;
  return new PayError(unified, {
    gatewayCode: subCode ?? failure.code,
    message: `alipay ${context.method}: ${failure.code}${subCode ? ` ${subCode}` : ''}${subMsg ? ` ${subMsg}` : ''}`,
    details: {
      provider: 'alipay',
      code: failure.code,
      msg,
      subCode,
      subMsg,
      traceId: context.traceId,
    },
    // A system error on a write leaves its effect unknown until a query says otherwise.
    outcomeUnknown: context.write && unified === 40010,
  });
}
