/**
 * One small mapping per OpenAPI method: read biz_content, apply the trade rules, write the
 * response. page, wap and app pay answer with the cashier instead of JSON.
 */
import { fenToYuan } from '../../core/money.ts';
import { type AlipayBillDesk, alipayTradeBillZip, BILL_READY_HOUR } from './bills.ts';
import { type Biz, optionalString, requiredFen, requiredString, tradeIds } from './biz-fields.ts';
import type { AlipayPaymentCodes } from './payment-codes.ts';
import type { VerifiedRequest } from './request-auth.ts';
import { refundRoyaltyReturns } from './royalty.ts';
import { beijingTime } from './runtime.ts';
import { type NewTrade, type Trade, type TradeBook, type TradeProduct, timeoutDeadline } from './trades.ts';
import { AlipayGatewayError, businessFailure, invalidParameter } from './wire-errors.ts';
import { barCodePayResponse, queryResponse, refundQueryResponse } from './wire-views.ts';

export interface MethodContext {
  trades: TradeBook;
  paymentCodes: AlipayPaymentCodes;
  bills: AlipayBillDesk;
  now: number;
  /** Where payer pages live, e.g. http://127.0.0.1:8091/sandbox/alipay. */
  sandboxBaseUrl: string;
}

export type MethodResult =
  | { kind: 'json'; response: Record<string, unknown>; trade?: Trade }
  | { kind: 'cashier'; trade: Trade };

type MethodHandler = (request: VerifiedRequest, context: MethodContext) => MethodResult;

const success = (fields: Record<string, unknown>, trade?: Trade): MethodResult => ({
  kind: 'json',
  response: { code: '10000', msg: 'Success', ...fields },
  ...(trade ? { trade } : {}),
});

/** time_expire is yyyy-MM-dd HH:mm:ss in Beijing time, and must still lie ahead. */
function timeExpireAt(biz: Biz, now: number): number | undefined {
  const text = optionalString(biz, 'time_expire', 32);
  if (text === undefined) return undefined;
  const at = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text)
    ? Date.parse(`${text.replace(' ', 'T')}+08:00`)
    : Number.NaN;
  if (Number.isNaN(at)) throw invalidParameter('time_expire', '格式应为yyyy-MM-dd HH:mm:ss');
  if (at <= now) throw invalidParameter('time_expire', '已过期');
  return at;
}

function timeoutExpress(biz: Biz): string | undefined {
  const text = optionalString(biz, 'timeout_express', 8);
  if (text !== undefined && timeoutDeadline(text, 0) === undefined)
    throw invalidParameter('timeout_express', '取值范围为1m～15d（m分钟，h小时，d天，1c当天），不接受小数');
  return text;
}

function newTrade(request: VerifiedRequest, product: TradeProduct, now: number): NewTrade {
  const { biz, params, app } = request;
  const order: NewTrade = {
    appId: app.appId,
    outTradeNo: requiredString(biz, 'out_trade_no', 64),
    product,
    totalFen: requiredFen(biz, 'total_amount'),
    subject: requiredString(biz, 'subject', 256),
  };
  const optional: Array<[keyof NewTrade, string | number | undefined]> = [
    ['body', optionalString(biz, 'body', 128)],
    ['productCode', optionalString(biz, 'product_code', 64)],
    ['passbackParams', optionalString(biz, 'passback_params', 512)],
    ['quitUrl', optionalString(biz, 'quit_url', 400)],
    ['notifyUrl', params.notify_url || undefined],
    ['returnUrl', params.return_url || undefined],
    ['timeExpireAt', timeExpireAt(biz, now)],
    ['timeoutExpress', timeoutExpress(biz)],
  ];
  for (const [key, value] of optional) if (value !== undefined) Object.assign(order, { [key]: value });
  if (royaltyFreeze(biz)) order.royaltyFreeze = true;
  return order;
}

/** extend_params.royalty_freeze: "true" keeps the paid funds frozen for alipay.trade.order.settle. */
function royaltyFreeze(biz: Biz): boolean {
  const extend = biz.extend_params;
  if (extend === undefined || extend === null) return false;
  if (typeof extend !== 'object' || Array.isArray(extend))
    throw invalidParameter('extend_params', '应为对象');
  const value = (extend as Biz).royalty_freeze;
  if (value === undefined || value === 'false' || value === false) return false;
  if (value === 'true' || value === true) return true;
  throw invalidParameter('extend_params.royalty_freeze', '应为true或false');
}

/** page and wap pay name their product: FAST_INSTANT_TRADE_PAY and QUICK_WAP_WAY, both required. */
function cashier(product: TradeProduct, productCode?: string): MethodHandler {
  return (request, { trades, now }) => {
    if (productCode) {
      const sent = optionalString(request.biz, 'product_code', 64);
      if (sent !== productCode) {
        throw invalidParameter(
          'product_code',
          sent === undefined ? `不能为空，应为${productCode}` : `应为${productCode}`,
        );
      }
    }
    return { kind: 'cashier', trade: trades.open(newTrade(request, product, now)) };
  };
}

function findTrade(request: VerifiedRequest, trades: TradeBook): Trade {
  return trades.find(request.app.appId, tradeIds(request.biz));
}

const ids = (trade: Trade) => ({ trade_no: trade.tradeNo, out_trade_no: trade.outTradeNo });

function buyerOf(biz: Biz): NewTrade['buyer'] {
  const buyerId = optionalString(biz, 'buyer_id', 28);
  const buyerOpenId = optionalString(biz, 'buyer_open_id', 128);
  if (!buyerId && !buyerOpenId) throw invalidParameter('buyer_id', '和buyer_open_id不能同时为空');
  return { ...(buyerId ? { buyerId } : {}), ...(buyerOpenId ? { buyerOpenId } : {}) };
}

/**
 * alipay.trade.pay, scene=bar_code: the counter sends the buyer's payment code. The trade is
 * checked first (a paid or closed out_trade_no is refused without spending the code), then the
 * code is spent, and its buyer pays at once (10000), is asked for a password (10003,
 * WAIT_BUYER_PAY) or has too little balance (40004, no trade made).
 */
const barCodePay: MethodHandler = (request, { trades, paymentCodes, now }) => {
  const { biz } = request;
  const scene = requiredString(biz, 'scene', 32);
  if (scene !== 'bar_code') throw invalidParameter('scene', '模拟器仅支持bar_code');
  const authCode = requiredString(biz, 'auth_code', 32);
  const productCode = optionalString(biz, 'product_code', 32);
  if (productCode !== undefined && productCode !== 'FACE_TO_FACE_PAYMENT')
    throw invalidParameter('product_code', '应为FACE_TO_FACE_PAYMENT');
  const order = newTrade(request, 'barcode', now);
  const existing = trades.lookup(request.app.appId, order.outTradeNo);
  if (existing?.visible) {
    if (existing.status === 'TRADE_SUCCESS' || existing.status === 'TRADE_FINISHED')
      throw businessFailure('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
    if (existing.status === 'TRADE_CLOSED') throw businessFailure('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
    // Waiting for this or another buyer: a second code for the same order is a different request.
    throw businessFailure('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
  }
  const code = paymentCodes.spend(authCode);
  if (code.behaviour === 'insufficient')
    throw businessFailure('ACQ.BUYER_BALANCE_NOT_ENOUGH', '买家余额不足');
  const trade = trades.open({
    ...order,
    buyer: code.buyer,
    ...(code.behaviour === 'never' ? { neverConfirms: true } : {}),
  });
  if (code.behaviour === 'pay') trades.pay(trade);
  return { kind: 'json', response: barCodePayResponse(trade), trade };
};

export const TRADE_METHODS: Readonly<Record<string, MethodHandler>> = {
  'alipay.trade.pay': barCodePay,

  'alipay.trade.page.pay': cashier('page', 'FAST_INSTANT_TRADE_PAY'),
  'alipay.trade.wap.pay': cashier('wap', 'QUICK_WAP_WAY'),
  'alipay.trade.app.pay': cashier('app'),

  'alipay.trade.precreate': (request, { trades, now, sandboxBaseUrl }) => {
    const trade = trades.open(newTrade(request, 'precreate', now));
    return success(
      { out_trade_no: trade.outTradeNo, qr_code: `${sandboxBaseUrl}/qr/${trade.payToken}` },
      trade,
    );
  },

  'alipay.trade.create': (request, { trades, now }) => {
    const order = { ...newTrade(request, 'create', now), buyer: buyerOf(request.biz) };
    return success(ids(trades.open(order)));
  },

  'alipay.trade.query': (request, { trades }) => {
    const trade = findTrade(request, trades);
    return success(queryResponse(trade), trade);
  },

  'alipay.trade.close': (request, { trades }) => {
    const trade = trades.close(findTrade(request, trades));
    return success(ids(trade), trade);
  },

  'alipay.trade.refund': (request, { trades, now }) => {
    const trade = findTrade(request, trades);
    const refundFen = requiredFen(request.biz, 'refund_amount');
    const outRequestNo = optionalString(request.biz, 'out_request_no', 64) ?? trade.outTradeNo;
    const reason = optionalString(request.biz, 'refund_reason', 256);
    const returns = refundRoyaltyReturns(request.biz);
    const { refund, fundChange } = trades.refund(trade, outRequestNo, refundFen, reason, returns);
    const fields: Record<string, unknown> = {
      ...ids(trade),
      fund_change: fundChange,
      refund_fee: fenToYuan(trade.refundedFen),
      gmt_refund_pay: beijingTime(fundChange === 'Y' ? now : refund.gmtRefund),
      out_request_no: outRequestNo,
    };
    if (trade.buyer?.buyerLogonId) fields.buyer_logon_id = trade.buyer.buyerLogonId;
    if (trade.buyer?.buyerId) fields.buyer_user_id = trade.buyer.buyerId;
    return success(fields, trade);
  },

  'alipay.trade.fastpay.refund.query': (request, { trades }) => {
    // Required: for a refund made without one it is the out_trade_no, and the merchant must say so.
    const outRequestNo = requiredString(request.biz, 'out_request_no', 64);
    const trade = findTrade(request, trades);
    return success(refundQueryResponse(trade, outRequestNo), trade);
  },

  // Certificate mode: a current or retired Alipay public-key certificate by SN, base64 of its PEM.
  'alipay.open.app.alipaycert.download': (request) => {
    const sn = requiredString(request.biz, 'alipay_cert_sn', 64);
    const { app } = request;
    const pem = app.alipayCertSn === sn ? app.alipayCertPem : app.retiredAlipayCerts?.get(sn);
    if (!pem) throw new AlipayGatewayError('40004', 'isv.cert-not-exist', '支付宝公钥证书不存在');
    return success({ alipay_cert_content: Buffer.from(pem, 'utf8').toString('base64') });
  },

  // The trade bill of a past Beijing date, from 09:00 the next day: a short-lived link to a zip of
  // GBK CSV files.
  'alipay.data.dataservice.bill.downloadurl.query': (request, { trades, bills, now, sandboxBaseUrl }) => {
    const billType = requiredString(request.biz, 'bill_type', 32);
    if (billType !== 'trade') throw invalidParameter('bill_type', '模拟器仅支持trade');
    const date = requiredString(request.biz, 'bill_date', 16);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw invalidParameter('bill_date', '格式应为yyyy-MM-dd');
    const today = beijingTime(now).slice(0, 10);
    if (date >= today)
      throw new AlipayGatewayError('40004', 'isp.bill_not_exist', '账单不存在：不支持下载当日账单');
    const yesterday = beijingTime(now - 86_400_000).slice(0, 10);
    if (date === yesterday && Number(beijingTime(now).slice(11, 13)) < BILL_READY_HOUR)
      throw new AlipayGatewayError('40004', 'isp.bill_not_exist', '账单不存在：前一日账单于9点前生成');
    const zip = alipayTradeBillZip(request.app.sellerId, date, trades.all(request.app.appId));
    return success({ bill_download_url: `${sandboxBaseUrl}/bills/${bills.issue(zip)}` });
  },

  // A trade Alipay never made (a pay that never arrived) is cancelled too: 10000, retry_flag N, no
  // action and no trade_no ("action: returned when the call succeeds and the trade exists").
  'alipay.trade.cancel': (request, { trades }) => {
    let trade: Trade;
    try {
      trade = findTrade(request, trades);
    } catch (error) {
      if (!(error instanceof AlipayGatewayError) || error.subCode !== 'ACQ.TRADE_NOT_EXIST') throw error;
      const ids = tradeIds(request.biz);
      return success({ out_trade_no: ids.outTradeNo ?? '', retry_flag: 'N' });
    }
    const action = trades.cancel(trade);
    const fields = action ? { ...ids(trade), action } : { out_trade_no: trade.outTradeNo };
    return success({ ...fields, retry_flag: 'N' }, trade);
  },
};

export const SUPPORTED_METHODS: ReadonlySet<string> = new Set(Object.keys(TRADE_METHODS));
