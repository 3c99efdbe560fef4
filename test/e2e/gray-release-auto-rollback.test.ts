/**
 * Automatic rollback with two instances on one PostgreSQL + Redis: a 10 % rollout to a second
 * emulator merchant, faults injected into the new side, one rollback however many instances watch.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlertMessage, alertBody } from '../../src/service/monitoring.ts';
import { checkAutoRollbacks, startAutoRollbackMonitor } from '../../src/service/route-monitoring.ts';
import { setRouteShare } from '../../src/service/route-overrides.ts';
import { bucketOf, type Route } from '../../src/service/routing.ts';
import { dropSchema } from '../../src/store/db.ts';
import { createVkPay, type VkPay, type VkPayOptions } from '../../src/vk-pay.ts';
import { backends, serverUrls, type TestBackend, uniqueName } from '../support/backends.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

const servers = Boolean(serverUrls.databaseUrl && serverUrls.redisUrl);
const tradeNo = tradeNumbers('AR');
const ROUTE: Route = {
  id: 'wx-auto',
  match: { provider: 'wxpay' },
  stable: 'default',
  canary: 'canary',
  share: 10,
  autoRollback: { margin: 0.2, minPayments: 5, windowMs: 5 * 60_000 },
};

/** User ids on one side of a route at its share, different ones for each prefix. */
function usersOn(side: 'stable' | 'canary', count: number, prefix: string, route: Route = ROUTE): string[] {
  const users: string[] = [];
  for (let i = 0; users.length < count; i++) {
    const userId = `${prefix}-${side}-${i}`;
    if (bucketOf(route.id, `user:${userId}`) < route.share * 100 === (side === 'canary')) users.push(userId);
  }
  return users;
}

describe.skipIf(!servers)('automatic rollback of a route by two instances on PostgreSQL + Redis', () => {
  const schema = uniqueName('autorb');
  const shared: VkPayOptions = {
    databaseUrl: serverUrls.databaseUrl,
    redisUrl: serverUrls.redisUrl,
    schema,
    cachePrefix: `${schema}:`,
    logger: pino({ level: 'silent' }),
    routes: { [MERCHANT]: [ROUTE] },
  };
  const backend: TestBackend = {
    name: 'postgres+redis',
    open: (options = {}) => createVkPay({ ...shared, ...options }),
  };
  let h: WxpayHarness;
  let second: VkPay;
  const stops: Array<() => void> = [];

  beforeAll(async () => {
    h = await startWxpayHarness(backend, { wxpayAccounts: ['canary'], vkPay: shared });
    // The second instance: the same store, cache and gateway accounts; callbacks reach the first.
    second = await createVkPay({ ...shared, providers: [...h.vkPay.context.providers.values()] });
    second.context.publicUrl = h.vkPay.context.publicUrl;
    for (const instance of [h.vkPay, second]) instance.onPaid('goods', () => {});
  });
  afterAll(async () => {
    for (const stop of stops) stop();
    await second?.close();
    await h?.close();
    await dropSchema(serverUrls.databaseUrl!, schema);
  });

  const pay = (instance: VkPay, no: string, userId: string) =>
    instance.pay({
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
  const paidAt = async (mchId: string, no: string) => {
    expect((await h.control('POST', `/trades/${mchId}/${no}/pay`)).status).toBe(200);
    return eventually(
      () => status(no),
      (order) => order.status === 'SUCCESS',
    );
  };

  it('rolls the route back once when the canary side fails, closes its open orders and keeps its paid ones refundable', async () => {
    const canaryMch = h.accounts.canary!.mchId;
    const stableMch = h.accounts.default!.mchId;
    const stableUsers = usersOn('stable', 6, 'ok');
    const [paidUser, openUser, ...failingUsers] = usersOn('canary', 12, 'new');

    // Both sides pay, through both instances, each at its own emulator merchant.
    const stableNos: string[] = [];
    for (const [i, userId] of stableUsers.entries()) {
      const no = tradeNo();
      stableNos.push(no);
      const made = await pay(i % 2 === 0 ? h.vkPay : second, no, userId!);
      expect(made.order).toMatchObject({ account: 'default', variant: 'stable' });
    }
    await paidAt(stableMch, stableNos[0]!);
    const paidCanary = tradeNo();
    expect((await pay(second, paidCanary, paidUser!)).order).toMatchObject({
      account: 'canary',
      route: ROUTE.id,
      variant: 'canary',
    });
    await paidAt(canaryMch, paidCanary);
    const openCanary = [tradeNo(), tradeNo()];
    const stuckCanary = tradeNo();
    for (const no of [...openCanary, stuckCanary]) await pay(h.vkPay, no, openUser!);

    // Both instances watch; the healthy rollout rolls nothing back.
    const alerts: AlertMessage[] = [];
    const send = async (message: AlertMessage) => {
      alerts.push(message);
    };
    for (const instance of [h.vkPay, second])
      stops.push(startAutoRollbackMonitor(instance.context, send, 100));
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(alerts).toEqual([]);

    // The canary merchant starts failing every prepay; one canary order's close fails too.
    await h.control('POST', '/faults', {
      kind: 'systemError',
      mchid: canaryMch,
      operation: 'prepay',
      times: 'always',
    });
    await h.control('POST', '/faults', {
      kind: 'signTest',
      operation: 'close',
      outTradeNo: stuckCanary,
      times: 'always',
    });
    const failed: string[] = [];
    for (const [i, userId] of failingUsers.entries()) {
      const no = tradeNo();
      const outcome = await pay(i % 2 === 0 ? h.vkPay : second, no, userId!).then(
        (made) => made.order.variant,
        () => 'failed',
      );
      // Once rolled back, a canary user's new payment goes to the stable account and succeeds.
      if (outcome === 'failed') failed.push(no);
      else expect(outcome).toBe('stable');
    }
    // Four good canary payments came first: two failures (2 of 6, over the margin of 0.2) suffice.
    expect(failed.length).toBeGreaterThanOrEqual(2);

    // The alert goes out once the rollback has closed what it could.
    await eventually(
      async () => alerts.length,
      (count) => count > 0,
      10_000,
    );
    // Both instances go on checking for a while: still exactly one rollback and one alert.
    await new Promise((resolve) => setTimeout(resolve, 600));
    for (const stop of stops.splice(0)) stop();
    await h.control('DELETE', '/faults');
    expect(await h.vkPay.store.db.selectFrom('route_override_changes').selectAll().execute()).toMatchObject([
      { route_id: ROUTE.id, share_before: null, share_after: 0, changed_by: 'auto' },
    ]);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      alert: 'vkpay_route_rollback',
      merchantId: MERCHANT,
      route: ROUTE.id,
      canary: { account: 'canary' },
      stable: { account: 'default', errors: 0 },
      reviewed: 1,
    });
    const alert = alerts[0] as Extract<AlertMessage, { alert: 'vkpay_route_rollback' }>;
    expect(alert.canary.payments).toBeGreaterThanOrEqual(ROUTE.autoRollback!.minPayments);
    expect(alert.canary.rate! - (alert.stable.rate ?? 0)).toBeGreaterThan(ROUTE.autoRollback!.margin);

    // The canary side's open orders are closed here and at the emulator; the stuck one is a review.
    for (const no of openCanary) {
      expect((await status(no)).status).toBe('CLOSED');
      expect((await h.control('POST', `/trades/${canaryMch}/${no}/pay`)).status).not.toBe(200);
    }
    // Failed canary orders made before the rollback are closed (here only: the gateway never had
    // them); one still being made on an instance at that moment is left to the expiry job.
    const [change] = await h.vkPay.store.db
      .selectFrom('route_override_changes')
      .select('changed_at')
      .execute();
    const before = await h.vkPay.store.db
      .selectFrom('payment_orders')
      .select(['out_trade_no', 'status'])
      .where('out_trade_no', 'in', failed)
      .where('create_date', '<', change!.changed_at)
      .execute();
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(before.every((order) => order.status === 'CLOSED')).toBe(true);
    expect((await status(stuckCanary)).status).toBe('NOTPAY');
    const reviews = (await h.vkPay.listReviews(MERCHANT)).filter(
      (review) => review.kind === 'rollback_close_failed',
    );
    expect(reviews).toMatchObject([{ outTradeNo: stuckCanary, details: { route: ROUTE.id } }]);
    // The stable side is untouched.
    expect((await status(stableNos[1]!)).status).toBe('NOTPAY');

    // Every instance now sends canary users to the stable account.
    for (const instance of [h.vkPay, second])
      expect((await pay(instance, tradeNo(), openUser!)).order).toMatchObject({
        account: 'default',
        variant: 'stable',
      });

    // The paid canary order refunds through its own account, at the canary merchant.
    await second.refund({
      merchantId: MERCHANT,
      out_trade_no: paidCanary,
      out_refund_no: `${paidCanary}R`,
      refund_fee: 1000,
    });
    expect((await h.control('POST', `/refunds/${canaryMch}/${paidCanary}R/succeed`)).status).toBe(200);
    await eventually(
      () => status(paidCanary),
      (order) => order.status === 'REFUNDED',
    );
    expect((await status(paidCanary)).account).toBe('canary');

    // The statistics put both sides side by side; the metrics carry the route and side.
    const stats = (await h.app.inject({ method: 'GET', url: '/admin/stats' })).json().data;
    const route = stats.routes.find((entry: { route: string }) => entry.route === ROUTE.id);
    expect(route).toMatchObject({
      merchantId: MERCHANT,
      configured: true,
      stable: { account: 'default', payments: { errors: 0, errorRate: 0 } },
      canary: { account: 'canary', orders: { paid: 1 } },
    });
    expect(route.canary.payments.errors).toBe(failed.length);
    expect(route.canary.payments.errorRate).toBeGreaterThan(0.2);
    expect(route.stable.orders.paid).toBe(1);
    expect(route.stable.orders.conversion).toBeCloseTo(1 / route.stable.orders.created);
    expect(route.canary.gateway.p95Ms).toEqual(expect.any(Number));
    const metrics = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(
      /vkpay_gateway_call_seconds_count\{provider="wxpay",operation="create",result="error",route="wx-auto",variant="canary"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /vkpay_gateway_call_seconds_count\{provider="wxpay",operation="create",result="ok",route="wx-auto",variant="stable"\} [1-9]/,
    );
  });
});

describe.each(backends)('the automatic rollback rule on $name', (backend) => {
  const RULED: Route = {
    ...ROUTE,
    id: 'wx-ruled',
    share: 50,
    autoRollback: { margin: 0.3, minPayments: 4, windowMs: 5 * 60_000 },
  };
  let h: WxpayHarness;
  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      wxpayAccounts: ['canary'],
      vkPay: { routes: { [MERCHANT]: [RULED] } },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** One payment for each of `count` users on one side of RULED; returns how many failed. */
  const payAll = async (side: 'stable' | 'canary', count: number, prefix: string) => {
    let failed = 0;
    for (const userId of usersOn(side, count, prefix, RULED))
      await h.vkPay
        .pay({
          merchantId: MERCHANT,
          provider: 'wxpay',
          scene: 'native',
          out_trade_no: tradeNo(),
          total_fee: 100,
          subject: 'rule',
          type: 'goods',
          user_id: userId,
        })
        .catch(() => {
          failed += 1;
        });
    return failed;
  };

  it('judges the canary against the stable side, from the minimum of payments since the last share change', async () => {
    const alerts: AlertMessage[] = [];
    const send = async (message: AlertMessage) => {
      alerts.push(message);
    };
    const check = async () => (await checkAutoRollbacks(h.vkPay.context, send))[0]!;

    // Both sides failing alike is the gateway's trouble, not the new account's: no rollback.
    await h.control('POST', '/faults', { kind: 'systemError', operation: 'prepay', times: 'always' });
    await payAll('canary', 4, 'both');
    await payAll('stable', 4, 'both');
    expect(await check()).toMatchObject({
      exceeded: false,
      canary: { payments: 4, errors: 4, rate: 1 },
      stable: { payments: 4, errors: 4, rate: 1 },
      rolledBack: null,
    });
    await h.control('DELETE', '/faults');

    // A share change starts the count again.
    await setRouteShare(h.vkPay.context, MERCHANT, RULED.id, 50, 'ops');
    expect(await check()).toMatchObject({ canary: { payments: 0 }, stable: { payments: 0 } });

    // The canary alone failing: not judged below the minimum, rolled back at it.
    await h.control('POST', '/faults', {
      kind: 'systemError',
      mchid: h.accounts.canary!.mchId,
      operation: 'prepay',
      times: 'always',
    });
    expect(await payAll('canary', 3, 'only')).toBe(3);
    // The journal row of a failed call may land just after its answer: wait for all three.
    await expect.poll(async () => (await check()).canary.payments, { timeout: 5_000 }).toBe(3);
    expect(await check()).toMatchObject({ exceeded: false, canary: { payments: 3, errors: 3 } });
    expect(await payAll('canary', 1, 'more')).toBe(1);
    const fired = await check();
    await h.control('DELETE', '/faults');
    expect(fired).toMatchObject({ exceeded: true, canary: { payments: 4, errors: 4, rate: 1 } });
    expect(fired.rolledBack).toMatchObject({ route: { id: RULED.id, effectiveShare: 0 }, reviewed: 0 });
    expect(alerts).toHaveLength(1);
    const text = alertBody(alerts[0]!, 'wecom') as { text: { content: string } };
    expect(text.text.content).toContain(`路由 ${RULED.id}`);
    expect(text.text.content).toContain('已自动回滚到 default');

    // Rolled back: not judged again.
    expect(await checkAutoRollbacks(h.vkPay.context, send)).toEqual([]);
    expect(alerts).toHaveLength(1);
    const changes = await h.vkPay.store.db
      .selectFrom('route_override_changes')
      .select(['share_after', 'changed_by'])
      .orderBy('id')
      .execute();
    expect(changes).toEqual([
      { share_after: 50, changed_by: 'ops' },
      { share_after: 0, changed_by: 'auto' },
    ]);
  });
});
