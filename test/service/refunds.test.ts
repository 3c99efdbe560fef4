import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import type { RefundResult } from '../../src/providers/provider.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { MERCHANT, orderRequest, paidOrder } from '../support/orders.ts';

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 0,
    (e: unknown) => (e instanceof PayError ? e.code : -1),
  );

const refundResult = (outRefundNo: string, overrides: Partial<RefundResult> = {}): RefundResult => ({
  merchantId: MERCHANT,
  provider: 'wxpay',
  outRefundNo,
  status: 'SUCCESS',
  refundId: `5030${outRefundNo}`,
  source: 'notify',
  raw: {},
  ...overrides,
});

describe.each(backends)('refunds on $name', (backend) => {
  let vkPay: VkPay;
  beforeAll(async () => {
    vkPay = await backend.open();
  });
  afterAll(async () => {
    await vkPay.close();
  });

  const refund = (outTradeNo: string, outRefundNo: string, refundFee: number) =>
    vkPay.startRefund({
      merchantId: MERCHANT,
      out_trade_no: outTradeNo,
      out_refund_no: outRefundNo,
      refund_fee: refundFee,
    });

  it('refunds in parts until the paid amount is used up', async () => {
    const order = await paidOrder(vkPay, { total_fee: 1000 });
    const first = await refund(order.outTradeNo, `${order.outTradeNo}-r1`, 300);
    expect(first).toMatchObject({ created: true, refund: { status: 'PROCESSING', refundFen: 300 } });
    await vkPay.applyRefundResult(refundResult(`${order.outTradeNo}-r1`));
    expect(await vkPay.getOrder(MERCHANT, order.outTradeNo)).toMatchObject({
      status: 'PARTIAL_REFUNDED',
      refundedFen: 300,
    });

    await refund(order.outTradeNo, `${order.outTradeNo}-r2`, 700);
    expect(await codeOf(refund(order.outTradeNo, `${order.outTradeNo}-r3`, 1))).toBe(40001);
    const done = await vkPay.applyRefundResult(refundResult(`${order.outTradeNo}-r2`));
    expect(done.order).toMatchObject({ status: 'REFUNDED', refundedFen: 1000 });
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).status).toBe('REFUNDED');
    expect((await vkPay.listRefunds(MERCHANT, order.outTradeNo)).map((r) => r.status)).toEqual([
      'SUCCESS',
      'SUCCESS',
    ]);
  });

  it('returns the same refund for the same out_refund_no, and refuses it for another amount', async () => {
    const order = await paidOrder(vkPay, { total_fee: 500 });
    const no = `${order.outTradeNo}-r`;
    const first = await refund(order.outTradeNo, no, 200);
    const again = await refund(order.outTradeNo, no, 200);
    expect(again.created).toBe(false);
    expect(again.refund.id).toBe(first.refund.id);
    expect(await codeOf(refund(order.outTradeNo, no, 201))).toBe(40001);
    const other = await paidOrder(vkPay, { total_fee: 500 });
    expect(await codeOf(refund(other.outTradeNo, no, 200))).toBe(40001);
    expect(await vkPay.listRefunds(MERCHANT, order.outTradeNo)).toHaveLength(1);
  });

  it('refuses refunds of unpaid or unknown orders and past the refundable amount', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    expect(await codeOf(refund(order.outTradeNo, `${order.outTradeNo}-r`, 1))).toBe(40001);
    expect(await codeOf(refund('NOSUCHORDER1', 'r-x', 1))).toBe(40005);
    const paid = await paidOrder(vkPay, { total_fee: 100 });
    expect(await codeOf(refund(paid.outTradeNo, `${paid.outTradeNo}-r`, 101))).toBe(40001);
  });

  it('a closed refund gives its amount back; an abnormal one keeps holding it', async () => {
    const order = await paidOrder(vkPay, { total_fee: 100 });
    await refund(order.outTradeNo, `${order.outTradeNo}-a`, 100);
    await vkPay.applyRefundResult(refundResult(`${order.outTradeNo}-a`, { status: 'ABNORMAL' }));
    expect(await codeOf(refund(order.outTradeNo, `${order.outTradeNo}-b`, 1))).toBe(40001);
    await vkPay.applyRefundResult(refundResult(`${order.outTradeNo}-a`, { status: 'CLOSED' }));
    const retry = await refund(order.outTradeNo, `${order.outTradeNo}-b`, 100);
    expect(retry.created).toBe(true);
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).refundedFen).toBe(0);
  });

  it('a duplicate refund result changes nothing, and a late older status is ignored', async () => {
    const order = await paidOrder(vkPay, { total_fee: 100 });
    const no = `${order.outTradeNo}-r`;
    await refund(order.outTradeNo, no, 40);
    expect((await vkPay.applyRefundResult(refundResult(no))).outcome).toBe('applied');
    expect((await vkPay.applyRefundResult(refundResult(no))).outcome).toBe('already_applied');
    expect((await vkPay.applyRefundResult(refundResult(no, { status: 'CLOSED' }))).outcome).toBe('ignored');
    expect(await vkPay.getOrder(MERCHANT, order.outTradeNo)).toMatchObject({
      refundedFen: 40,
      status: 'PARTIAL_REFUNDED',
    });
  });

  it('refuses a refund result with another amount', async () => {
    const order = await paidOrder(vkPay, { total_fee: 100 });
    const no = `${order.outTradeNo}-r`;
    await refund(order.outTradeNo, no, 40);
    expect(await codeOf(vkPay.applyRefundResult(refundResult(no, { refundFen: 41 })))).toBe(40001);
    expect((await vkPay.listRefunds(MERCHANT, order.outTradeNo))[0]!.status).toBe('PROCESSING');
  });

  it('50 concurrent partial refunds of one order never refund more than was paid', async () => {
    const order = await paidOrder(vkPay, { total_fee: 1000 });
    const attempts = await Promise.all(
      Array.from({ length: 50 }, (_, i) => codeOf(refund(order.outTradeNo, `${order.outTradeNo}-c${i}`, 70))),
    );
    const accepted = attempts.filter((code) => code === 0).length;
    expect(accepted).toBe(14); // 14 x 70 = 980 <= 1000 < 15 x 70
    expect(attempts.filter((code) => code === 40001)).toHaveLength(36);

    const refunds = await vkPay.listRefunds(MERCHANT, order.outTradeNo);
    await Promise.all(refunds.map((r) => vkPay.applyRefundResult(refundResult(r.outRefundNo))));
    const after = await vkPay.getOrder(MERCHANT, order.outTradeNo);
    expect(after).toMatchObject({ refundedFen: 980, status: 'PARTIAL_REFUNDED' });
  });

  it('concurrent successes of different refunds add up exactly', async () => {
    const order = await paidOrder(vkPay, { total_fee: 600 });
    for (let i = 0; i < 6; i++) await refund(order.outTradeNo, `${order.outTradeNo}-s${i}`, 100);
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => [
        vkPay.applyRefundResult(refundResult(`${order.outTradeNo}-s${i}`)),
        vkPay.applyRefundResult(refundResult(`${order.outTradeNo}-s${i}`, { source: 'query' })),
      ]).flat(),
    );
    expect(await vkPay.getOrder(MERCHANT, order.outTradeNo)).toMatchObject({
      refundedFen: 600,
      status: 'REFUNDED',
    });
  });
});
