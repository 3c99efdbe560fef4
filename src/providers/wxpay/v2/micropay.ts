/**
 * Payment codes on an APIv2 account: /pay/micropay with the buyer's code scanned at the counter,
 * and /secapi/pay/reverse (mutual TLS) for one whose buyer never confirmed. SUCCESS is paid;
 * err_code USERPAYING is the buyer entering the password (poll orderquery). SYSTEMERROR, BANKERROR,
 * 5xx and timeouts leave the outcome unknown: sent once, never resent with the single-use code,
 * settled by orderquery and then reverse. Other err_codes are PayErrors (AUTHCODEEXPIRE 40001,
 * NOTENOUGH 40007, ORDERPAID 40006...).
 */
import { PayError } from '../../../core/errors.ts';
import type { CreatedPayment, PaymentOrder, PaymentResult } from '../../provider.ts';
import type { WxpayV2Context } from './operations.ts';
import { fenOf, malformed, parseBeijingTime } from './results.ts';
import { cutBytes, type XmlFields } from './xml.ts';

/** What is kept with the order: neither the signature nor the buyer's code, should it be echoed. */
function kept(fields: XmlFields): XmlFields {
  const { sign: _sign, auth_code: _authCode, ...rest } = fields;
  return rest;
}

export async function micropayV2(context: WxpayV2Context, order: PaymentOrder): Promise<CreatedPayment> {
  const { merchant } = context;
  if (!order.authCode) {
    throw new PayError(40001, {
      field: 'auth_code',
      message: "wxpay micropay needs the buyer's payment code",
    });
  }
  const answer = await context.transport.call({
    api: 'micropay',
    path: '/pay/micropay',
    fields: {
      appid: merchant.appId,
      body: cutBytes(order.subject, 128),
      out_trade_no: order.outTradeNo,
      total_fee: order.totalFen,
      fee_type: 'CNY',
      // The counter's IP: the server's own when the request did not give one.
      spbill_create_ip: order.clientIp ?? '127.0.0.1',
      auth_code: order.authCode,
    },
    write: true,
    once: true,
    answers: ['USERPAYING'],
  });
  const raw = kept(answer);
  if (answer.out_trade_no !== undefined && answer.out_trade_no !== order.outTradeNo)
    throw malformed('micropay answer', 'out_trade_no');
  const waiting = answer.result_code !== 'SUCCESS';
  let amountFen = order.totalFen;
  if (!waiting) {
    const total = fenOf(answer.total_fee);
    if (total === null) throw malformed('micropay answer', 'total_fee');
    if (!answer.transaction_id) throw malformed('micropay answer', 'transaction_id');
    amountFen = total;
  }
  const result: PaymentResult = {
    merchantId: order.merchantId,
    provider: 'wxpay',
    outTradeNo: order.outTradeNo,
    transactionId: answer.transaction_id || null,
    amountFen,
    status: waiting ? 'USERPAYING' : 'SUCCESS',
    mchId: answer.mch_id ?? null,
    appId: answer.appid ?? null,
    paidAt: waiting ? null : parseBeijingTime(answer.time_end),
    eventId: null,
    source: 'query',
    raw,
  };
  return { client: { scene: 'micropay' }, prepayId: null, result, raw };
}

/**
 * /secapi/pay/reverse: `retry` when the answer says recall=Y (call it again), `reversed` when the
 * gateway closed the order, or refunded it in full if the buyer paid meanwhile (both read REVOKED
 * afterwards), or has no such order. SYSTEMERROR is resent (a reverse is idempotent) and stays
 * outcomeUnknown when it does not clear.
 */
export async function reversePaymentV2(
  context: WxpayV2Context,
  query: { outTradeNo: string },
): Promise<'reversed' | 'retry'> {
  let answer: XmlFields;
  try {
    answer = await context.transport.call({
      api: 'reverse',
      path: '/secapi/pay/reverse',
      secure: true,
      fields: { appid: context.merchant.appId, out_trade_no: query.outTradeNo },
      write: true,
      answers: ['SYSTEMERROR'],
    });
  } catch (error) {
    // The gateway never took the order: nothing can be paid under it any more to reverse.
    if (error instanceof PayError && error.gatewayCode === 'ORDERNOTEXIST') return 'reversed';
    throw error;
  }
  if (answer.recall === 'Y') return 'retry';
  if (answer.result_code !== 'SUCCESS') {
    throw new PayError(40010, {
      gatewayCode: answer.err_code ?? 'SYSTEMERROR',
      message: `wxpay v2 reverse of ${query.outTradeNo}: ${answer.err_code ?? 'FAIL'} without recall=Y`,
      details: { provider: 'wxpay', api: 'reverse', apiVersion: 'v2' },
      outcomeUnknown: true,
    });
  }
  return 'reversed';
}
