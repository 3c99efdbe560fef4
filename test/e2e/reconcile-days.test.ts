/**
 * A week of reconciliation: trades on two days, one refund of every kind of disagreement, and days
 * the service was down. The job catches every missed day up, oldest first, records each day's
 * outcome, heals what asking the gateway settles and reviews the rest, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileDueDays } from '../../src/service/reconcile.ts';
import { backends } from '../support/backends.ts';
import { addDays, chinaDate } from '../support/days.ts';
import {
  eventually,
  MERCHANT,
  paidOrder as paidOrderAt,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const tradeNo = tradeNumbers('RW');
const at = (date: string, hour: number) => Date.parse(`${date}T${String(hour).padStart(2, '0')}:00:00+08:00`);

describe.each(backends)('a week of reconciliation on $name', (backend) => {
  let h: WxpayHarness;
  // The service's clock and the emulator's gateway clock move together; signatures keep real time.
  let clock = Date.now();
  const moveTo = async (instant: number) => {
    clock = instant;
    const moved = await h.control('POST', '/clock', { at: instant });
    expect(moved.status).toBe(200);
  };
  const day0 = addDays(chinaDate(Date.now()), -7);

  beforeAll(async () => {
    h = await startWxpayHarness(backend, { vkPay: { now: () => new Date(clock) } });
  });
  afterAll(async () => {
    await h?.control('POST', '/clock', { offsetMs: 0 });
    await h?.close();
  });

  const paidOrder = (totalFen: number) => paidOrderAt(h, tradeNo(), totalFen, { subject: '周对账' });
  const refund = (no: string, fen: number, suffix = 'R1') =>
    h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}${suffix}`,
      refund_fee: fen,
    });
  const refundStatus = async (no: string, suffix = 'R1') =>
    (await h.vkPay.listRefunds(MERCHANT, no)).find((r) => r.outRefundNo === `${no}${suffix}`)?.status;
  const setRefund = (outRefundNo: string, status: 'REFUSED' | 'CLOSED' | 'SUCCESS') =>
    h.vkPay.applyRefundResult({
      merchantId: MERCHANT,
      provider: 'wxpay',
      outRefundNo,
      status,
      source: 'query',
      raw: { setBy: 'test' },
    });

  it('catches every missed day up, heals what it can and reviews each disagreement once', async () => {
    await moveTo(at(day0, 11));
    await h.control('POST', '/faults', {
      channel: 'notify',
      kind: 'drop',
      eventType: 'REFUND.SUCCESS',
      times: 'always',
    });
    // 1. A refund whose notification was lost: PROCESSING here, SUCCESS in the bill.
    const lost = await paidOrder(500);
    await refund(lost, 100);
    await h.control('POST', `/refunds/${h.mchId}/${lost}R1/succeed`);
    // 2. A refund recorded here as refused that the gateway made.
    const misread = await paidOrder(500);
    await refund(misread, 200);
    await setRefund(`${misread}R1`, 'REFUSED');
    await h.control('POST', `/refunds/${h.mchId}/${misread}R1/succeed`);
    // 3. A refund closed here that the gateway made: no query settles it.
    const closed = await paidOrder(500);
    await refund(closed, 300);
    await setRefund(`${closed}R1`, 'CLOSED');
    await h.control('POST', `/refunds/${h.mchId}/${closed}R1/succeed`);
    // 4. A refund of another amount here than at the gateway.
    const amount = await paidOrder(500);
    await refund(amount, 400);
    await h.control('POST', `/refunds/${h.mchId}/${amount}R1/succeed`);
    await eventually(
      () => refundStatus(amount),
      (status) => status !== undefined,
    );
    await h.vkPay.store.db
      .updateTable('payment_refunds')
      .set({ refund_fee: 399 })
      .where('out_refund_no', '=', `${amount}R1`)
      .execute();
    // 5. A refund the gateway made that this service never asked for.
    const foreign = await paidOrder(500);
    await h.vkPay.context.providers.get('wxpay')!.refund({
      merchantId: MERCHANT,
      outTradeNo: foreign,
      outRefundNo: `${foreign}X9`,
      refundFen: 50,
      totalFen: 500,
      reason: null,
      notifyUrl: 'https://elsewhere.example/notify',
    });
    await h.control('POST', `/refunds/${h.mchId}/${foreign}X9/succeed`);
    // 6. A refund SUCCESS here that the gateway never made.
    const phantom = await paidOrder(500);
    await h.vkPay.startRefund({
      merchantId: MERCHANT,
      out_trade_no: phantom,
      out_refund_no: `${phantom}R1`,
      refund_fee: 60,
    });
    await setRefund(`${phantom}R1`, 'SUCCESS');

    // Day 3 has a payment of its own.
    await moveTo(at(addDays(day0, 3), 11));
    const later = await paidOrder(800);

    // The service runs on day 2 (after 10:00), is down on days 3 to 5, and runs again on day 6.
    await moveTo(at(addDays(day0, 2), 11));
    const first = await reconcileDueDays(h.vkPay.context);
    expect(first.map((report) => report.date)).toEqual([day0, addDays(day0, 1)]);
    await moveTo(at(addDays(day0, 6), 9));
    // Before 10:00 the newest bill is the day before yesterday's.
    const early = await reconcileDueDays(h.vkPay.context);
    expect(early.map((report) => report.date)).toEqual([2, 3, 4].map((n) => addDays(day0, n)));
    await moveTo(at(addDays(day0, 6), 11));
    const caughtUp = await reconcileDueDays(h.vkPay.context);
    expect(caughtUp.map((report) => report.date)).toEqual([addDays(day0, 5)]);
    expect(await reconcileDueDays(h.vkPay.context)).toEqual([]);

    const days = await h.vkPay.listReconciledDays({ provider: 'wxpay', merchantId: MERCHANT });
    expect(days.map((day) => [day.date, day.status])).toEqual(
      [5, 4, 3, 2, 1, 0].map((n) => [addDays(day0, n), 'DONE']),
    );
    const outcomeOf = (date: string) => days.find((day) => day.date === date)!.outcome;
    expect(outcomeOf(addDays(day0, 3))).toMatchObject({ payments: 1, matched: 1, mismatches: 0 });
    expect(outcomeOf(addDays(day0, 1))).toMatchObject({ payments: 0, refunds: 0, mismatches: 0 });
    expect(outcomeOf(day0)).toMatchObject({ payments: 6, refunds: 5, healed: 2, mismatches: 4 });

    expect(await refundStatus(lost)).toBe('SUCCESS');
    expect(await refundStatus(misread)).toBe('SUCCESS');
    expect(await refundStatus(closed)).toBe('CLOSED');
    const reasons = (await h.vkPay.listReviews(MERCHANT))
      .filter((review) => review.kind === 'bill_mismatch')
      .map((review) => [(review.details as { reason: string }).reason, review.outTradeNo])
      .sort();
    expect(reasons).toEqual(
      [
        ['refund_status', closed],
        ['amount', amount],
        ['unknown_refund', foreign],
        ['refund_missing_in_bill', phantom],
      ].sort(),
    );
    // Asked again for that day: the same four cases, no new reviews.
    const again = await h.vkPay.reconcile('wxpay', MERCHANT, day0);
    expect(again).toMatchObject({ healed: 0, mismatches: 4 });
    expect(
      (await h.vkPay.listReviews(MERCHANT)).filter((review) => review.kind === 'bill_mismatch'),
    ).toHaveLength(4);
    expect(later).toBeTruthy();
    await h.control('DELETE', '/faults');
  });

  it('shows each day to the operators', async () => {
    const answer = await h.app.inject({
      method: 'GET',
      url: `/admin/reconciliations?provider=wxpay&from=${day0}`,
    });
    expect(answer.statusCode).toBe(200);
    expect(answer.json().data.days.length).toBeGreaterThanOrEqual(6);
    const outsider = await h.app.inject({
      method: 'GET',
      url: '/admin/reconciliations',
      remoteAddress: '10.1.2.3',
    });
    expect(outsider.statusCode).toBe(403);
    const bad = await h.app.inject({ method: 'GET', url: '/admin/reconciliations?from=yesterday' });
    expect(bad.statusCode).toBe(400);
  });
});
