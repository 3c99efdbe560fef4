/**
 * The mini program's message push, as virtual payment uses it: JSON, signed in the URL
 * (signature = SHA-1 of the sorted token, timestamp, nonce) in plain mode, or an AES-256-CBC
 * `Encrypt` field signed by msg_signature in the encrypted (安全) mode. Goods delivery and coin
 * payment pushes pay an order; refund pushes settle a refund; other events are taken and kept.
 */
import { PayError } from '../../core/errors.ts';
import { NOTIFY_FAILURE_STATUS, type NotifyAck, type NotifyAnswer, type NotifyEvent } from '../provider.ts';
import type { WxpayVirtualMerchant } from './config.ts';
import { decryptPush, sameHex, sha1Sorted } from './sign.ts';

export type PushQuery = Record<string, string | undefined>;

export const GOODS_DELIVER_EVENT = 'xpay_goods_deliver_notify';
export const COIN_PAY_EVENT = 'xpay_coin_pay_notify';
export const REFUND_EVENT = 'xpay_refund_notify';

const malformed = (field: string, message: string) => new PayError(40001, { field, message });
const refused = (field: string, message: string) => new PayError(40002, { field, message });

function jsonObject(text: string, field: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed(field, `${field} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw malformed(field, `${field} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

/** The verified push message: decrypted and its appid checked in the encrypted mode. */
export function verifiedPushMessage(
  merchant: WxpayVirtualMerchant,
  query: PushQuery,
  rawBody: Buffer,
): Record<string, unknown> {
  const { timestamp, nonce } = query;
  if (!timestamp || !nonce) throw refused('signature', 'timestamp and nonce are missing from the URL');
  const body = jsonObject(rawBody.toString('utf8'), '(body)');
  if (query.encrypt_type === 'aes' || typeof body.Encrypt === 'string') {
    if (!merchant.aesKey)
      throw refused('Encrypt', 'an encrypted push came but no encodingAesKey is configured');
    const encrypted = body.Encrypt;
    if (typeof encrypted !== 'string' || encrypted === '') throw malformed('Encrypt', 'Encrypt is missing');
    const expected = sha1Sorted(merchant.pushToken, timestamp, nonce, encrypted);
    if (!sameHex(expected, query.msg_signature))
      throw refused('msg_signature', 'msg_signature does not verify');
    const { message, appId } = decryptPush(merchant.aesKey, encrypted);
    if (appId !== merchant.appId) throw refused('appid', 'the push was encrypted for another mini program');
    return jsonObject(message, 'Encrypt');
  }
  if (!sameHex(sha1Sorted(merchant.pushToken, timestamp, nonce), query.signature))
    throw refused('signature', 'signature does not verify');
  if (merchant.originalId !== null && body.ToUserName !== merchant.originalId)
    throw refused('ToUserName', 'the push is for another mini program');
  return body;
}

const text = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : null;
const integer = (value: unknown): number | null => {
  const n = typeof value === 'string' && /^-?[0-9]+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : null;
};
const object = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
const secondsToDate = (value: unknown): Date | null => {
  const seconds = integer(value);
  return seconds && seconds > 0 ? new Date(seconds * 1000) : null;
};

export function parseVirtualNotify(
  merchant: WxpayVirtualMerchant,
  query: PushQuery,
  rawBody: Buffer,
): NotifyEvent {
  const message = verifiedPushMessage(merchant, query, rawBody);
  const event = text(message.Event);
  if (event === GOODS_DELIVER_EVENT || event === COIN_PAY_EVENT) {
    checkEnv(merchant, message);
    const outTradeNo = text(message.OutTradeNo);
    if (!outTradeNo) throw malformed('OutTradeNo', 'OutTradeNo is missing');
    const payInfo = object(message.WeChatPayInfo);
    const amountFen = event === GOODS_DELIVER_EVENT ? goodsAmount(message) : coinAmount(message);
    return {
      kind: 'payment',
      result: {
        merchantId: merchant.merchantId,
        provider: 'wxpay-virtual',
        outTradeNo,
        transactionId: text(payInfo.TransactionId),
        amountFen,
        status: 'SUCCESS',
        mchId: merchant.offerId,
        appId: merchant.appId,
        paidAt: secondsToDate(payInfo.PaidTime),
        eventId: `${event}:${outTradeNo}`,
        source: 'notify',
        raw: message,
      },
    };
  }
  if (event === REFUND_EVENT) {
    const outRefundNo = text(message.MchRefundId);
    if (!outRefundNo) throw malformed('MchRefundId', 'MchRefundId is missing');
    const retCode = integer(message.RetCode);
    if (retCode === null) throw malformed('RetCode', 'RetCode is missing');
    return {
      kind: 'refund',
      result: {
        merchantId: merchant.merchantId,
        provider: 'wxpay-virtual',
        outRefundNo,
        status: retCode === 0 ? 'SUCCESS' : 'CLOSED',
        refundId: text(message.WxRefundId),
        refundFen: integer(message.RefundFee),
        successTime: retCode === 0 ? secondsToDate(message.RefundSuccTimestamp) : null,
        eventId: `${REFUND_EVENT}:${outRefundNo}`,
        source: 'notify',
        raw: message,
      },
    };
  }
  // Complaints and anything else sent to the same push URL: verified, taken, kept once.
  const name = event ?? text(message.MsgType) ?? 'message';
  return {
    kind: 'store',
    result: {
      merchantId: merchant.merchantId,
      provider: 'wxpay-virtual',
      eventId: `${name}:${sha1Sorted(rawBody.toString('utf8'))}`,
      kind: 'other',
      notificationType: name.slice(0, 64),
      subtype: null,
      purchase: null,
      raw: message,
    },
  };
}

/** A sandbox push never pays a production order, nor the reverse. */
function checkEnv(merchant: WxpayVirtualMerchant, message: Record<string, unknown>): void {
  const env = integer(message.Env ?? message.env);
  if (env !== merchant.env)
    throw refused('Env', `the push is for env ${env}, this account pays in ${merchant.env}`);
}

/** Goods: the unit's original price times the quantity, before any coupon. */
function goodsAmount(message: Record<string, unknown>): number {
  const goods = object(message.GoodsInfo);
  const price = integer(goods.OrigPrice);
  const quantity = integer(goods.Quantity) ?? 1;
  if (price === null) throw malformed('GoodsInfo.OrigPrice', 'GoodsInfo.OrigPrice is missing');
  return price * quantity;
}

/** Coins: the original price of the coins bought. */
function coinAmount(message: Record<string, unknown>): number {
  const price = integer(object(message.CoinInfo).OrigPrice);
  if (price === null) throw malformed('CoinInfo.OrigPrice', 'CoinInfo.OrigPrice is missing');
  return price;
}

/** WeChat reads ErrCode: 0 takes the push, anything else has it sent again. */
export function ackVirtualNotify(answer: NotifyAnswer, error?: PayError): NotifyAck {
  const headers = { 'content-type': 'application/json' };
  if (answer === 'accepted')
    return { status: 200, headers, body: JSON.stringify({ ErrCode: 0, ErrMsg: 'success' }) };
  return {
    status: NOTIFY_FAILURE_STATUS[answer],
    headers,
    body: JSON.stringify({ ErrCode: error?.code ?? 50000, ErrMsg: answer }),
  };
}

/** The push URL check WeChat makes when it is configured: echostr back when the signature verifies. */
export function answerUrlCheck(merchant: WxpayVirtualMerchant, query: PushQuery): string | null {
  const { timestamp, nonce, echostr, signature } = query;
  if (!timestamp || !nonce || !echostr) return null;
  return sameHex(sha1Sorted(merchant.pushToken, timestamp, nonce), signature) ? echostr : null;
}
