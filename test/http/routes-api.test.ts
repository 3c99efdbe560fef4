import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf, type Route } from '../../src/service/routing.ts';
import { API_APP, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { signed } from '../support/signed-client.ts';

const tradeNo = tradeNumbers('RA');
const ROUTE: Route = {
  id: 'wx-share',
  match: { provider: 'wxpay' },
  stable: 'default',
  canary: 'canary',
  share: 10,
};
const OTHER: Route = {
  id: 'ali-later',
  match: { provider: 'alipay' },
  stable: 'default',
  canary: 'canary',
  share: 0,
};

/** Users spread over the buckets, with at least one between 10 % and 50 % (one that must move). */
function users(): string[] {
  const chosen = Array.from({ length: 12 }, (_, i) => `payer-${i}`);
  for (let i = 0; ; i++) {
    const bucket = bucketOf(ROUTE.id, `user:mover-${i}`);
    if (bucket >= 1000 && bucket < 5000) return [...chosen, `mover-${i}`];
  }
}

describe.each(backends)('the routes API on $name', (backend) => {
  let h: WxpayHarness;

  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      wxpayAccounts: ['canary'],
      vkPay: { routes: { [MERCHANT]: [ROUTE, OTHER] } },
    });
    h.vkPay.onPaid('goods', () => {});
  });
  afterAll(async () => {
    await h?.close();
  });

  const api = async (method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
    (await h.app.inject(signed(API_APP, method, url, body))).json();
  const variantOf = async (userId: string) =>
    (
      await h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: tradeNo(),
        total_fee: 100,
        subject: 'share',
        type: 'goods',
        user_id: userId,
      })
    ).order.variant;
  const changes = () => h.vkPay.store.db.selectFrom('route_override_changes').selectAll().execute();

  it('lists the routes as configured with the share in force', async () => {
    const { code, data } = await api('GET', '/api/routes');
    expect(code).toBe(0);
    expect(data.routes).toEqual([
      {
        id: ROUTE.id,
        match: { provider: 'wxpay' },
        stable: 'default',
        canary: 'canary',
        share: 10,
        configured_share: 10,
        overridden: false,
      },
      expect.objectContaining({ id: OTHER.id, share: 0, overridden: false }),
    ]);
  });

  it('bad shares and bodies answer 40001 and change nothing; an unknown route is 40005', async () => {
    const url = `/api/routes/${ROUTE.id}/share`;
    for (const body of [
      { share: -1 },
      { share: 101 },
      { share: '50' },
      { share: 50, extra: 1 },
      { share: '\u0000' },
      { share: 12.345 },
      {},
      '\u0000',
      [50],
    ]) {
      expect(await api('PUT', url, body), JSON.stringify(body)).toMatchObject({ code: 40001 });
    }
    expect(await api('PUT', '/api/routes/nope/share', { share: 5 })).toMatchObject({ code: 40005 });
    expect(await changes()).toEqual([]);
    expect((await api('GET', '/api/routes')).data.routes[0]).toMatchObject({ share: 10, overridden: false });
  });

  it('raising the share to 50 moves payers only from stable to canary, and records who changed it', async () => {
    const payers = users();
    const before = await Promise.all(payers.map(variantOf));
    const answer = await api('PUT', `/api/routes/${ROUTE.id}/share`, { share: 50 });
    expect(answer).toMatchObject({
      code: 0,
      data: { route: { id: ROUTE.id, share: 50, configured_share: 10, overridden: true } },
    });
    const after = await Promise.all(payers.map(variantOf));
    payers.forEach((userId, i) => {
      const bucket = bucketOf(ROUTE.id, `user:${userId}`);
      expect(before[i], userId).toBe(bucket < 1000 ? 'canary' : 'stable');
      expect(after[i], userId).toBe(bucket < 5000 ? 'canary' : 'stable');
      if (before[i] === 'canary') expect(after[i], userId).toBe('canary');
    });
    expect(after.filter((variant, i) => variant !== before[i]).length).toBeGreaterThan(0);

    expect((await api('GET', '/api/routes')).data.routes[0]).toMatchObject({ share: 50, overridden: true });
    expect(await changes()).toMatchObject([
      {
        merchant_id: MERCHANT,
        route_id: ROUTE.id,
        share_before: null,
        share_after: 50,
        changed_by: 'app:app1',
      },
    ]);
    // Setting a share closes nothing: the canary side's unpaid orders stay open.
    const open = await h.vkPay.store.db
      .selectFrom('payment_orders')
      .select('status')
      .where('route', '=', ROUTE.id)
      .where('variant', '=', 'canary')
      .execute();
    expect(open.length).toBeGreaterThan(0);
    expect(open.every((order) => order.status === 'NOTPAY')).toBe(true);
  });

  // After the share of 50 above.
  it("removing the stored share returns to the file's on the next payment, recorded like a set", async () => {
    const mover = users().at(-1)!;
    expect(await variantOf(mover)).toBe('canary');
    expect(await api('DELETE', '/api/routes/nope/share')).toMatchObject({ code: 40005 });
    const answer = await api('DELETE', `/api/routes/${ROUTE.id}/share`);
    expect(answer).toMatchObject({
      code: 0,
      data: { route: { id: ROUTE.id, share: 10, configured_share: 10, overridden: false } },
    });
    expect(await variantOf(mover)).toBe('stable');
    expect((await api('GET', '/api/routes')).data.routes[0]).toMatchObject({ share: 10, overridden: false });
    const stored = await h.vkPay.store.db.selectFrom('route_overrides').selectAll().execute();
    expect(stored).toEqual([]);
    expect((await changes()).at(-1)).toMatchObject({
      route_id: ROUTE.id,
      share_before: 50,
      share_after: null,
      changed_by: 'app:app1',
    });
    // Nothing stored any more: removing again answers the file's share and records nothing.
    const count = (await changes()).length;
    expect(await api('DELETE', `/api/routes/${ROUTE.id}/share`)).toMatchObject({
      code: 0,
      data: { route: { share: 10, overridden: false } },
    });
    expect(await changes()).toHaveLength(count);
  });
});
