import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiApp } from '../../src/config/security.ts';
import { buildApp } from '../../src/http/app.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { MERCHANT, paidOrder } from '../support/orders.ts';
import { signed } from '../support/signed-client.ts';

const shop: ApiApp = { appId: 'app-shop', merchantId: MERCHANT, secret: 's'.repeat(40) };
const office: ApiApp = {
  appId: 'app-office',
  merchantId: MERCHANT,
  secret: 'o'.repeat(40),
  ipAllowlist: ['10.1.0.0/16', '2001:db8::/32'],
};
const tiny: ApiApp = {
  appId: 'app-tiny',
  merchantId: MERCHANT,
  secret: 't'.repeat(40),
  rateLimits: { query: { windowMs: 60_000, max: 3 } },
};

const createBody = {
  provider: 'wxpay',
  out_trade_no: 'SEC000000001',
  total_fee: 100,
  subject: 'security test',
  type: 'goods',
};

describe.each(backends)('API security on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  let paidNo: string;

  beforeAll(async () => {
    vkPay = await backend.open();
    app = await buildApp({ vkPay, apps: [shop, office, tiny] });
    paidNo = (await paidOrder(vkPay)).outTradeNo;
  });
  afterAll(async () => {
    await app.close();
    await vkPay.close();
  });

  const orderCount = async () =>
    Number(
      (
        await vkPay.store.db
          .selectFrom('payment_orders')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('answers a correctly signed query with the unified envelope', async () => {
    const response = await app.inject(signed(shop, 'GET', `/api/payments/${paidNo}`));
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ code: 0, msg: 'ok', data: { orderPaid: true, user_order_success: true } });
    expect(body.data.order).toMatchObject({ out_trade_no: paidNo, status: 'SUCCESS', total_fee: 8880 });
    expect(response.headers['x-request-id']).toBeTruthy();
  });

  it('refuses unsigned, badly signed and stale requests with 40002 and stores nothing', async () => {
    const before = await orderCount();
    const unsigned = await app.inject({ method: 'POST', url: '/api/payments', payload: createBody });
    const wrongKey = await app.inject(
      signed(shop, 'POST', '/api/payments', createBody, { secret: 'x'.repeat(40) }),
    );
    const stale = await app.inject(
      signed(shop, 'POST', '/api/payments', createBody, {
        timestamp: String(Math.floor(Date.now() / 1000) - 301),
      }),
    );
    const tampered = signed(shop, 'POST', '/api/payments', createBody);
    tampered.payload = JSON.stringify({ ...createBody, total_fee: 1 });
    const tamperedResponse = await app.inject(tampered);
    for (const response of [unsigned, wrongKey, stale, tamperedResponse]) {
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({
        code: 40002,
        requestId: expect.any(String),
        action: expect.any(String),
      });
    }
    expect(await orderCount()).toBe(before);
  });

  it('refuses a replayed request', async () => {
    const request = signed(shop, 'GET', `/api/payments/${paidNo}`);
    expect((await app.inject(request)).statusCode).toBe(200);
    const replay = await app.inject(request);
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toMatchObject({ code: 40002, reason: expect.stringContaining('replayed') });
  });

  it('refuses callers outside the app allowlist with 40009, for IPv4 and IPv6', async () => {
    const outside = await app.inject({
      ...signed(office, 'GET', `/api/payments/${paidNo}`),
      remoteAddress: '10.2.0.1',
    });
    expect(outside.statusCode).toBe(403);
    expect(outside.json().code).toBe(40009);
    const inside = await app.inject({
      ...signed(office, 'GET', `/api/payments/${paidNo}`),
      remoteAddress: '10.1.200.3',
    });
    expect(inside.statusCode).toBe(200);
    const inside6 = await app.inject({
      ...signed(office, 'GET', `/api/payments/${paidNo}`),
      remoteAddress: '2001:db8::7',
    });
    expect(inside6.statusCode).toBe(200);
    const outside6 = await app.inject({
      ...signed(office, 'GET', `/api/payments/${paidNo}`),
      remoteAddress: '2001:db9::7',
    });
    expect(outside6.json().code).toBe(40009);
  });

  it('limits an app to its query budget with 40008 and Retry-After', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof app.inject>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await app.inject(signed(tiny, 'GET', `/api/payments/${paidNo}`));
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(last!.json().code).toBe(40008);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('reports malformed JSON, unknown fields and every field error as 40001, never 5xx', async () => {
    const malformed = signed(shop, 'POST', '/api/payments', createBody);
    malformed.payload = '{"provider": "wxpay",';
    malformed.headers['x-vkpay-signature'] = signed(shop, 'POST', '/api/payments', undefined).headers[
      'x-vkpay-signature'
    ]!;
    const unknown = await app.inject(
      signed(shop, 'POST', '/api/payments', { ...createBody, card_number: '4111111111111111' }),
    );
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ code: 40001, field: 'card_number' });

    const many = await app.inject(
      signed(shop, 'POST', '/api/payments', {
        provider: 'paypal',
        out_trade_no: 5,
        total_fee: '100',
        subject: 'x',
      }),
    );
    expect(many.statusCode).toBe(400);
    const fields = many
      .json()
      .details.problems.map((p: { field: string }) => p.field)
      .sort();
    expect(fields).toEqual(['out_trade_no', 'provider', 'subject', 'total_fee', 'type']);

    const semantic = await app.inject(
      signed(shop, 'POST', '/api/payments', {
        ...createBody,
        out_trade_no: 'short',
        total_fee: 0,
        subject: 'x',
      }),
    );
    expect(semantic.statusCode).toBe(400);
    expect(semantic.json().details.problems.map((p: { field: string }) => p.field)).toEqual([
      'out_trade_no',
      'total_fee',
      'subject',
    ]);
  });

  it('answers an oversized body with a 4xx unified error', async () => {
    const huge = await app.inject(
      signed(shop, 'POST', '/api/payments', { ...createBody, subject: 'x'.repeat(100_000) }),
    );
    expect(huge.statusCode).toBe(413);
    expect(huge.json().code).toBe(40001);
  });

  it('answers an unknown route with 404 in the envelope, not as a missing order', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/nothing-here' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 40001, reason: 'no route GET /api/nothing-here' });
  });

  it('requires HTTPS in production unless a trusted proxy says https', async () => {
    const strict = await buildApp({
      vkPay,
      apps: [shop],
      security: { requireHttps: true, trustedProxies: ['10.0.0.1'] },
    });
    try {
      const plain = await strict.inject(signed(shop, 'GET', `/api/payments/${paidNo}`));
      expect(plain.statusCode).toBe(403);
      expect(plain.json().code).toBe(40009);
      const spoofed = await strict.inject({
        ...signed(shop, 'GET', `/api/payments/${paidNo}`),
        remoteAddress: '203.0.113.9',
        headers: { ...signed(shop, 'GET', `/api/payments/${paidNo}`).headers, 'x-forwarded-proto': 'https' },
      });
      expect(spoofed.statusCode).toBe(403);
      const proxied = signed(shop, 'GET', `/api/payments/${paidNo}`);
      const viaProxy = await strict.inject({
        ...proxied,
        remoteAddress: '10.0.0.1',
        headers: { ...proxied.headers, 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.4' },
      });
      expect(viaProxy.statusCode).toBe(200);
      expect(viaProxy.headers['strict-transport-security']).toBeTruthy();
    } finally {
      await strict.close();
    }
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toMatchObject({ code: 0, data: { database: 'ok', cache: 'ok' } });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('vkpay_orders{status="SUCCESS"}');
    expect(metrics.body).toContain('vkpay_http_requests_total');
    const docs = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(Object.keys(docs.json().paths)).toContain('/api/payments');
  });
});

describe('several merchants per app', () => {
  it('acts for another merchant only when the app may', async () => {
    const vkPay = await backends[0]!.open();
    const chain: ApiApp = {
      appId: 'app-chain',
      merchantId: 'store-a',
      merchants: ['store-b'],
      secret: 'c'.repeat(40),
    };
    const app = await buildApp({ vkPay, apps: [chain] });
    try {
      const order = await paidOrder(vkPay, { merchantId: 'store-b' });
      const own = await app.inject(signed(chain, 'GET', `/api/payments/${order.outTradeNo}`));
      expect(own.json().code).toBe(40005);
      const chosen = await app.inject(
        signed(chain, 'GET', `/api/payments/${order.outTradeNo}?merchant=store-b`),
      );
      expect(chosen.json()).toMatchObject({ code: 0, data: { order: { out_trade_no: order.outTradeNo } } });
      const refused = await app.inject(
        signed(chain, 'GET', `/api/payments/${order.outTradeNo}?merchant=store-c`),
      );
      expect(refused.statusCode).toBe(403);
      expect(refused.json().code).toBe(40009);
    } finally {
      await app.close();
      await vkPay.close();
    }
  });
});

describe('admin routes', () => {
  it('serve metrics to the admin allowlist only', async () => {
    const vkPay = await backends[0]!.open();
    const app = await buildApp({ vkPay, apps: [shop], security: { adminAllowlist: ['10.9.0.0/16'] } });
    try {
      const outside = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.8.0.1' });
      expect(outside.statusCode).toBe(403);
      expect(outside.json().code).toBe(40009);
      const inside = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.9.3.4' });
      expect(inside.statusCode).toBe(200);
      expect(inside.body).toContain('vkpay_http_requests_total');
    } finally {
      await app.close();
      await vkPay.close();
    }
  });
});

describe('security headers', () => {
  it('answers the JSON API with its security headers and HTML pages with helmet', async () => {
    const vkPay = await backends[0]!.open();
    const app = await buildApp({ vkPay, apps: [shop] });
    try {
      const api = await app.inject(signed(shop, 'GET', '/api/payments/NOSUCHORDER'));
      expect(api.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'cache-control': 'no-store',
        'strict-transport-security': expect.stringContaining('max-age='),
      });
      const page = await app.inject({ method: 'GET', url: '/docs/' });
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.headers['cross-origin-opener-policy']).toBeTruthy();
    } finally {
      await app.close();
      await vkPay.close();
    }
  });
});
