/** Builders for orders and gateway results in service tests. */
import type { PaymentResult } from '../../src/providers/provider.ts';
import type { CreateOrderRequest } from '../../src/service/payments.ts';
import type { VkPay } from '../../src/vk-pay.ts';

export const MERCHANT = 'shop1';
export const MCH_ID = '1900000109';
export const APP_ID = 'wxd678efh567hg6787';

let sequence = 0;
export function nextTradeNo(prefix = 'T'): string {
  sequence += 1;
  return `${prefix}${Date.now().toString(36)}${sequence.toString().padStart(5, '0')}`;
}

export function orderRequest(overrides: Partial<CreateOrderRequest> = {}): CreateOrderRequest {
  return {
    merchantId: MERCHANT,
    mchId: MCH_ID,
    appId: APP_ID,
    out_trade_no: nextTradeNo(),
    total_fee: 8880,
    subject: '会员充值',
    type: 'recharge',
    provider: 'wxpay',
    scene: 'native',
    user_id: 'u-1',
    custom: { coins: 88 },
    ...overrides,
  };
}

export function paidResult(
  order: { outTradeNo: string; totalFen: number },
  overrides: Partial<PaymentResult> = {},
): PaymentResult {
  return {
    merchantId: MERCHANT,
    provider: 'wxpay',
    outTradeNo: order.outTradeNo,
    transactionId: `4200${order.outTradeNo}`,
    amountFen: order.totalFen,
    status: 'SUCCESS',
    mchId: MCH_ID,
    appId: APP_ID,
    source: 'notify',
    raw: { trade_state: 'SUCCESS' },
    ...overrides,
  };
}

/** Creates an order and marks it paid. */
export async function paidOrder(vkPay: VkPay, overrides: Partial<CreateOrderRequest> = {}) {
  const { order } = await vkPay.createOrder(orderRequest(overrides));
  const applied = await vkPay.applyPaymentResult(paidResult(order, { merchantId: order.merchantId }));
  if (applied.outcome !== 'applied') throw new Error(`could not pay ${order.outTradeNo}: ${applied.outcome}`);
  return applied.order;
}

/** Rows of a table matching a column value, for asserting on what the service recorded. */
export async function countRows(
  vkPay: VkPay,
  table: 'payment_logs' | 'payment_errors' | 'payment_notify_events',
  outTradeNo: string,
): Promise<number> {
  const row = await vkPay.store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('out_trade_no', '=', outTradeNo)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
