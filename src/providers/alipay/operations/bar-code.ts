/**
 * alipay.trade.pay with scene=bar_code: the counter scanned the buyer's payment code. Code 10000
 * is paid, 10003 is the buyer confirming (WAIT_BUYER_PAY: poll the query). A refusal is a PayError
 * (ACQ.PAYMENT_AUTH_CODE_INVALID 40001, ACQ.BUYER_BALANCE_NOT_ENOUGH 40007, ACQ.TRADE_HAS_SUCCESS
 * 40006...). A system error or a timeout leaves the outcome unknown: sent once, never resent (the
 * code is single-use), settled by query and then trade.cancel.
 */
import { PayError, type PaymentCodeRefusal, paymentCodeRefused } from '../../../core/errors.ts';
import type { CreatedPayment, PaymentOrder, PaymentResult } from '../../provider.ts';
import type { AlipayContext } from '../context.ts';
import { PENDING_CODE } from '../errors.ts';
import { parseBeijingTime } from '../sign.ts';
import { fenOf, malformed } from './results.ts';

export const BAR_CODE_PRODUCT = 'FACE_TO_FACE_PAYMENT';

/** Refusals of the buyer's code, with words for the counter (the unified code stays as the table's). */
const REFUSALS: Readonly<Record<string, PaymentCodeRefusal>> = {
  'ACQ.PAYMENT_AUTH_CODE_INVALID': 'code_invalid',
  'ACQ.BUYER_BALANCE_NOT_ENOUGH': 'insufficient_balance',
  'ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH': 'insufficient_balance',
};

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** The answer as kept with the order: the payment code is the buyer's, never kept or logged. */
function withoutAuthCode(response: Record<string, unknown>): Record<string, unknown> {
  const { auth_code: _authCode, ...rest } = response;
  return rest;
}

export async function barCodePay(
  context: AlipayContext,
  order: PaymentOrder,
  biz: Record<string, unknown>,
): Promise<CreatedPayment> {
  const { merchant } = context;
  if (!order.authCode) {
    throw new PayError(40001, {
      field: 'auth_code',
      message: "alipay micropay needs the buyer's payment code",
    });
  }
  // time_expire is for trades the buyer pays later; a bar-code trade is settled at the counter.
  const { time_expire: _timeExpire, ...trade } = biz;
  let reply: Awaited<ReturnType<typeof context.transport.call>>;
  try {
    reply = await context.transport.call({
      method: 'alipay.trade.pay',
      bizContent: { ...trade, scene: 'bar_code', auth_code: order.authCode },
      write: true,
      once: true,
      notifyUrl: order.notifyUrl,
    });
  } catch (error) {
    const gatewayCode = error instanceof PayError ? error.gatewayCode : undefined;
    const refusal = gatewayCode ? REFUSALS[gatewayCode] : undefined;
    if (!gatewayCode || !refusal) throw error;
    const { message, details } = error as PayError;
    throw paymentCodeRefused(refusal, { gatewayCode, message, details });
  }
  const answer = withoutAuthCode(reply.response);
  const outTradeNo = text(answer.out_trade_no);
  if (outTradeNo !== null && outTradeNo !== order.outTradeNo) throw malformed('pay answer', 'out_trade_no');
  const waiting = reply.code === PENDING_CODE;
  const status = answer.trade_status;
  if (!waiting && status !== undefined && status !== 'TRADE_SUCCESS' && status !== 'TRADE_FINISHED') {
    throw malformed('pay answer', 'trade_status');
  }
  const transactionId = text(answer.trade_no);
  if (!waiting && !transactionId) throw malformed('pay answer', 'trade_no');
  const result: PaymentResult = {
    merchantId: merchant.merchantId,
    provider: 'alipay',
    outTradeNo: order.outTradeNo,
    transactionId,
    amountFen:
      answer.total_amount === undefined && waiting
        ? order.totalFen
        : fenOf(answer.total_amount, 'total_amount', 'pay answer'),
    status: waiting ? 'USERPAYING' : 'SUCCESS',
    mchId: merchant.sellerId ? text(answer.seller_id) : null,
    appId: merchant.appId,
    paidAt: waiting ? null : parseBeijingTime(answer.gmt_payment),
    eventId: null,
    source: 'query',
    raw: answer,
  };
  return { client: { scene: 'micropay' }, prepayId: transactionId, result, raw: answer };
}
