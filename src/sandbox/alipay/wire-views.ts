/**
 * Trades as Alipay writes them: yuan strings, Beijing times and wire field names. Only this file
 * (and the request parsing) knows the wire names; the trade book speaks fen and milliseconds.
 */
import { fenToYuan } from '../../core/money.ts';
import type { RegisteredApp } from './apps.ts';
import { beijingTime } from './runtime.ts';
import { notifySigningString, signRsa2, type WireParams } from './signing.ts';
import type { Refund, Trade, TradeEvent } from './trades.ts';

const PRODUCT_METHODS: Record<Trade['product'], string> = {
  page: 'alipay.trade.page.pay',
  wap: 'alipay.trade.wap.pay',
  app: 'alipay.trade.app.pay',
  precreate: 'alipay.trade.precreate',
  create: 'alipay.trade.create',
  barcode: 'alipay.trade.pay',
};

export function tradeMethod(trade: Trade): string {
  return PRODUCT_METHODS[trade.product];
}

function paidFen(trade: Trade): number {
  return trade.gmtPayment === undefined ? 0 : trade.totalFen;
}

/** The body of a successful alipay.trade.query. */
export function queryResponse(trade: Trade): Record<string, unknown> {
  const paid = paidFen(trade);
  const response: Record<string, unknown> = {
    code: '10000',
    msg: 'Success',
    trade_no: trade.tradeNo,
    out_trade_no: trade.outTradeNo,
    trade_status: trade.status,
    total_amount: fenToYuan(trade.totalFen),
    receipt_amount: fenToYuan(paid),
    buyer_pay_amount: fenToYuan(paid),
    point_amount: '0.00',
    invoice_amount: fenToYuan(paid),
  };
  if (trade.buyer?.buyerLogonId) response.buyer_logon_id = trade.buyer.buyerLogonId;
  if (trade.buyer?.buyerId) response.buyer_user_id = trade.buyer.buyerId;
  if (trade.buyer?.buyerOpenId) response.buyer_open_id = trade.buyer.buyerOpenId;
  if (trade.gmtPayment !== undefined) {
    response.send_pay_date = beijingTime(trade.gmtPayment);
    response.fund_bill_list = [{ fund_channel: 'ALIPAYACCOUNT', amount: fenToYuan(paid) }];
  }
  return response;
}

/**
 * The answer to alipay.trade.pay (bar_code): 10000 with the payment when the buyer paid at once,
 * 10003 while the buyer confirms. The payment code is never echoed.
 */
export function barCodePayResponse(trade: Trade): Record<string, unknown> {
  const paid = paidFen(trade);
  const waiting = trade.status === 'WAIT_BUYER_PAY';
  const response: Record<string, unknown> = {
    code: waiting ? '10003' : '10000',
    msg: waiting ? ' order success pay inprocess' : 'Success',
    trade_no: trade.tradeNo,
    out_trade_no: trade.outTradeNo,
    total_amount: fenToYuan(trade.totalFen),
    receipt_amount: fenToYuan(paid),
    buyer_pay_amount: fenToYuan(paid),
    point_amount: '0.00',
    invoice_amount: fenToYuan(paid),
  };
  if (trade.buyer?.buyerLogonId) response.buyer_logon_id = trade.buyer.buyerLogonId;
  if (trade.buyer?.buyerId) response.buyer_user_id = trade.buyer.buyerId;
  if (trade.gmtPayment !== undefined) {
    response.gmt_payment = beijingTime(trade.gmtPayment);
    response.fund_bill_list = [{ fund_channel: 'ALIPAYACCOUNT', amount: fenToYuan(paid) }];
  }
  return response;
}

/** The fields of an asynchronous notification, captured when the event happens (the trade moves on). */
export function notificationFields(
  app: RegisteredApp,
  event: TradeEvent,
  notifyId: string,
  now: number,
): WireParams {
  const { trade } = event;
  const paid = paidFen(trade);
  const fields: WireParams = {
    notify_time: beijingTime(now),
    notify_type: 'trade_status_sync',
    notify_id: notifyId,
    charset: 'utf-8',
    version: '1.0',
    sign_type: 'RSA2',
    app_id: app.appId,
    auth_app_id: app.appId,
    trade_no: trade.tradeNo,
    out_trade_no: trade.outTradeNo,
    seller_id: app.sellerId,
    trade_status: trade.status,
    total_amount: fenToYuan(trade.totalFen),
    subject: trade.subject,
    gmt_create: beijingTime(trade.gmtCreate),
  };
  if (trade.buyer?.buyerId) fields.buyer_id = trade.buyer.buyerId;
  if (trade.buyer?.buyerLogonId) fields.buyer_logon_id = trade.buyer.buyerLogonId;
  if (trade.buyer?.buyerOpenId) fields.buyer_open_id = trade.buyer.buyerOpenId;
  if (trade.body) fields.body = trade.body;
  if (trade.passbackParams) fields.passback_params = trade.passbackParams;
  if (trade.gmtPayment !== undefined) {
    fields.gmt_payment = beijingTime(trade.gmtPayment);
    fields.receipt_amount = fenToYuan(paid);
    fields.invoice_amount = fenToYuan(paid);
    fields.buyer_pay_amount = fenToYuan(paid);
    fields.point_amount = '0.00';
    // Alipay's notifications carry this list with camelCase keys, unlike the query API.
    fields.fund_bill_list = JSON.stringify([{ amount: fenToYuan(paid), fundChannel: 'ALIPAYACCOUNT' }]);
  }
  if (trade.gmtClose !== undefined) fields.gmt_close = beijingTime(trade.gmtClose);
  if (event.kind === 'refunded') addRefundFields(fields, trade, event.refund);
  return fields;
}

function addRefundFields(fields: WireParams, trade: Trade, refund: Refund): void {
  fields.out_biz_no = refund.outRequestNo;
  fields.refund_fee = fenToYuan(trade.refundedFen);
  fields.gmt_refund = `${beijingTime(refund.gmtRefund)}.${String(refund.gmtRefund % 1000).padStart(3, '0')}`;
}

/** Signs notification or return_url fields the way merchants verify them: without sign_type. */
export function signNotifyFields(fields: WireParams, app: RegisteredApp): WireParams {
  return { ...fields, sign: signRsa2(notifySigningString(fields), app.alipayPrivateKey) };
}

/** The signed query string Alipay appends to return_url after a page or wap payment. */
export function returnUrlParams(app: RegisteredApp, trade: Trade, now: number): WireParams {
  return signNotifyFields(
    {
      charset: 'utf-8',
      out_trade_no: trade.outTradeNo,
      method: `${tradeMethod(trade)}.return`,
      total_amount: fenToYuan(trade.totalFen),
      trade_no: trade.tradeNo,
      auth_app_id: app.appId,
      version: '1.0',
      app_id: app.appId,
      sign_type: 'RSA2',
      seller_id: app.sellerId,
      timestamp: beijingTime(now),
    },
    app,
  );
}

export function refundQueryResponse(trade: Trade, outRequestNo: string): Record<string, unknown> {
  const refund = trade.refunds.find((candidate) => candidate.outRequestNo === outRequestNo);
  const response: Record<string, unknown> = {
    code: '10000',
    msg: 'Success',
    trade_no: trade.tradeNo,
    out_trade_no: trade.outTradeNo,
    out_request_no: outRequestNo,
  };
  // An unknown out_request_no is not an error at Alipay: the answer simply carries no refund.
  if (refund) {
    response.total_amount = fenToYuan(trade.totalFen);
    response.refund_amount = fenToYuan(refund.refundFen);
    response.refund_status = 'REFUND_SUCCESS';
    response.gmt_refund_pay = beijingTime(refund.gmtRefund);
    if (refund.refundReason) response.refund_reason = refund.refundReason;
  }
  return response;
}
