/**
 * Validation of the JSON bodies WeChat accepts for prepay and refund, turning wire names into the
 * emulator's typed requests. Field rules come from protocols.md A.6.
 */
import type { Merchant } from './merchants.ts';
import type { TradePartner } from './trades.ts';
import { invalidField, invalidRequest, missingField, WxpayWireError } from './wire-errors.ts';

export type TradeType = 'JSAPI' | 'APP' | 'MWEB' | 'NATIVE' | 'MICROPAY';

export interface PrepayRequest {
  tradeType: TradeType;
  appid: string;
  mchid: string;
  description: string;
  outTradeNo: string;
  notifyUrl: string;
  totalFen: number;
  currency: string;
  attach: string | undefined;
  timeExpireMs: number | undefined;
  payerOpenid: string | undefined;
  payerClientIp: string | undefined;
  /** Partner mode: the order is the sub-merchant's (`mchid` is its sub_mchid). */
  partner?: TradePartner;
  /** settle_info.profit_sharing: the paid funds stay frozen for splitting. */
  profitSharing: boolean;
  /** Canonical form of the whole body: a reused out_trade_no must match it exactly. */
  fingerprint: string;
}

/** A codepay: the buyer's code instead of an openid; no notify_url in WeChat's field list. */
export interface CodepayRequest {
  appid: string;
  mchid: string;
  description: string;
  outTradeNo: string;
  authCode: string;
  totalFen: number;
  currency: string;
  attach: string | undefined;
  storeId: string;
  deviceIp: string | undefined;
  /** Sandbox only: where to send TRANSACTION.SUCCESS, if anywhere (WeChat's codepay lists none). */
  notifyUrl: string | undefined;
  fingerprint: string;
  /** settle_info.profit_sharing: the paid funds stay frozen for splitting. */
  profitSharing: boolean;
  /** Partner mode: the service provider that placed it for the sub-merchant in `mchid`. */
  partner?: TradePartner;
}

export interface RefundRequest {
  outRefundNo: string;
  transactionId: string | undefined;
  outTradeNo: string | undefined;
  reason: string | undefined;
  notifyUrl: string | undefined;
  fundsAccount: string | undefined;
  refundFen: number;
  totalFen: number;
  currency: string;
  fingerprint: string;
}

type Json = Record<string, unknown>;

function objectAt(body: Json, path: string): Json | undefined {
  const value = body[path];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalidField(path, value, '类型错误，应为对象');
  return value as Json;
}

function text(
  source: Json | undefined,
  key: string,
  path: string,
  required: boolean,
  maxLength?: number,
): string | undefined {
  const value = source?.[key];
  if (value === undefined || value === null || value === '') {
    if (required) throw missingField(path);
    return undefined;
  }
  if (typeof value !== 'string') throw invalidField(path, value, '类型错误，应为字符串');
  if (maxLength !== undefined && [...value].length > maxLength) {
    throw invalidField(path, value, `长度超过限制，最大长度为${maxLength}`);
  }
  return value;
}

function requiredText(source: Json | undefined, key: string, path: string, maxLength?: number): string {
  return text(source, key, path, true, maxLength) as string;
}

function positiveFen(source: Json | undefined, key: string, path: string): number {
  const value = source?.[key];
  if (value === undefined || value === null) throw missingField(path);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidField(path, value, '应为大于0的整数（单位：分）');
  }
  return value;
}

function currency(amount: Json | undefined, path: string): string {
  const value = text(amount, 'currency', path, false) ?? 'CNY';
  if (value !== 'CNY') throw invalidField(path, value, '境内商户仅支持CNY');
  return value;
}

function notifyUrl(value: string, path: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidField(path, value, '格式错误，应为完整的URL');
  }
  // The real gateway insists on https; the sandbox also takes http so that local test servers work.
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidField(path, value, '应为https地址');
  if (url.search !== '') throw invalidField(path, value, '不能携带参数');
  return value;
}

/** Sorted keys, so that the same content in another key order counts as the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Json)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** settle_info.profit_sharing, a boolean when present. */
function profitSharing(body: Json): boolean {
  const settleInfo = objectAt(body, 'settle_info');
  const value = settleInfo?.profit_sharing;
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean')
    throw invalidField('settle_info/profit_sharing', value, '类型错误，应为布尔值');
  return value;
}

const OUT_TRADE_NO = /^[0-9A-Za-z_\-*]{6,32}$/;
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const H5_TYPES = ['iOS', 'Android', 'Wap'];

export function parsePrepayRequest(
  tradeType: TradeType,
  body: Json,
  merchant: Merchant,
  nowMs: number,
): PrepayRequest {
  const appid = requiredText(body, 'appid', 'appid', 32);
  const mchid = requiredText(body, 'mchid', 'mchid', 32);
  const description = requiredText(body, 'description', 'description', 127);
  const outTradeNo = requiredText(body, 'out_trade_no', 'out_trade_no');
  if (!OUT_TRADE_NO.test(outTradeNo))
    throw invalidField('out_trade_no', outTradeNo, '应为6-32位数字、大小写字母或_-*');
  const notify = notifyUrl(requiredText(body, 'notify_url', 'notify_url', 255), 'notify_url');
  const amount = objectAt(body, 'amount');
  if (!amount) throw missingField('amount');
  const totalFen = positiveFen(amount, 'total', 'amount/total');
  const attach = text(body, 'attach', 'attach', false, 128);
  const timeExpireText = text(body, 'time_expire', 'time_expire', false);
  let timeExpireMs: number | undefined;
  if (timeExpireText !== undefined) {
    timeExpireMs = Date.parse(timeExpireText);
    if (
      !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(timeExpireText) ||
      Number.isNaN(timeExpireMs)
    ) {
      throw invalidField('time_expire', timeExpireText, '格式错误，应为rfc3339格式');
    }
    if (timeExpireMs <= nowMs)
      throw invalidRequest('time_expire时间已过，请设置一个将来的时间', { field: 'time_expire' });
  }
  const payer = objectAt(body, 'payer');
  const payerOpenid = text(payer, 'openid', 'payer/openid', tradeType === 'JSAPI', 128);
  const sceneInfo = objectAt(body, 'scene_info');
  const payerClientIp = text(
    sceneInfo,
    'payer_client_ip',
    'scene_info/payer_client_ip',
    tradeType === 'MWEB',
    45,
  );
  if (tradeType === 'MWEB') {
    const h5Info = sceneInfo?.h5_info;
    if (!h5Info || typeof h5Info !== 'object') throw missingField('scene_info/h5_info');
    const h5Type = requiredText(h5Info as Json, 'type', 'scene_info/h5_info/type');
    if (!H5_TYPES.includes(h5Type))
      throw invalidField('scene_info/h5_info/type', h5Type, '取值应为iOS、Android或Wap');
  }
  if (mchid !== merchant.mchid) {
    throw invalidRequest('请求参数中的mchid与请求头Authorization中的mchid不一致', {
      field: 'mchid',
      value: mchid,
    });
  }
  if (!merchant.appids.has(appid)) {
    throw new WxpayWireError(400, 'APPID_MCHID_NOT_MATCH', 'appid和mchid不匹配，请检查后重试', {
      field: 'appid',
      value: appid,
    });
  }
  return {
    tradeType,
    appid,
    mchid,
    description,
    outTradeNo,
    notifyUrl: notify,
    totalFen,
    currency: currency(amount, 'amount/currency'),
    attach,
    timeExpireMs,
    payerOpenid,
    payerClientIp,
    profitSharing: profitSharing(body),
    fingerprint: canonicalJson({ trade_type: tradeType, ...body }),
  };
}

export function parseCodepayRequest(body: Json, merchant: Merchant): CodepayRequest {
  const appid = requiredText(body, 'appid', 'appid', 32);
  const mchid = requiredText(body, 'mchid', 'mchid', 32);
  const description = requiredText(body, 'description', 'description', 127);
  const outTradeNo = requiredText(body, 'out_trade_no', 'out_trade_no');
  if (!OUT_TRADE_NO.test(outTradeNo))
    throw invalidField('out_trade_no', outTradeNo, '应为6-32位数字、大小写字母或_-*');
  const payer = objectAt(body, 'payer');
  if (!payer) throw missingField('payer');
  // The code's own value is never echoed back in an error's detail.
  const authCode = payer.auth_code;
  if (authCode === undefined || authCode === null || authCode === '') throw missingField('payer/auth_code');
  if (typeof authCode !== 'string' || authCode.length > 128)
    throw invalidField('payer/auth_code', '(auth_code)', '类型错误，应为字符串');
  const amount = objectAt(body, 'amount');
  if (!amount) throw missingField('amount');
  const totalFen = positiveFen(amount, 'total', 'amount/total');
  const sceneInfo = objectAt(body, 'scene_info');
  if (!sceneInfo) throw missingField('scene_info');
  const storeInfo = objectAt(sceneInfo, 'store_info');
  if (!storeInfo) throw missingField('scene_info/store_info');
  const storeId = requiredText(storeInfo, 'out_id', 'scene_info/store_info/out_id', 32);
  const deviceIp = text(sceneInfo, 'device_ip', 'scene_info/device_ip', false, 45);
  const notify = text(body, 'notify_url', 'notify_url', false, 255);
  if (mchid !== merchant.mchid) {
    throw invalidRequest('请求参数中的mchid与请求头Authorization中的mchid不一致', {
      field: 'mchid',
      value: mchid,
    });
  }
  if (!merchant.appids.has(appid)) {
    throw new WxpayWireError(400, 'APPID_MCHID_NOT_MATCH', 'appid和mchid不匹配，请检查后重试', {
      field: 'appid',
      value: appid,
    });
  }
  const { payer: _payer, ...rest } = body;
  return {
    appid,
    mchid,
    description,
    outTradeNo,
    authCode,
    totalFen,
    currency: currency(amount, 'amount/currency'),
    attach: text(body, 'attach', 'attach', false, 128),
    storeId,
    deviceIp,
    notifyUrl: notify === undefined ? undefined : notifyUrl(notify, 'notify_url'),
    profitSharing: profitSharing(body),
    // The same out_trade_no may come again with the same content; a new code needs a new number.
    fingerprint: canonicalJson({ trade_type: 'MICROPAY', ...rest, payer: { auth_code: authCode } }),
  };
}

export function parseRefundRequest(body: Json): RefundRequest {
  const outRefundNo = requiredText(body, 'out_refund_no', 'out_refund_no');
  if (!OUT_REFUND_NO.test(outRefundNo))
    throw invalidField('out_refund_no', outRefundNo, '应为1-64位数字、大小写字母或_-|*@');
  const transactionId = text(body, 'transaction_id', 'transaction_id', false, 32);
  const outTradeNo = text(body, 'out_trade_no', 'out_trade_no', false, 32);
  if (!transactionId && !outTradeNo) throw missingField('transaction_id');
  const notify = text(body, 'notify_url', 'notify_url', false, 256);
  const amount = objectAt(body, 'amount');
  if (!amount) throw missingField('amount');
  return {
    outRefundNo,
    transactionId,
    outTradeNo,
    reason: text(body, 'reason', 'reason', false, 80),
    notifyUrl: notify === undefined ? undefined : notifyUrl(notify, 'notify_url'),
    fundsAccount: text(body, 'funds_account', 'funds_account', false),
    refundFen: positiveFen(amount, 'refund', 'amount/refund'),
    totalFen: positiveFen(amount, 'total', 'amount/total'),
    currency: currency(amount, 'amount/currency'),
    fingerprint: canonicalJson(body),
  };
}
