import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { APP_ID, countRows, MERCHANT, orderRequest, paidResult } from '../support/orders.ts';

const expectPayError = async (promise: Promise<unknown>, code: number) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PayError);
  expect((error as PayError).code).toBe(code);
  return error as PayError;
};

describe.each(backends)('payments on $name', (backend) => {
  let vkPay: VkPay;
  const handled: string[] = [];

  beforeAll(async () => {
    vkPay = await backend.open();
    // A merchant's wallet table, written by the recharge handler inside the payment's transaction.
    await sql`create table wallet_credits (out_trade_no text primary key, coins integer not null)`.execute(
      vkPay.store.db,
    );
    vkPay.onPaid('recharge', async ({ order, custom, tx }) => {
      handled.push(order.outTradeNo);
      await sql`insert into wallet_credits values (${order.outTradeNo}, ${Number(custom.coins)})`.execute(tx);
    });
    vkPay.onPaid('course', async () => true);
    vkPay.onPaid('flaky', () => true);
  });
  afterAll(async () => {
    await vkPay.close();
  });

  const credits = async (outTradeNo: string) =>
    (
      await sql<{
        coins: number;
      }>`select coins from wallet_credits where out_trade_no = ${outTradeNo}`.execute(vkPay.store.db)
    ).rows;

  it('creates an unpaid order, and the same request again returns the same order', async () => {
    const request = orderRequest();
    const first = await vkPay.createOrder(request);
    expect(first.created).toBe(true);
    expect(first.order).toMatchObject({
      status: 'NOTPAY',
      totalFen: 8880,
      refundedFen: 0,
      custom: { coins: 88 },
    });
    const again = await vkPay.createOrder(request);
    expect(again.created).toBe(false);
    expect(again.order.id).toBe(first.order.id);
  });

  it('refuses an out_trade_no reused for a different payment, and changes nothing', async () => {
    const request = orderRequest();
    const { order } = await vkPay.createOrder(request);
    const error = await expectPayError(vkPay.createOrder({ ...request, total_fee: 1 }), 40001);
    expect(error.field).toBe('out_trade_no');
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).totalFen).toBe(8880);
  });

  it('rejects bad input with every problem listed, and stores nothing', async () => {
    const error = await expectPayError(
      vkPay.createOrder(orderRequest({ out_trade_no: 'bad no', total_fee: -5, type: 'toys' })),
      40001,
    );
    expect((error.details as { problems: unknown[] }).problems).toHaveLength(3);
    await expectPayError(vkPay.getOrder(MERCHANT, 'bad no'), 40005);
  });

  it('accepts a merchant-registered order type', async () => {
    const { order } = await vkPay.createOrder(orderRequest({ type: 'course' }));
    expect(order.type).toBe('course');
  });

  it('marks the order paid and runs its handler in the same transaction', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    const outcome = await vkPay.applyPaymentResult(paidResult(order, { eventId: `evt-${order.outTradeNo}` }));
    expect(outcome.outcome).toBe('applied');
    expect(outcome.order).toMatchObject({
      status: 'SUCCESS',
      userOrderSuccess: true,
      transactionId: `4200${order.outTradeNo}`,
    });
    expect(await credits(order.outTradeNo)).toEqual([{ coins: 88 }]);
    expect(await countRows(vkPay, 'payment_notify_events', order.outTradeNo)).toBe(1);
    expect(await countRows(vkPay, 'payment_logs', order.outTradeNo)).toBeGreaterThanOrEqual(1);
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).status).toBe('SUCCESS');
  });

  it('a duplicate callback does not run the handler again', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    await vkPay.applyPaymentResult(paidResult(order));
    const again = await vkPay.applyPaymentResult(paidResult(order, { source: 'query' }));
    expect(again.outcome).toBe('already_applied');
    expect(handled.filter((no) => no === order.outTradeNo)).toHaveLength(1);
    expect(await credits(order.outTradeNo)).toHaveLength(1);
  });

  it('refuses a result whose amount differs from the order, leaves it unpaid and records the error', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    const error = await expectPayError(vkPay.applyPaymentResult(paidResult(order, { amountFen: 1 })), 40001);
    expect(error.field).toBe('amount');
    const after = await vkPay.store.db
      .selectFrom('payment_orders')
      .selectAll()
      .where('id', '=', order.id)
      .executeTakeFirstOrThrow();
    expect(after.status).toBe('NOTPAY');
    expect(after.version).toBe(order.version);
    expect(await credits(order.outTradeNo)).toEqual([]);
    expect(await countRows(vkPay, 'payment_errors', order.outTradeNo)).toBe(1);
  });

  it('refuses a result from another merchant or app as a signature problem', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    await expectPayError(vkPay.applyPaymentResult(paidResult(order, { mchId: '1230000109' })), 40002);
    await expectPayError(vkPay.applyPaymentResult(paidResult(order, { appId: `${APP_ID}x` })), 40002);
    await expectPayError(vkPay.applyPaymentResult(paidResult(order, { provider: 'alipay' })), 40002);
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).status).toBe('NOTPAY');
    expect(await countRows(vkPay, 'payment_errors', order.outTradeNo)).toBe(3);
  });

  it('answers 40005 for a result about an unknown order', async () => {
    await expectPayError(
      vkPay.applyPaymentResult(paidResult({ outTradeNo: 'NOSUCHORDER', totalFen: 1 })),
      40005,
    );
  });

  it('reports a second, different payment of a paid order for a refund instead of applying it', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    await vkPay.applyPaymentResult(paidResult(order));
    const error = await expectPayError(
      vkPay.applyPaymentResult(paidResult(order, { transactionId: 'another-payment' })),
      40006,
    );
    expect(error.details).toMatchObject({ second: 'another-payment' });
    expect(await credits(order.outTradeNo)).toHaveLength(1);
    // The second payment waits in the review queue, once however often the gateway reports it.
    const again = await expectPayError(
      vkPay.applyPaymentResult(paidResult(order, { transactionId: 'another-payment' })),
      40006,
    );
    expect((again.details as { reviewId: number }).reviewId).toBe(
      (error.details as { reviewId: number }).reviewId,
    );
    const reviews = await vkPay.listReviews(MERCHANT);
    expect(reviews.filter((review) => review.outTradeNo === order.outTradeNo)).toMatchObject([
      {
        kind: 'second_payment',
        reference: 'another-payment',
        amountFen: order.totalFen,
        status: 'OPEN',
        action: expect.stringContaining('refund the second payment'),
      },
    ]);
  });

  it('a handler that throws leaves the order unpaid, and a later retry succeeds', async () => {
    let failures = 1;
    vkPay.onPaid('vip', async ({ tx, order }) => {
      await sql`insert into wallet_credits values (${order.outTradeNo}, 1)`.execute(tx);
      if (failures-- > 0) throw new Error('vip service down');
    });
    const { order } = await vkPay.createOrder(orderRequest({ type: 'vip' }));
    const failed = await vkPay.applyPaymentResult(paidResult(order));
    expect(failed.outcome).toBe('handler_failed');
    expect(failed.order.status).toBe('NOTPAY');
    expect(await credits(order.outTradeNo)).toEqual([]);
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).status).toBe('NOTPAY');
    expect(await countRows(vkPay, 'payment_errors', order.outTradeNo)).toBe(1);

    const retried = await vkPay.applyPaymentResult(paidResult(order));
    expect(retried.outcome).toBe('applied');
    expect(await credits(order.outTradeNo)).toEqual([{ coins: 1 }]);
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).status).toBe('SUCCESS');
  });

  it('a handler that returns false counts as a failure', async () => {
    vkPay.onPaid('goods', () => false);
    const { order } = await vkPay.createOrder(orderRequest({ type: 'goods' }));
    expect((await vkPay.applyPaymentResult(paidResult(order))).outcome).toBe('handler_failed');
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).status).toBe('NOTPAY');
  });

  it('closes an unpaid order, and a closed order cannot be paid or reused', async () => {
    const request = orderRequest();
    const { order } = await vkPay.createOrder(request);
    const closed = await vkPay.applyPaymentResult(
      paidResult(order, { status: 'CLOSED', transactionId: null, source: 'query' }),
    );
    expect(closed.outcome).toBe('applied');
    expect(closed.order.status).toBe('CLOSED');
    expect(closed.order.closedAt).not.toBeNull();
    const late = await expectPayError(vkPay.applyPaymentResult(paidResult(order)), 40006);
    await expectPayError(vkPay.createOrder(request), 40001);
    expect(await credits(order.outTradeNo)).toEqual([]);
    // The money arrived all the same: a person decides, and says what was done.
    const [review] = (await vkPay.listReviews(MERCHANT)).filter((r) => r.outTradeNo === order.outTradeNo);
    expect(review).toMatchObject({
      id: (late.details as { reviewId: number }).reviewId,
      kind: 'paid_after_close',
    });
    const resolved = await vkPay.resolveReview(MERCHANT, review!.id, 'refunded at the gateway');
    expect(resolved).toMatchObject({ status: 'RESOLVED', note: 'refunded at the gateway' });
    expect(resolved.resolveDate).not.toBeNull();
    await expectPayError(vkPay.resolveReview(MERCHANT, review!.id, 'again'), 40001);
    await expectPayError(vkPay.resolveReview('another-merchant', review!.id, 'not mine'), 40005);
    await expectPayError(vkPay.resolveReview(MERCHANT, review!.id + 100000, 'no such'), 40005);
    expect((await vkPay.listReviews(MERCHANT)).some((r) => r.id === review!.id)).toBe(false);
    expect((await vkPay.listReviews(MERCHANT, { status: 'RESOLVED' })).map((r) => r.id)).toContain(
      review!.id,
    );
  });

  it('never moves a paid order back to unpaid', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    await vkPay.applyPaymentResult(paidResult(order));
    const stale = await vkPay.applyPaymentResult(paidResult(order, { status: 'NOTPAY', source: 'query' }));
    expect(stale.outcome).toBe('ignored');
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).status).toBe('SUCCESS');
  });

  it('refuses to pay an already paid order again', async () => {
    const request = orderRequest();
    const { order } = await vkPay.createOrder(request);
    await vkPay.applyPaymentResult(paidResult(order));
    await expectPayError(vkPay.createOrder(request), 40006);
  });

  it('200 concurrent applications of one successful result run the handler exactly once', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        vkPay.applyPaymentResult(paidResult(order, { source: i % 2 ? 'query' : 'notify' })),
      ),
    );
    const counts = outcomes.reduce<Record<string, number>>((acc, o) => {
      acc[o.outcome] = (acc[o.outcome] ?? 0) + 1;
      return acc;
    }, {});
    expect(counts).toEqual({ applied: 1, already_applied: 199 });
    expect(handled.filter((no) => no === order.outTradeNo)).toHaveLength(1);
    expect(await credits(order.outTradeNo)).toEqual([{ coins: 88 }]);
  });

  it('concurrent applications behind a failing first handler still pay the order exactly once', async () => {
    let calls = 0;
    const succeeded: string[] = [];
    vkPay.onPaid('flaky', async ({ order, tx }) => {
      calls += 1;
      await sql`insert into wallet_credits values (${order.outTradeNo}, 5)`.execute(tx);
      if (calls === 1) throw new Error('first attempt fails');
      succeeded.push(order.outTradeNo);
    });
    const { order } = await vkPay.createOrder(orderRequest({ type: 'flaky' }));
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, () => vkPay.applyPaymentResult(paidResult(order))),
    );
    const counts = outcomes.reduce<Record<string, number>>((acc, o) => {
      acc[o.outcome] = (acc[o.outcome] ?? 0) + 1;
      return acc;
    }, {});
    expect(counts).toEqual({ handler_failed: 1, applied: 1, already_applied: 28 });
    expect(succeeded).toEqual([order.outTradeNo]);
    expect(await credits(order.outTradeNo)).toEqual([{ coins: 5 }]);
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).status).toBe('SUCCESS');
  });

  it('keeps the cache in step with every state change', async () => {
    const { order } = await vkPay.createOrder(orderRequest());
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).status).toBe('NOTPAY');
    await vkPay.applyPaymentResult(paidResult(order));
    expect((await vkPay.getOrder(MERCHANT, order.outTradeNo)).status).toBe('SUCCESS');
  });
});
