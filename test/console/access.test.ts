import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { merchantScope, requireMerchant, requireRole } from '../../src/http/console-access.ts';
import { ok } from '../../src/http/envelope.ts';
import { consoleRoutes } from '../../src/http/routes/console.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { orderRequest } from '../support/orders.ts';
import { addUser, ConsoleClient, PASSWORD } from './client.ts';

describe.each(backends)('console access on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  const orders: Record<string, string> = {};
  beforeAll(async () => {
    vkPay = await backend.open();
    // A page as the order pages will be: behind requireRole, filtered by merchantScope.
    app = await buildApp({ vkPay, docs: false, console: false });
    await app.register(consoleRoutes, {
      prefix: '/console',
      vkPay,
      production: false,
      pages: [
        async (scope) => {
          scope.get('/test-orders', { preHandler: requireRole('viewer') }, async (request) => {
            const scopeIds = merchantScope(request);
            let query = vkPay.store.db.selectFrom('payment_orders').select(['merchant_id', 'out_trade_no']);
            if (scopeIds !== null) query = query.where('merchant_id', 'in', [...scopeIds]);
            return ok({ orders: await query.orderBy('id').execute() });
          });
          scope.get('/test-orders/:merchant/:no', { preHandler: requireRole('viewer') }, async (request) => {
            const { merchant, no } = request.params as { merchant: string; no: string };
            requireMerchant(request, merchant);
            return ok({ order: await vkPay.getOrder(merchant, no) });
          });
          scope.post(
            '/test-orders/:merchant/:no/close',
            { preHandler: requireRole('operator') },
            async (request) => {
              const { merchant } = request.params as { merchant: string };
              requireMerchant(request, merchant);
              return ok({ closed: true });
            },
          );
        },
      ],
    });
    for (const merchant of ['shopA', 'shopB']) {
      const request = orderRequest({ merchantId: merchant });
      await vkPay.createOrder(request);
      orders[merchant] = String(request.out_trade_no);
    }
    await addUser(vkPay, 'root', 'admin');
    await addUser(vkPay, 'olga', 'operator');
    await addUser(vkPay, 'vera', 'viewer');
    await addUser(vkPay, 'sam', 'operator', ['shopA']);
  }, 300_000);
  afterAll(async () => {
    await app.close();
    await vkPay.close();
  });

  async function signedIn(name: string, ip: string): Promise<ConsoleClient> {
    const client = new ConsoleClient(app, ip);
    expect((await client.signIn(name, PASSWORD)).statusCode).toBe(200);
    return client;
  }

  it('refuses a change without its CSRF token, with a wrong one, or from a foreign origin (403 envelope)', async () => {
    const client = await signedIn('olga', '10.20.0.1');
    const good = client.csrf;
    const cases: Array<[string, Record<string, string>]> = [
      ['missing token', { 'x-csrf-token': '' }],
      ['wrong token', { 'x-csrf-token': `${good.slice(0, -4)}AAAA` }],
      ['foreign origin', { origin: 'https://evil.example' }],
      ['foreign referer', { origin: '', referer: 'https://evil.example/page' }],
      ['cross-site fetch', { 'sec-fetch-site': 'cross-site' }],
    ];
    for (const [what, changes] of cases) {
      const headers: Record<string, string> = {
        accept: 'application/json',
        cookie: client.cookieHeader(),
        origin: 'http://localhost:80',
        'x-csrf-token': good,
        ...changes,
      };
      for (const [name, value] of Object.entries(headers)) if (value === '') delete headers[name];
      const answer = await app.inject({ method: 'POST', url: '/console/logout', headers, payload: {} });
      expect(answer.statusCode, what).toBe(403);
      expect(answer.json(), what).toMatchObject({ code: 40009 });
    }
    // Without the CSRF cookie the token means nothing either.
    const noSecret = await app.inject({
      method: 'POST',
      url: '/console/logout',
      headers: {
        cookie: `vkpay_console=${client.jar.get('vkpay_console')}`,
        'x-csrf-token': good,
        origin: 'http://localhost:80',
      },
      payload: {},
    });
    expect(noSecret.statusCode).toBe(403);
    expect(noSecret.json()).toMatchObject({ code: 40009 });
    // The session is still there: none of the forged requests signed it out.
    expect((await client.get('/console')).statusCode).toBe(200);
    // And the sign-in form itself needs the token.
    const login = new ConsoleClient(app, '10.20.0.2');
    const forged = await login.post('/console/login', { name: 'olga', password: PASSWORD });
    expect(forged.statusCode).toBe(403);
  });

  it('lets a viewer read but not act, and keeps users and the audit log to admins', async () => {
    const viewer = await signedIn('vera', '10.21.0.1');
    expect((await viewer.get('/console/test-orders')).statusCode).toBe(200);
    const close = await viewer.post(`/console/test-orders/shopA/${orders.shopA}/close`);
    expect(close.statusCode).toBe(403);
    expect(close.json()).toMatchObject({
      code: 40009,
      reason: 'this needs the operator role; vera is viewer',
    });
    for (const url of ['/console/users', '/console/audit']) {
      const answer = await viewer.get(url);
      expect(answer.statusCode, url).toBe(403);
      expect(answer.json()).toMatchObject({ code: 40009 });
    }
    const create = await viewer.post('/console/users', { name: 'eve', role: 'admin' });
    expect(create.statusCode).toBe(403);
    const operator = await signedIn('olga', '10.21.0.2');
    expect((await operator.post(`/console/test-orders/shopB/${orders.shopB}/close`)).json()).toMatchObject({
      code: 0,
    });
    expect((await operator.get('/console/users')).statusCode).toBe(403);
    const page = await viewer.get('/console/users', { html: true });
    expect(page.statusCode).toBe(403);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('data-testid="error"');
  });

  it('shows a merchant-scoped operator only its merchants, and answers another merchant as not found', async () => {
    const sam = await signedIn('sam', '10.22.0.1');
    const listed = (await sam.get('/console/test-orders')).json().data.orders;
    expect(listed).toEqual([{ merchant_id: 'shopA', out_trade_no: orders.shopA }]);
    expect((await sam.get(`/console/test-orders/shopA/${orders.shopA}`)).json()).toMatchObject({ code: 0 });
    const other = await sam.get(`/console/test-orders/shopB/${orders.shopB}`);
    expect(other.statusCode).toBe(404);
    expect(other.json()).toMatchObject({ code: 40005 });
    expect(other.body).not.toContain(orders.shopB);
    expect((await sam.post(`/console/test-orders/shopB/${orders.shopB}/close`)).statusCode).toBe(404);
    const all = (await (await signedIn('olga', '10.22.0.2')).get('/console/test-orders')).json().data.orders;
    expect(all.map((order: { merchant_id: string }) => order.merchant_id)).toEqual(['shopA', 'shopB']);
  });

  it('lets an admin create, change, and disable users, each with its audit row, and ends changed users’ sessions', async () => {
    const admin = await signedIn('root', '10.23.0.1');
    const created = await admin.post('/console/users', {
      name: 'nina',
      role: 'viewer',
      merchants: 'shopA, shopB',
    });
    expect(created.statusCode).toBe(201);
    const { user, password } = created.json().data;
    expect(user).toMatchObject({
      name: 'nina',
      role: 'viewer',
      merchantIds: ['shopA', 'shopB'],
      totp: false,
    });
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(JSON.stringify(created.json())).not.toContain('scrypt$');

    const nina = new ConsoleClient(app, '10.23.0.2');
    expect((await nina.signIn('nina', password)).statusCode).toBe(200);
    const changed = await admin.post('/console/users/nina', { role: 'operator', merchants: ['shopB'] });
    expect(changed.json()).toMatchObject({
      code: 0,
      data: { user: { role: 'operator', merchantIds: ['shopB'] } },
    });
    // A change of privilege ends the old session: the new rights come with a new one.
    expect((await nina.get('/console')).statusCode).toBe(401);
    expect((await nina.signIn('nina', password)).json().data.user).toMatchObject({ role: 'operator' });

    const disabled = await admin.post('/console/users/nina/disable');
    expect(disabled.json()).toMatchObject({ code: 0, data: { user: { disabled: true } } });
    expect((await nina.get('/console')).statusCode).toBe(401);
    expect((await nina.signIn('nina', password)).statusCode).toBe(401);

    const ownChange = await admin.post('/console/users/root', { role: 'viewer' });
    expect(ownChange.statusCode).toBe(400);

    const rows = await vkPay.store.db
      .selectFrom('console_audit')
      .selectAll()
      .where('target', '=', 'nina')
      .orderBy('id')
      .execute();
    expect(rows.map((row) => row.action)).toEqual([
      'user.created',
      'login',
      'user.changed',
      'login',
      'user.disabled',
      'login.failed',
    ]);
    const change = rows[2]!;
    expect(change).toMatchObject({
      actor_name: 'root',
      ip: '10.23.0.1',
      before: { role: 'viewer', merchantIds: ['shopA', 'shopB'] },
      after: { role: 'operator', merchantIds: ['shopB'] },
    });
    expect(change.user_agent).toBe('lightMyRequest');
    expect(JSON.stringify(rows)).not.toContain(password);
  });

  it('refuses bad input to the user forms with 400, never 5xx', async () => {
    const admin = await signedIn('root', '10.24.0.1');
    const bad: unknown[] = [
      { name: 'x', role: 'owner' },
      { name: '../etc', role: 'viewer' },
      { name: 'ok-name', role: 'viewer', merchants: 'shop A!' },
      { name: 'short-pw', role: 'viewer', password: 'short' },
      { name: 'root', role: 'viewer' },
      { name: 'x', role: 'viewer', extra: true },
      [],
    ];
    for (const body of bad) {
      const answer = await admin.post('/console/users', body);
      expect(answer.statusCode, JSON.stringify(body)).toBe(400);
      expect(answer.json().code).toBe(40001);
    }
    expect((await admin.post('/console/users/nobody-here', { role: 'viewer' })).statusCode).toBe(404);
    expect((await admin.get('/console/audit?before=abc')).statusCode).toBe(400);
    expect((await admin.get('/console/audit?from=2026-02-31')).statusCode).toBe(400);
    expect((await admin.get('/console/nothing-here')).statusCode).toBe(404);
    expect((await admin.get('/console/assets/console.000000000000.js')).statusCode).toBe(400);
  });

  it('lists the audit log newest first with filters and keyset pages, and the database refuses to change it', async () => {
    const admin = await signedIn('root', '10.25.0.1');
    const first = (await admin.get('/console/audit?action=login&actor=root')).json().data;
    expect(first.rows.length).toBeGreaterThan(0);
    expect(
      first.rows.every(
        (row: { action: string; actor_name: string }) => row.action === 'login' && row.actor_name === 'root',
      ),
    ).toBe(true);
    const all: number[] = [];
    let before: number | null = null;
    do {
      const query = before === null ? '' : `&before=${before}`;
      const page: { rows: Array<{ id: number }>; next: number | null } = (
        await admin.get(`/console/audit?actor=root${query}`)
      ).json().data;
      all.push(...page.rows.map((row) => row.id));
      before = page.next;
    } while (before !== null);
    expect(all).toEqual([...all].sort((a, b) => b - a));
    const html = await admin.get('/console/audit?lang=en', { html: true });
    expect(html.body).toContain('<h1>Audit log</h1>');
    expect(html.body).toContain('data-testid="audit-row"');

    await expect(
      vkPay.store.db.updateTable('console_audit').set({ action: 'forged' }).execute(),
    ).rejects.toThrow(/append-only/);
    await expect(vkPay.store.db.deleteFrom('console_audit').execute()).rejects.toThrow(/append-only/);
  });
});

describe('malformed requests to the console', () => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  beforeAll(async () => {
    vkPay = await backends[0]!.open();
    app = await buildApp({ vkPay, docs: false });
  }, 300_000);
  afterAll(async () => {
    await app.close();
    await vkPay.close();
  });

  it('answers every one with a 4xx, as a page to a browser and in the envelope otherwise', async () => {
    const client = new ConsoleClient(app, '10.40.0.1');
    await client.get('/console/login');
    const cases: Array<{ url: string; type?: string; payload?: string; cookie?: string }> = [
      { url: '/console/login', type: 'text/plain', payload: 'name=x' },
      { url: '/console/login', type: 'application/json', payload: '{"name":' },
      { url: '/console/login', type: 'application/x-www-form-urlencoded', payload: 'name=x' },
      { url: '/console/login', type: 'application/x-www-form-urlencoded', payload: 'x'.repeat(20_000) },
      { url: '/console/login', type: 'application/json', payload: '[1,2]' },
      { url: '/console/login', type: 'application/x-www-form-urlencoded', payload: 'name=%00&password=x' },
      { url: '/console/totp', type: 'application/json', payload: '{"code":"1"}' },
      { url: '/console/users/%E0%A4%A', type: 'application/json', payload: '{}' },
      {
        url: '/console/login',
        type: 'application/json',
        payload: '{}',
        cookie: 'vkpay_console=%%%; vkpay_console_csrf=',
      },
    ];
    for (const html of [true, false]) {
      for (const sent of cases) {
        const answer = await app.inject({
          method: 'POST',
          url: sent.url,
          headers: {
            accept: html ? 'text/html' : 'application/json',
            origin: 'http://localhost:80',
            'x-csrf-token': client.csrf,
            cookie: sent.cookie ?? client.cookieHeader(),
            ...(sent.type ? { 'content-type': sent.type } : {}),
          },
          ...(sent.payload === undefined ? {} : { payload: sent.payload }),
        });
        const what = `${html ? 'html' : 'json'} ${sent.url} ${sent.type} ${sent.payload?.slice(0, 20)}`;
        // A browser without a session is sent to sign in; everything else is the client's 4xx.
        if (!(html && answer.statusCode === 303)) {
          expect(answer.statusCode, what).toBeGreaterThanOrEqual(400);
          expect(answer.statusCode, what).toBeLessThan(500);
        }
        if (answer.statusCode !== 303 && !String(answer.headers['content-type']).includes('html'))
          expect(answer.json().code, what).toBeGreaterThan(40000);
      }
    }
  });
});
