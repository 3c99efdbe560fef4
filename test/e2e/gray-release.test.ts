import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../src/service/routing.ts';
import { backends } from '../support/backends.ts';
import { userOn as userOnRoute } from '../support/days.ts';
import { signed } from '../support/signed-client.ts';
import {
  API_APP,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const tradeNo = tradeNumbers('GR');
const ROUTE: Route = {
  id: 'wx-new-account',
  match: { provider: 'wxpay' },
  stable: 'default',
  canary: 'canary',
  share: 10,
};

const userOn = (side: 'stable' | 'canary') => userOnRoute(ROUTE, side);

describe.each(backends)('gray release of a WeChat Pay account on $name', (backend) => {
  let h: WxpayHarness;

  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      wxpayAccounts: ['canary'],
      vkPay: { routes: { [MERCHANT]: [ROUTE] } },
    });
    h.vkPay.onPaid('goods', () => {});
  });
  afterAll(async () => {
    await h?.close();
  });

  const pay = (no: string, userId: string) =>
    h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 1000,
      subject: 'gray',
      type: 'goods',
      user_id: userId,
    });
  const status = (no: string) => h.vkPay.getOrder(MERCHANT, no);

  it('a 10 % rollout pays on both sides, each order through the account its route chose', async () => {
    const stableNo = tradeNo();
    const canaryNo = tradeNo();
    const stable = await pay(stableNo, userOn('stable'));
    const canary = await pay(canaryNo, userOn('canary'));
    expect(stable.order).toMatchObject({ account: 'default', route: ROUTE.id, variant: 'stable' });
    expect(canary.order).toMatchObject({ account: 'canary', route: ROUTE.id, variant: 'canary' });

    // Each trade exists at its own gateway merchant only.
    const { default: first, canary: second } = h.accounts;
    expect((await h.control('POST', `/trades/${second!.mchId}/${stableNo}/pay`)).status).not.toBe(200);
    expect((await h.control('POST', `/trades/${first!.mchId}/${stableNo}/pay`)).status).toBe(200);
    expect((await h.control('POST', `/trades/${second!.mchId}/${canaryNo}/pay`)).status).toBe(200);

    // Both callbacks arrive (the canary's at /notify/wxpay/shop1/canary) and verify with their own keys.
    for (const no of [stableNo, canaryNo])
      await eventually(
        () => status(no),
        (order) => order.status === 'SUCCESS',
      );
    expect(await status(canaryNo)).toMatchObject({ status: 'SUCCESS', account: 'canary' });
    const events = await h.vkPay.store.db
      .selectFrom('payment_notify_events')
      .select('out_trade_no')
      .where('out_trade_no', 'in', [stableNo, canaryNo])
      .execute();
    expect(events).toHaveLength(2);

    // /admin/stats puts the route's two sides side by side, each with its own account.
    const stats = (await h.app.inject({ method: 'GET', url: '/admin/stats' })).json().data;
    const side = (variant: 'stable' | 'canary') => ({
      orders: { created: 1, paid: 1, closed: 0, conversion: 1 },
      payments: { calls: 1, succeeded: 1, errors: 0, successRate: 1, errorRate: 0 },
      gateway: { calls: 1, p95Ms: expect.any(Number) },
      account: variant === 'stable' ? 'default' : 'canary',
    });
    expect(stats.routes).toEqual([
      {
        merchantId: MERCHANT,
        route: ROUTE.id,
        configured: true,
        stable: expect.objectContaining(side('stable')),
        canary: expect.objectContaining(side('canary')),
      },
    ]);
    // The metrics carry the route and side of each gateway call.
    const metrics = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    for (const variant of ['stable', 'canary'])
      expect(metrics).toContain(
        `vkpay_gateway_call_seconds_count{provider="wxpay",operation="create",result="ok",route="${ROUTE.id}",variant="${variant}"} 1`,
      );
  });

  it('the same user always lands on the same side, and a repeated request keeps its account', async () => {
    const user = userOn('canary');
    const a = await pay(tradeNo(), user);
    const b = await pay(tradeNo(), user);
    expect([a.order.account, b.order.account]).toEqual(['canary', 'canary']);
    const again = await pay(a.order.outTradeNo, user);
    expect(again.order).toMatchObject({ id: a.order.id, account: 'canary' });
  });

  it('queries, closes and refunds of a canary order go through the canary account', async () => {
    const user = userOn('canary');
    const unpaid = tradeNo();
    await pay(unpaid, user);
    expect((await h.vkPay.queryPayment(MERCHANT, unpaid)).order.status).toBe('NOTPAY');
    expect((await h.vkPay.closePayment(MERCHANT, unpaid)).status).toBe('CLOSED');
    const canaryMch = h.accounts.canary!.mchId;
    // Closed at the canary merchant: it cannot be paid there any more.
    expect((await h.control('POST', `/trades/${canaryMch}/${unpaid}/pay`)).status).not.toBe(200);

    const no = tradeNo();
    await pay(no, user);
    await h.control('POST', `/trades/${canaryMch}/${no}/pay`);
    await eventually(
      () => status(no),
      (order) => order.status === 'SUCCESS',
    );
    const started = await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 400,
    });
    expect(started.refund.status).toBe('PROCESSING');
    expect((await h.control('POST', `/refunds/${canaryMch}/${no}R1/succeed`)).status).toBe(200);
    const refunded = await eventually(
      () => status(no),
      (order) => order.refundedFen === 400,
    );
    expect(refunded).toMatchObject({ status: 'PARTIAL_REFUNDED', account: 'canary' });
    expect((await h.vkPay.queryRefund(MERCHANT, `${no}R1`)).refund.status).toBe('SUCCESS');
  });

  it('a callback for an account the merchant does not have is answered as for an unknown merchant', async () => {
    const no = tradeNo();
    await pay(no, userOn('canary'));
    const outcome = await h.vkPay.handleNotify({
      provider: 'wxpay',
      merchantId: MERCHANT,
      account: 'nope',
      headers: {},
      rawBody: Buffer.from('{}'),
    });
    expect(outcome).toMatchObject({ outcome: 'unknown_merchant', ack: { status: 404 } });
  });

  // Last: it leaves the route rolled back.
  it('a rollback sends new payments to stable and closes the canary side at the gateway; a failed close opens a review', async () => {
    const canaryUser = userOn('canary');
    const canaryMch = h.accounts.canary!.mchId;
    const unpaid = [tradeNo(), tradeNo()];
    const stuck = tradeNo();
    const paidNo = tradeNo();
    for (const no of [...unpaid, stuck, paidNo]) await pay(no, canaryUser);
    await h.control('POST', `/trades/${canaryMch}/${paidNo}/pay`);
    await eventually(
      () => status(paidNo),
      (order) => order.status === 'SUCCESS',
    );
    const stableNo = tradeNo();
    await pay(stableNo, userOn('stable'));
    await h.control('POST', '/faults', {
      kind: 'signTest',
      operation: 'close',
      outTradeNo: stuck,
      times: 'always',
    });

    const unknown = await h.app.inject(signed(API_APP, 'POST', '/api/routes/nope/rollback', {}));
    expect(unknown.json()).toMatchObject({ code: 40005 });
    const response = await h.app.inject(signed(API_APP, 'POST', `/api/routes/${ROUTE.id}/rollback`, {}));
    await h.control('DELETE', '/faults');
    const { code, data: report } = response.json();
    expect(code).toBe(0);
    expect(report).toMatchObject({ route: { id: ROUTE.id, share: 0, stable: 'default' }, reviewed: 1 });
    expect(report.closed).toBeGreaterThanOrEqual(unpaid.length);

    // The canary side's unpaid orders are closed here and at the canary merchant of the emulator.
    for (const no of unpaid) {
      expect((await status(no)).status).toBe('CLOSED');
      expect((await h.control('POST', `/trades/${canaryMch}/${no}/pay`)).status).not.toBe(200);
    }
    const reviews = (await h.vkPay.listReviews(MERCHANT)).filter((review) => review.outTradeNo === stuck);
    expect(reviews).toMatchObject([{ kind: 'rollback_close_failed', details: { route: ROUTE.id } }]);
    expect((await status(stuck)).status).toBe('NOTPAY');
    // The stable side is untouched; the paid canary order stays paid and refunds through its own account.
    expect((await status(stableNo)).status).toBe('NOTPAY');
    expect((await status(paidNo)).status).toBe('SUCCESS');
    await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: paidNo,
      out_refund_no: `${paidNo}R`,
      refund_fee: 1000,
    });
    expect((await h.control('POST', `/refunds/${canaryMch}/${paidNo}R/succeed`)).status).toBe(200);
    await eventually(
      () => status(paidNo),
      (order) => order.status === 'REFUNDED',
    );

    // A canary user's next payment goes to the stable account.
    const next = await pay(tradeNo(), canaryUser);
    expect(next.order).toMatchObject({ account: 'default', route: ROUTE.id, variant: 'stable' });

    const changes = await h.vkPay.store.db.selectFrom('route_override_changes').selectAll().execute();
    expect(changes).toMatchObject([
      {
        merchant_id: MERCHANT,
        route_id: ROUTE.id,
        share_before: null,
        share_after: 0,
        changed_by: 'app:app1',
      },
    ]);
  });
});
