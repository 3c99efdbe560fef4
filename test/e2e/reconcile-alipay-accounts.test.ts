/**
 * Reconciliation of a merchant with two Alipay apps, a route sending some payments to the second:
 * each app's bill (a zip of GBK files) is downloaded with its own keys and matched with the orders
 * and refunds that app took; a payment billed to one app but taken here through the other is
 * reported as such.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../src/service/routing.ts';
import { backends } from '../support/backends.ts';
import { noonOf, pastDay, userOn } from '../support/days.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

const tradeNo = tradeNumbers('RB');
const ROUTE: Route = {
  id: 'ali-second-app',
  match: { provider: 'alipay' },
  stable: 'default',
  canary: 'second',
  share: 50,
};

describe.each(backends)('reconciliation of every Alipay app of a merchant on $name', (backend) => {
  let h: WxpayHarness;
  const date = pastDay();

  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      alipayAccounts: ['second'],
      vkPay: { routes: { [MERCHANT]: [ROUTE] } },
    });
    h.vkPay.onPaid('goods', () => {});
  });
  afterAll(async () => {
    await h?.alipay.control('POST', '/clock', { offsetMs: 0 });
    await h?.close();
  });

  const appOf = (account: string) => h.alipay.accounts[account]!.appId;
  let users = 0;
  /** Pays an order on `side` of the route, through the app the route chose, on the gateway's clock. */
  const paid = async (side: 'stable' | 'canary', totalFen: number): Promise<string> => {
    const no = tradeNo();
    users += 1;
    const answer = await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'alipay',
      scene: 'native',
      out_trade_no: no,
      total_fee: totalFen,
      subject: '支付宝多应用对账',
      type: 'goods',
      user_id: userOn(ROUTE, side, { from: users * 100 }),
    });
    const account = side === 'stable' ? 'default' : 'second';
    expect(answer.order.account).toBe(account);
    expect((await h.alipay.control('POST', `/trades/${appOf(account)}/${no}/scan`)).status).toBe(200);
    expect((await h.alipay.control('POST', `/trades/${appOf(account)}/${no}/pay`)).status).toBe(200);
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

  it("matches each app's bill with that app's payments and refunds: no mismatch", async () => {
    await h.alipay.control('POST', '/clock', { at: noonOf(date) });
    try {
      await paid('stable', 1000);
      const refunded = await paid('canary', 800);
      await paid('canary', 400);
      // A refund of an order of the second app goes through that app, and is in its bill.
      const refund = await h.vkPay.refund({
        merchantId: MERCHANT,
        out_trade_no: refunded,
        out_refund_no: `${refunded}R1`,
        refund_fee: 300,
      });
      expect(refund.refund.status).toBe('SUCCESS');
    } finally {
      await h.alipay.control('POST', '/clock', { offsetMs: 0 });
    }

    const report = await h.vkPay.reconcile('alipay', MERCHANT, date);
    expect(report).toMatchObject({ payments: 3, refunds: 1, matched: 4, healed: 0, mismatches: 0 });
    expect(report.accounts.map((each) => each.account)).toEqual(['default', 'second']);
    expect(byAccount(report.accounts)).toMatchObject({
      default: { payments: 1, paymentsFen: 1000, refunds: 0, matched: 1, mismatches: 0 },
      second: { payments: 2, paymentsFen: 1200, refunds: 1, refundsFen: 300, matched: 3, mismatches: 0 },
    });
    expect(await billMismatches()).toEqual([]);
    const days = await h.vkPay.listReconciledDays({ from: date, to: date });
    expect(
      days
        .filter((day) => day.provider === 'alipay')
        .map((day) => [day.account, day.status])
        .sort(),
    ).toEqual(
      [
        ['default', 'DONE'],
        ['second', 'DONE'],
      ].sort(),
    );
  });

  it('a payment billed to one app but taken here through the other is reported as such', async () => {
    let no = '';
    await h.alipay.control('POST', '/clock', { at: noonOf(date) });
    try {
      no = await paid('stable', 700);
      // The same order number paid at the second app too, by a request made elsewhere.
      await h.vkPay.context.providers.get('alipay')!.createPayment({
        merchantId: MERCHANT,
        account: 'second',
        outTradeNo: no,
        totalFen: 700,
        subject: '别处下的单',
        scene: 'native',
        notifyUrl: 'https://elsewhere.example/notify',
      });
      expect((await h.alipay.control('POST', `/trades/${appOf('second')}/${no}/scan`)).status).toBe(200);
      expect((await h.alipay.control('POST', `/trades/${appOf('second')}/${no}/pay`)).status).toBe(200);
    } finally {
      await h.alipay.control('POST', '/clock', { offsetMs: 0 });
    }
    const report = await h.vkPay.reconcile('alipay', MERCHANT, date);
    expect(byAccount(report.accounts)).toMatchObject({
      default: { payments: 2, matched: 2, mismatches: 0 },
      second: { payments: 3, mismatches: 1 },
    });
    const crossed = (await billMismatches()).filter((review) => review.outTradeNo === no);
    expect(crossed.map((review) => review.details)).toEqual([
      expect.objectContaining({ account: 'second', reason: 'other_account', ourAccount: 'default' }),
    ]);
  });
});
