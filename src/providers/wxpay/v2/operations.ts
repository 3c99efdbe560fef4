/**
 * The operations of an APIv2 account: unified order per scene (JSAPI for official account and
 * mini program, NATIVE, APP, MWEB for H5) with the client's signed parameters, order query,
 * close, refund over mutual TLS, and refund query.
 */
import { PayError } from '../../../core/errors.ts';
import type {
  ClientPayParams,
  CreatedPayment,
  PaymentOrder,
  PaymentResult,
  RefundRequest,
  RefundResult,
  TradeBill,
} from '../../provider.ts';
import type { WxpayScene } from '../config.ts';
import { parseTradeBill } from '../operations/bill.ts';
import { wxpayScene } from '../operations/prepay.ts';
import type { WxpayV2Merchant } from './config.ts';
import { micropayV2 } from './micropay.ts';
import { beijingCompact, malformed, toPaymentResultV2, toRefundResultV2 } from './results.ts';
import { nonceStr, signV2 } from './sign.ts';
import type { WxpayV2Transport } from './transport.ts';
import { cutBytes } from './xml.ts';

export interface WxpayV2Context {
  merchant: WxpayV2Merchant;
  transport: WxpayV2Transport;
  now: () => number;
}

/** The appid a scene pays into. */
export function appIdForV2(merchant: WxpayV2Merchant, scene: WxpayScene): string {
  return merchant.appIds[scene] ?? merchant.appId;
}

const TRADE_TYPE: Readonly<Record<WxpayScene, string>> = {
  jsapi: 'JSAPI',
  miniprogram: 'JSAPI',
  app: 'APP',
  h5: 'MWEB',
  native: 'NATIVE',
};

/** Extra gateway fields pass through as text, never over the fields the mapping owns. */
function passThrough(other: Record<string, unknown> | undefined): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(other ?? {})) {
    if (!/^[a-z_]{1,32}$/.test(name)) continue;
    if (typeof value === 'string' || typeof value === 'number') fields[name] = String(value);
    else if (value && typeof value === 'object') fields[name] = JSON.stringify(value);
  }
  return fields;
}

/** The appid of a scene; a payment code (micropay) is taken under the account's main appid. */
export function sceneAppIdV2(merchant: WxpayV2Merchant, scene: string): string {
  return scene === 'micropay' ? merchant.appId : appIdForV2(merchant, wxpayScene(scene));
}

export async function createPaymentV2(context: WxpayV2Context, order: PaymentOrder): Promise<CreatedPayment> {
  if (order.scene === 'micropay') return micropayV2(context, order);
  const { merchant } = context;
  const scene = wxpayScene(order.scene);
  const appid = appIdForV2(merchant, scene);
  const fields: Record<string, string | number | undefined> = {
    ...passThrough(order.other),
    appid,
    body: cutBytes(order.subject, 128),
    out_trade_no: order.outTradeNo,
    total_fee: order.totalFen,
    fee_type: 'CNY',
    // The payer's IP where we have it; for NATIVE the documented value is the caller's own.
    spbill_create_ip: order.clientIp ?? '127.0.0.1',
    notify_url: order.notifyUrl,
    trade_type: TRADE_TYPE[scene],
    time_expire: order.expireAt ? beijingCompact(order.expireAt) : undefined,
  };
  if (scene === 'jsapi' || scene === 'miniprogram') {
    if (!order.openid)
      throw new PayError(40001, {
        field: 'openid',
        message: `wxpay ${scene} payments need the payer's openid`,
      });
    fields.openid = order.openid;
  }
  if (scene === 'h5') {
    if (!order.clientIp)
      throw new PayError(40001, {
        field: 'clientIp',
        message: "wxpay h5 payments need the payer's IP address",
      });
    fields.scene_info ??= JSON.stringify({ h5_info: { type: 'Wap' } });
  }
  // NATIVE (mode two) asks for a product id; the order's number is one per order.
  if (scene === 'native') fields.product_id ??= order.outTradeNo.slice(0, 32);
  const answer = await context.transport.call({
    api: `unifiedorder.${scene}`,
    path: '/pay/unifiedorder',
    fields,
    write: true,
  });
  const needed = scene === 'native' ? 'code_url' : scene === 'h5' ? 'mweb_url' : 'prepay_id';
  const value = answer[needed];
  if (!value) {
    throw new PayError(50000, {
      field: needed,
      gatewayCode: 'MALFORMED_RESPONSE',
      message: `wxpay v2 unifiedorder.${scene} answer lacks ${needed}`,
      outcomeUnknown: true,
    });
  }
  return {
    client: clientParamsV2(merchant, scene, appid, answer, context.now()),
    prepayId: answer.prepay_id ?? null,
    raw: { trade_type: answer.trade_type, prepay_id: answer.prepay_id, code_url: answer.code_url },
  };
}

export function clientParamsV2(
  merchant: WxpayV2Merchant,
  scene: WxpayScene,
  appId: string,
  answer: Record<string, string>,
  nowMs: number,
): ClientPayParams {
  const timeStamp = String(Math.floor(nowMs / 1000));
  const nonce = nonceStr();
  switch (scene) {
    case 'jsapi':
    case 'miniprogram': {
      const signed = {
        appId,
        timeStamp,
        nonceStr: nonce,
        package: `prepay_id=${answer.prepay_id}`,
        signType: merchant.signType,
      };
      return { scene, ...signed, paySign: signV2(signed, merchant.apiKey, merchant.signType) };
    }
    case 'app': {
      const signed = {
        appid: appId,
        partnerid: merchant.mchId,
        prepayid: answer.prepay_id!,
        package: 'Sign=WXPay' as const,
        noncestr: nonce,
        timestamp: timeStamp,
      };
      // The APP SDK's PayReq names no sign type: WeChat checks its sign as MD5.
      return { scene, ...signed, sign: signV2(signed, merchant.apiKey, 'MD5') };
    }
    case 'h5':
      return { scene, h5Url: answer.mweb_url! };
    case 'native':
      return { scene, codeUrl: answer.code_url! };
  }
}

export async function queryPaymentV2(
  context: WxpayV2Context,
  query: { merchantId: string; outTradeNo: string; transactionId?: string },
): Promise<PaymentResult> {
  const answer = await context.transport.call({
    api: query.transactionId ? 'orderquery.transaction_id' : 'orderquery.out_trade_no',
    path: '/pay/orderquery',
    fields: {
      appid: context.merchant.appId,
      ...(query.transactionId ? { transaction_id: query.transactionId } : { out_trade_no: query.outTradeNo }),
    },
    write: false,
  });
  const result = toPaymentResultV2(answer, { merchantId: query.merchantId, source: 'query' });
  if (result.outTradeNo !== query.outTradeNo) {
    throw new PayError(40001, {
      field: 'transactionId',
      message: `wxpay transaction ${query.transactionId ?? ''} belongs to order ${result.outTradeNo}, not ${query.outTradeNo}`,
    });
  }
  return result;
}

/** Closing a closed order is done already; closing a paid one is 40006 (ORDERPAID). */
export async function closePaymentV2(context: WxpayV2Context, query: { outTradeNo: string }): Promise<void> {
  try {
    await context.transport.call({
      api: 'closeorder',
      path: '/pay/closeorder',
      fields: { appid: context.merchant.appId, out_trade_no: query.outTradeNo },
      write: true,
    });
  } catch (error) {
    if (error instanceof PayError && error.gatewayCode === 'ORDERCLOSED') return;
    throw error;
  }
}

/** Accepted is PROCESSING: the outcome comes from the refund notification or a query. */
export async function refundV2(context: WxpayV2Context, request: RefundRequest): Promise<RefundResult> {
  const answer = await context.transport.call({
    api: 'refund',
    path: '/secapi/pay/refund',
    secure: true,
    fields: {
      appid: context.merchant.appId,
      out_trade_no: request.outTradeNo,
      out_refund_no: request.outRefundNo,
      total_fee: request.totalFen,
      refund_fee: request.refundFen,
      refund_fee_type: 'CNY',
      refund_desc: request.reason ? cutBytes(request.reason, 80) : undefined,
      notify_url: request.notifyUrl,
    },
    write: true,
  });
  if (answer.out_refund_no !== request.outRefundNo) throw malformed('refund', 'out_refund_no');
  return toRefundResultV2(
    {
      outRefundNo: request.outRefundNo,
      status: 'PROCESSING',
      refundId: answer.refund_id,
      refundFee: answer.refund_fee,
    },
    { merchantId: request.merchantId, source: 'request', raw: answer },
  );
}

export async function queryRefundV2(
  context: WxpayV2Context,
  query: { merchantId: string; outRefundNo: string },
): Promise<RefundResult> {
  const answer = await context.transport.call({
    api: 'refundquery',
    path: '/pay/refundquery',
    fields: { appid: context.merchant.appId, out_refund_no: query.outRefundNo },
    write: false,
  });
  // The answer lists refunds as out_refund_no_$n, refund_status_$n...: the one asked for.
  const count = Number(answer.refund_count ?? '0');
  for (let n = 0; n < Math.min(count, 50); n += 1) {
    if (answer[`out_refund_no_${n}`] !== query.outRefundNo) continue;
    return toRefundResultV2(
      {
        outRefundNo: query.outRefundNo,
        status: answer[`refund_status_${n}`],
        refundId: answer[`refund_id_${n}`],
        refundFee: answer[`refund_fee_${n}`],
        successTime: answer[`refund_success_time_${n}`],
      },
      { merchantId: query.merchantId, source: 'query', raw: answer },
    );
  }
  throw malformed('refund query', 'out_refund_no');
}

/** The trade bill of a China date from /pay/downloadbill (ALL); a day without one is empty. */
export async function downloadTradeBillV2(context: WxpayV2Context, date: string): Promise<TradeBill> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date))
    throw new PayError(40001, { field: 'date', message: 'the bill date must be YYYY-MM-DD (China time)' });
  const text = await context.transport.download({
    api: 'downloadbill',
    path: '/pay/downloadbill',
    fields: { appid: context.merchant.appId, bill_date: date.replace(/-/g, ''), bill_type: 'ALL' },
    write: false,
  });
  return text === null ? { date, records: [] } : parseTradeBill(date, text);
}
