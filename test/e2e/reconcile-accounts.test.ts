/**
 * Reconciliation of a merchant with two WeChat Pay accounts, a route sending some payments to the
 * second: each account's bill is downloaded through its own credentials and matched with the
 * orders and refunds that account took, its day recorded and its mismatches reported on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconciliationDays } from '../../src/console/reviews.ts';
import { reconcileDueDays } from '../../src/service/reconcile.ts';
import type { Route } from '../../src/service/routing.ts';
import { backends } from '../support/backends.ts';
import { addDays, chinaDate, noonOf, pastDay, userOn } from '../support/days.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

const tradeNo = tradeNumbers('RA');
const ROUTE: Route = {
  id: 'wx-second-account',
  match: { provider: 'wxpay' },
  stable: 'default',
  canary: 'canary',
  share: 50,
};

describe.each(backends)('reconciliation of every gateway account of a merchant on $name', (backend) => {
  let h: WxpayHarness;
  /** The service's clock: the real one unless a test moves it. */
  let clock: number | undefined;
  const date = pastDay();

  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      wxpayAccounts: ['canary'],
      vkPay: { routes: { [MERCHANT]: [ROUTE] }, now: () => new Date(clock ?? Date.now()) },
    });
    h.vkPay.onPaid('goods', () => {});
  });
  afterAll(async () => {
    await h?.control('POST', '/clock', { offsetMs: 0 });
    await h?.close();
  });

  let users = 0;
  /** Pays an order on `side` of the route, through the account the route chose. */
  const paid = async (side: 'stable' | 'canary', totalFen: number): Promise<string> => {
    const no = tradeNo();
    users += 1;
    const answer = await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: totalFen,
      subject: '多账户对账',
      type: 'goods',
      user_id: userOn(ROUTE, side, { from: users * 100 }),
    });
    const account = side === 'stable' ? 'default' : 'canary';
    expect(answer.order.account).toBe(account);
    await h.control('POST', `/trades/${h.accounts[account]!.mchId}/${no}/pay`);
    await eventually(
      () => h.vkPay.getOrder(MERCHANT, no),
      (order) => order.status === 'SUCCESS',
    );
    return no;
  };
  const billMismatches = async () =>
    (await h.vkPay.listReviews(MERCHANT)).filter((review) => review.kind === 'bill_mismatch');
  const byAccount = (reports: Array<{ account: string }>) =>
    Object.fromEntries(reports.map((report) => [report.account, report]));

  it("matches each account's bill with that account's payments and refunds: no mismatch", async () => {
    let refunded = '';
    await h.control('POST', '/clock', { at: noonOf(date) });
    try {
      await paid('stable', 1000);
      await paid('stable', 600);
      refunded = await paid('canary', 800);
      await paid('canary', 400);
      // A refund of a canary order goes through the canary account, and is in its bill.
      await h.vkPay.refund({
        merchantId: MERCHANT,
        out_trade_no: refunded,
        out_refund_no: `${refunded}R1`,
        refund_fee: 300,
      });
      await h.control('POST', `/refunds/${h.accounts.canary!.mchId}/${refunded}R1/succeed`);
      await eventually(
        async () => (await h.vkPay.listRefunds(MERCHANT, refunded))[0]?.status,
        (status) => status === 'SUCCESS',
      );
    } finally {
      await h.control('POST', '/clock', { offsetMs: 0 });
    }

    const report = await h.vkPay.reconcile('wxpay', MERCHANT, date);
    expect(report).toMatchObject({ payments: 4, refunds: 1, matched: 5, healed: 0, mismatches: 0 });
    expect(report.accounts.map((each) => each.account)).toEqual(['default', 'canary']);
    expect(byAccount(report.accounts)).toMatchObject({
      default: { payments: 2, paymentsFen: 1600, refunds: 0, matched: 2, mismatches: 0 },
      canary: { payments: 2, paymentsFen: 1200, refunds: 1, refundsFen: 300, matched: 3, mismatches: 0 },
    });
    expect(await billMismatches()).toEqual([]);

    // One reconciled day per account; the listing filters by account.
    const listed = await h.app.inject({ method: 'GET', url: `/admin/reconciliations?merchant=${MERCHANT}` });
    expect(listed.statusCode).toBe(200);
    const days = listed.json().data.days as Array<{ provider: string; account: string; date: string }>;
    expect(days.map((day) => [day.provider, day.account, day.date]).sort()).toEqual(
      [
        ['wxpay', 'canary', date],
        ['wxpay', 'default', date],
      ].sort(),
    );
    for (const [query, account] of [
      ['account=canary', 'canary'],
      ['provider=wxpay&account=default', 'default'],
    ] as const) {
      const only = await h.app.inject({ method: 'GET', url: `/admin/reconciliations?${query}` });
      expect(
        (only.json().data.days as Array<{ account: string }>).map((day) => day.account),
        query,
      ).toEqual([account]);
    }
    const wxpayDays = await h.app.inject({ method: 'GET', url: '/admin/reconciliations?provider=wxpay' });
    expect(wxpayDays.json().data.days).toHaveLength(2);
  });

  it('reports a payment missing from the second account’s bill for that account only', async () => {
    // Paid here through the canary account (a result that never came from the gateway).
    const phantom = tradeNo();
    const answer = await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: phantom,
      total_fee: 900,
      subject: '多账户对账',
      type: 'goods',
      user_id: userOn(ROUTE, 'canary', { from: 10_000 }),
    });
    expect(answer.order.account).toBe('canary');
    await h.vkPay.applyPaymentResult({
      merchantId: MERCHANT,
      provider: 'wxpay',
      outTradeNo: phantom,
      status: 'SUCCESS',
      transactionId: '4200000000000000000000000077',
      amountFen: 900,
      mchId: h.accounts.canary!.mchId,
      appId: h.accounts.canary!.appId,
      paidAt: new Date(noonOf(date)),
      source: 'query',
      raw: null,
    });

    const all = await h.app.inject({
      method: 'POST',
      url: '/admin/reconcile',
      payload: { provider: 'wxpay', merchant: MERCHANT, date },
    });
    expect(all.statusCode).toBe(200);
    expect(all.json().data).toMatchObject({ matched: 5, mismatches: 1 });
    expect(byAccount(all.json().data.accounts)).toMatchObject({
      default: { matched: 2, mismatches: 0 },
      canary: { matched: 3, mismatches: 1 },
    });
    const reviews = await billMismatches();
    expect(reviews.map((review) => [review.outTradeNo, review.details])).toEqual([
      [phantom, expect.objectContaining({ date, account: 'canary', reason: 'missing_in_bill' })],
    ]);

    // The canary account alone: the same case, no new review; an account the merchant lacks is refused.
    const one = await h.app.inject({
      method: 'POST',
      url: '/admin/reconcile',
      payload: { provider: 'wxpay', merchant: MERCHANT, account: 'canary', date },
    });
    expect(one.statusCode).toBe(200);
    expect(one.json().data).toMatchObject({
      mismatches: 1,
      accounts: [{ account: 'canary', mismatches: 1 }],
    });
    expect(await billMismatches()).toHaveLength(1);
    const unknown = await h.app.inject({
      method: 'POST',
      url: '/admin/reconcile',
      payload: { provider: 'wxpay', merchant: MERCHANT, account: 'nope', date },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ code: 40001, field: 'account' });

    // The console's days: each account's day carries its own mismatches.
    const days = await reconciliationDays(h.vkPay.context, { merchantIds: [MERCHANT], from: date, to: date });
    expect(
      days.map((day) => [
        day.account,
        (day.outcome as { mismatches: number }).mismatches,
        day.mismatches.length,
      ]),
    ).toEqual(
      expect.arrayContaining([
        ['default', 0, 0],
        ['canary', 1, 1],
      ]),
    );
    expect(days).toHaveLength(2);
  });

  it('a payment billed to one account but taken here through another is reported as such', async () => {
    let no = '';
    await h.control('POST', '/clock', { at: noonOf(date) });
    try {
      no = await paid('stable', 700);
      // The same order number paid at the canary account too, by a request made elsewhere.
      await h.vkPay.context.providers.get('wxpay')!.createPayment({
        merchantId: MERCHANT,
        account: 'canary',
        outTradeNo: no,
        totalFen: 700,
        subject: '别处下的单',
        scene: 'native',
        notifyUrl: 'https://elsewhere.example/notify',
      });
      await h.control('POST', `/trades/${h.accounts.canary!.mchId}/${no}/pay`);
    } finally {
      await h.control('POST', '/clock', { offsetMs: 0 });
    }
    const report = await h.vkPay.reconcile('wxpay', MERCHANT, date);
    expect(byAccount(report.accounts)).toMatchObject({
      default: { payments: 3, matched: 3, mismatches: 0 },
      canary: { payments: 3, matched: 3, mismatches: 2 },
    });
    const crossed = (await billMismatches()).filter((review) => review.outTradeNo === no);
    expect(crossed.map((review) => review.details)).toEqual([
      expect.objectContaining({ account: 'canary', reason: 'other_account', ourAccount: 'default' }),
    ]);
  });

  it("the daily job reconciles every account's bill", async () => {
    // Paid today through the canary account; the job reaches today's bills tomorrow at 11:00.
    await paid('canary', 500);
    const tomorrow11 = Date.parse(`${addDays(chinaDate(Date.now()), 1)}T11:00:00+08:00`);
    clock = tomorrow11;
    await h.control('POST', '/clock', { at: tomorrow11 });
    try {
      const reports = await reconcileDueDays(h.vkPay.context);
      const today = addDays(chinaDate(tomorrow11), -1);
      expect(reports.map((report) => [report.account, report.date]).sort()).toEqual(
        [
          ['canary', today],
          ['default', today],
        ].sort(),
      );
      // The canary refund of the first test was asked for here today (the service's clock) but made
      // on the past day at the gateway (its clock): today's canary bill lacks it, default's is clean.
      expect(byAccount(reports)).toMatchObject({
        default: { payments: 0, mismatches: 0 },
        canary: { payments: 1, matched: 1, mismatches: 1 },
      });
      const todays = (await billMismatches()).filter(
        (review) => (review.details as { date: string }).date === today,
      );
      expect(todays.map((review) => review.details)).toEqual([
        expect.objectContaining({ account: 'canary', reason: 'refund_missing_in_bill' }),
      ]);
      expect(await reconcileDueDays(h.vkPay.context)).toEqual([]);
      const days = await h.vkPay.listReconciledDays({ from: today, to: today });
      expect(days.map((day) => [day.account, day.status]).sort()).toEqual(
        [
          ['canary', 'DONE'],
          ['default', 'DONE'],
        ].sort(),
      );
    } finally {
      clock = undefined;
      await h.control('POST', '/clock', { offsetMs: 0 });
    }
  });
});
