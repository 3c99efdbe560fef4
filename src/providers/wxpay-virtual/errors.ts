/** errcode/errmsg of the mini program and virtual payment APIs -> the unified table. */
import { type ErrorCode, PayError } from '../../core/errors.ts';

/** Access tokens the server no longer takes: fetched again once, then the call is repeated. */
export const STALE_TOKEN_CODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

const UNIFIED: ReadonlyMap<number, ErrorCode> = new Map([
  [-1, 40010], // system busy
  [40001, 40009], // access token or AppSecret refused
  [40013, 40009], // invalid appid
  [40125, 40009], // invalid appsecret
  [45009, 40008],
  [45011, 40008],
  [268490001, 40001], // openid
  [268490002, 40001], // a request field
  [268490003, 40002], // pay_sig
  [268490004, 40001], // repeated operation
  [268490005, 40001], // refunded already
  [268490006, 40007], // not enough coins or refundable amount
  [268490009, 40002], // session_key unknown or expired: the buyer logs in again
  [268490013, 40001], // a written-off order cannot be refunded
  [268490014, 40010], // a refund in progress: retry with the same parameters
  [268490015, 40008], // frequency limit
  [268490016, 40001], // left_fee is not what is left
  [268500004, 40005], // no such order
]);

export function unifiedVirtualCode(errcode: number): ErrorCode {
  return UNIFIED.get(errcode) ?? 50000;
}

export function virtualApiError(uri: string, errcode: number, errmsg: unknown): PayError {
  return new PayError(unifiedVirtualCode(errcode), {
    gatewayCode: String(errcode),
    message: `WeChat ${uri}: ${typeof errmsg === 'string' ? errmsg.slice(0, 200) : `errcode ${errcode}`}`,
  });
}
