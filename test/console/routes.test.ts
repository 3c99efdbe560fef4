/**
 * The console's Routes page over the real HTTP stack and the WeChat Pay emulator: a merchant's
 * routes with the share in force and the orders each side took; a share set by an admin and a
 * rollback by an operator through the same service calls as the API, each with its audit row
 * (share before and after) and its route_override_changes row; refusals by role, scope and CSRF.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../src/service/routing.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { userOn as userOnRoute } from '../support/days.ts';
import { addUser, ConsoleClient, PASSWORD } from './client.ts';

const tradeNo = tradeNumbers('CRT');
const ROUTE: Route = {
  id: 'wx-canary',
  match: { provider: 'wxpay' },
  stable: 'default',
  canary: 'canary',
  share: 50,
};
const json = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);

const userOn = (side: 'stable' | 'canary', share: number, from = 0) =>
  userOnRoute(ROUTE, side, { from, prefix: 'console', share });

describe.each(backends)('the console routes page on $name', (backend) => {
  let h: WxpayHarness;
  const canaryOrders: string[] = [];
  let paidCanary = '';
  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      wxpayAccounts: ['canary'],
      vkPay: { routes: { [MERCHANT]: [ROUTE], other: [] } },
    });
    h.vkPay.onPaid('goods', () => {});
    await addUser(h.vkPay, 'root', 'admin');
    await addUser(h.vkPay, 'olga', 'operator', [MERCHANT]);
    await addUser(h.vkPay, 'vera', 'viewer');
    await addUser(h.vkPay, 'sam', 'operator', ['other']);
    const pay = (no: string, userId: string) =>
      h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: no,
        total_fee: 100,
        subject: 'routes page',
        type: 'goods',
        user_id: userId,
      });
    // Two stable orders, three canary ones of which one is paid.
    await pay(tradeNo(), userOn('stable', 50));
    await pay(tradeNo(), userOn('stable', 50, 1000));
    for (const from of [0, 1000, 2000]) {
      const no = tradeNo();
      await pay(no, userOn('canary', 50, from));
      canaryOrders.push(no);
    }
    paidCanary = canaryOrders[0]!;
    await h.control('POST', `/trades/${h.accounts.canary!.mchId}/${paidCanary}/pay`);
    await eventually(
      async () => (await h.vkPay.getOrder(MERCHANT, paidCanary)).status,
      (status) => status === 'SUCCESS',
    );
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  });

  const signedIn = async (name: string) => {
    const client = new ConsoleClient(h.app);
    expect((await client.signIn(name, PASSWORD)).statusCode).toBe(200);
    return client;
  };
  const auditRows = (action: string) =>
    h.vkPay.store.db
      .selectFrom('console_audit')
      .selectAll()
      .where('action', '=', action)
      .orderBy('id')
      .execute();
  const changes = () =>
    h.vkPay.store.db.selectFrom('route_override_changes').selectAll().orderBy('id').execute();

  it("lists the routes with the share in force and each side's orders, for a viewer", async () => {
    const vera = await signedIn('vera');
    const listed = await vera.get(`/console/routes?merchant=${MERCHANT}`);
    expect(listed.statusCode).toBe(200);
    expect(listed.json().data.merchants).toEqual(['other', MERCHANT].sort());
    expect(listed.json().data.routes).toEqual([
      {
        ...ROUTE,
        effectiveShare: 50,
        overridden: false,
        counts: { stable: { orders: 2, paid: 0 }, canary: { orders: 3, paid: 1 } },
      },
    ]);
    const page = await vera.get(`/console/routes?merchant=${MERCHANT}&lang=en`, { html: true });
    expect(page.body).toContain('<h1>Routes</h1>');
    expect(page.body).toContain('data-route="wx-canary"');
    expect(page.body).toContain('<span data-testid="count-canary">1 / 3</span>');
    // A viewer acts on nothing.
    expect(page.body).not.toContain('/rollback');
    expect(page.body).not.toContain('name="share"');
  });

  it('refuses a share below admin (40009), another merchant (40005), a forged change, a bad share (40001)', async () => {
    for (const name of ['vera', 'olga']) {
      const client = await signedIn(name);
      const refused = await client.post(`/console/routes/${MERCHANT}/${ROUTE.id}/share`, { share: 10 });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().code).toBe(40009);
    }
    const vera = await signedIn('vera');
    expect((await vera.post(`/console/routes/${MERCHANT}/${ROUTE.id}/rollback`)).json().code).toBe(40009);
    const sam = await signedIn('sam');
    const other = await sam.post(`/console/routes/${MERCHANT}/${ROUTE.id}/rollback`);
    expect(other.statusCode).toBe(404);
    expect(other.json().code).toBe(40005);
    expect((await sam.get(`/console/routes?merchant=${MERCHANT}`)).json().code).toBe(40005);
    // sam's own merchant has no routes; shop1 is not offered.
    expect((await sam.get('/console/routes')).json().data).toMatchObject({ merchant: 'other', routes: [] });

    const root = await signedIn('root');
    const forged = await root.post(
      `/console/routes/${MERCHANT}/${ROUTE.id}/share`,
      { share: 10 },
      {
        'x-csrf-token': '',
      },
    );
    expect(forged.statusCode).toBe(403);
    for (const share of [101, -1, 10.001, '12.345', 'ten']) {
      const bad = await root.post(`/console/routes/${MERCHANT}/${ROUTE.id}/share`, { share });
      expect(bad.statusCode, String(share)).toBe(400);
      expect(bad.json().code).toBe(40001);
    }
    const unknown = await root.post(`/console/routes/${MERCHANT}/no-such-route/share`, { share: 5 });
    expect(unknown.json().code).toBe(40005);
    expect(await changes()).toEqual([]);
    expect(await auditRows('route.share_set')).toEqual([]);
  });

  it('sets a share for an admin by the form, recorded and audited with before and after', async () => {
    const root = await signedIn('root');
    await root.get(`/console/routes?merchant=${MERCHANT}&lang=en`, { html: true });
    const posted = await root.send('POST', `/console/routes/${MERCHANT}/${ROUTE.id}/share?lang=en`, {
      html: true,
      form: { _csrf: root.csrf, share: '25.5' },
    });
    expect(posted.statusCode).toBe(200);
    expect(posted.body).toContain('The share of wx-canary is now 25.5%.');
    expect(posted.body).toContain('<strong data-testid="share">25.5</strong>');
    const [row] = await auditRows('route.share_set');
    expect(row).toMatchObject({ actor_name: 'root', target: `${MERCHANT}:${ROUTE.id}` });
    expect(json(row!.before)).toEqual({ share: 50 });
    expect(json(row!.after)).toEqual({ share: 25.5 });
    expect(await changes()).toMatchObject([
      { merchant_id: MERCHANT, route_id: ROUTE.id, changed_by: 'console:root' },
    ]);
    // The same share the API and the library see.
    expect((await h.vkPay.listRoutes(MERCHANT))[0]).toMatchObject({ effectiveShare: 25.5, overridden: true });
  });

  it('rolls back for an operator: share 0, unpaid canary orders closed, audited', async () => {
    const olga = await signedIn('olga');
    const page = await olga.get(`/console/routes?merchant=${MERCHANT}&lang=en`, { html: true });
    // An operator may roll back but not set a share.
    expect(page.body).toContain(`/console/routes/${MERCHANT}/${ROUTE.id}/rollback?lang=en`);
    expect(page.body).not.toContain('name="share"');
    const posted = await olga.send('POST', `/console/routes/${MERCHANT}/${ROUTE.id}/rollback?lang=en`, {
      html: true,
      form: { _csrf: olga.csrf },
    });
    expect(posted.statusCode).toBe(200);
    expect(posted.body).toContain('wx-canary is rolled back: 2 closed, 0 found paid, 0 sent to review.');
    for (const no of canaryOrders.slice(1))
      expect((await h.vkPay.getOrder(MERCHANT, no)).status).toBe('CLOSED');
    expect((await h.vkPay.getOrder(MERCHANT, paidCanary)).status).toBe('SUCCESS');
    const [row] = await auditRows('route.rolled_back');
    expect(row).toMatchObject({ actor_name: 'olga', target: `${MERCHANT}:${ROUTE.id}` });
    expect(json(row!.before)).toEqual({ share: 25.5 });
    expect(json(row!.after)).toEqual({ share: 0 });
    expect((await changes()).at(-1)).toMatchObject({ changed_by: 'console:olga', share_after: 0 });

    // JSON clients get the report in the envelope.
    const again = await olga.post(`/console/routes/${MERCHANT}/${ROUTE.id}/rollback`);
    expect(again.json().data).toMatchObject({ route: { id: ROUTE.id, effectiveShare: 0 }, closed: 0 });
  });

  it('changes no share when the audit row cannot be written: both commit or neither', async () => {
    const before = (await changes()).length;
    await expect(
      h.vkPay.setRouteShare(MERCHANT, ROUTE.id, 77, 'console:root', async () => {
        throw new Error('the audit row could not be written');
      }),
    ).rejects.toThrow();
    expect((await h.vkPay.listRoutes(MERCHANT))[0]).toMatchObject({ effectiveShare: 0 });
    expect(await changes()).toHaveLength(before);
  });
});
