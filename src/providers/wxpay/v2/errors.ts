/**
 * APIv2 answers carry two results: return_code (the call) and result_code with err_code (the
 * business). Both map onto the unified table (reference/protocols.md part E, WeChat v2 rows).
 */
import type { ErrorCode } from '../../../core/errors.ts';

export const WXPAY_V2_ERROR_CODES: Readonly<Record<string, ErrorCode>> = {
  LACK_PARAMS: 40001,
  INVALID_REQUEST: 40001,
  PARAM_ERROR: 40001,
  XML_FORMAT_ERROR: 40001,
  REQUIRE_POST_METHOD: 40001,
  POST_DATA_EMPTY: 40001,
  NOT_UTF8: 40001,
  APPID_NOT_EXIST: 40001,
  MCHID_NOT_EXIST: 40001,
  APPID_MCHID_NOT_MATCH: 40001,
  OUT_TRADE_NO_USED: 40001,
  INVALID_TRANSACTIONID: 40001,
  // Payment codes (micropay): expired, not a WeChat code, or not the buyer's.
  AUTHCODEEXPIRE: 40001,
  AUTH_CODE_INVALID: 40001,
  AUTH_CODE_ERROR: 40001,
  BUYER_MISMATCH: 40001,
  SIGNERROR: 40002,
  CA_ERROR: 40003,
  ORDERNOTEXIST: 40005,
  REFUNDNOTEXIST: 40005,
  ORDERPAID: 40006,
  NOTENOUGH: 40007,
  FREQUENCY_LIMITED: 40008,
  FREQ_LIMIT: 40008,
  NOAUTH: 40009,
  SYSTEMERROR: 40010,
  BIZERR_NEED_RETRY: 40010,
  BANKERROR: 40010,
  ORDERCLOSED: 50000,
  TRADE_OVERDUE: 50000,
  USER_ACCOUNT_ABNORMAL: 50000,
  TRADE_STATE_ERROR: 50000,
  ERROR: 50000,
  ORDERREVERSED: 50000,
  NOTSUPORTCARD: 50000,
  TRADE_ERROR: 50000,
  REVERSE_EXPIRE: 50000,
};

/** The unified code of a result_code=FAIL answer's err_code; 50000 for one we do not know. */
export function unifiedV2Code(errCode: string | undefined): ErrorCode {
  return (errCode && WXPAY_V2_ERROR_CODES[errCode.toUpperCase()]) || 50000;
}

/** Whether the same request may be sent again unchanged. */
export function isRetryableV2(errCode: string | undefined): boolean {
  return errCode !== undefined && ['SYSTEMERROR', 'BIZERR_NEED_RETRY', 'BANKERROR'].includes(errCode);
}

/**
 * A return_code=FAIL answer names its cause in words only (return_msg): a signature problem is
 * 40002, a client certificate problem 40003, anything else a malformed request, 40001.
 */
export function returnFailCode(returnMsg: string | undefined): { code: ErrorCode; gatewayCode: string } {
  const message = returnMsg ?? '';
  if (/签名|sign/i.test(message)) return { code: 40002, gatewayCode: 'SIGNERROR' };
  if (/证书|certificate|CA_ERROR/i.test(message)) return { code: 40003, gatewayCode: 'CA_ERROR' };
  return { code: 40001, gatewayCode: 'RETURN_FAIL' };
}
