/**
 * The JSON objects the gateway returns and notifies: Transaction and Refund, with wire names
 * (protocols.md A.6.2, A.6.3, A.5). Unset fields are left out, as WeChat does.
 */
import type { Refund } from './refunds.ts';
import { formatChinaTime } from './runtime.ts';
import type { Trade } from './trades.ts';

/** Who the trade is for: appid and mchid, or in partner mode the service provider and sub-merchant. */
function tradeParties(trade: Trade): Record<string, unknown> {
  const { partner } = trade;
  if (!partner) return { appid: trade.appid, mchid: trade.mchid };
  return {
    sp_appid: partner.spAppid,
    sp_mchid: partner.spMchid,
    ...(partner.subAppid ? { sub_appid: partner.subAppid } : {}),
    sub_mchid: trade.mchid,
  };
}

function payerJson(trade: Trade): Record<string, unknown> {
  if (!trade.partner) return { openid: trade.payerOpenid };
  return trade.partner.openidKind === 'sub'
    ? { sub_openid: trade.payerOpenid }
    : { sp_openid: trade.payerOpenid };
}

export function transactionJson(trade: Trade): Record<string, unknown> {
  const paid = trade.successAt !== undefined;
  return {
    ...tradeParties(trade),
    out_trade_no: trade.outTradeNo,
    ...(paid ? { transaction_id: trade.transactionId, trade_type: trade.tradeType } : {}),
    trade_state: trade.tradeState,
    trade_state_desc: trade.tradeStateDesc,
    ...(paid ? { bank_type: trade.bankType, success_time: formatChinaTime(trade.successAt!) } : {}),
    ...(trade.attach !== undefined ? { attach: trade.attach } : {}),
    ...(paid ? { payer: payerJson(trade) } : {}),
    amount: paid
      ? {
          total: trade.totalFen,
          payer_total: trade.totalFen,
          currency: trade.currency,
          payer_currency: trade.currency,
        }
      : { total: trade.totalFen, currency: trade.currency, payer_currency: trade.currency },
    scene_info: { device_id: '' },
    promotion_detail: [],
  };
}

function refundAmountJson(refund: Refund): Record<string, unknown> {
  return {
    total: refund.totalFen,
    refund: refund.refundFen,
    from: [],
    payer_total: refund.totalFen,
    payer_refund: refund.refundFen,
    settlement_refund: refund.refundFen,
    settlement_total: refund.totalFen,
    discount_refund: 0,
    currency: refund.currency,
    refund_fee: 0,
  };
}

export function refundJson(refund: Refund): Record<string, unknown> {
  return {
    refund_id: refund.refundId,
    out_refund_no: refund.outRefundNo,
    transaction_id: refund.transactionId,
    out_trade_no: refund.outTradeNo,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    ...(refund.successAt !== undefined ? { success_time: formatChinaTime(refund.successAt) } : {}),
    create_time: formatChinaTime(refund.createdAt),
    status: refund.status,
    funds_account: refund.fundsAccount,
    amount: refundAmountJson(refund),
    promotion_detail: [],
  };
}

/** The decrypted resource of a REFUND.* notification. */
export function refundNotificationJson(refund: Refund): Record<string, unknown> {
  return {
    // Partner mode names the service provider and the sub-merchant instead of mchid.
    ...(refund.spMchid ? { sp_mchid: refund.spMchid, sub_mchid: refund.mchid } : { mchid: refund.mchid }),
    out_trade_no: refund.outTradeNo,
    transaction_id: refund.transactionId,
    out_refund_no: refund.outRefundNo,
    refund_id: refund.refundId,
    refund_status: refund.status,
    ...(refund.successAt !== undefined ? { success_time: formatChinaTime(refund.successAt) } : {}),
    user_received_account: '支付用户零钱',
    amount: {
      total: refund.totalFen,
      refund: refund.refundFen,
      payer_total: refund.totalFen,
      payer_refund: refund.refundFen,
    },
  };
}
