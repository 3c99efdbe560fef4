import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../src/cli/serve.ts';
import type { ApiApp } from '../../src/config/security.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { buildAdminApp } from '../../src/http/admin-app.ts';
import { buildApp, type VkPayApp } from '../../src/http/app.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { MERCHANT } from '../support/orders.ts';

const shop: ApiApp = { appId: 'admin-shop', merchantId: MERCHANT, secret: 's'.repeat(40) };
/** What production requires of the main listener: HTTPS, through the TLS proxy at 10.0.0.1. */
const PRODUCTION_SECURITY = { requireHttps: true, requireSignature: true, trustedProxies: ['10.0.0.1'] };

const listenOn = async (app: FastifyInstance) => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
};

describe.each(backends)('the admin listener on $name', (backend) => {
  let vkPay: VkPay;
  let main: FastifyInstance;
  let admin: FastifyInstance;
  let adminUrl: string;

  beforeAll(async () => {
    vkPay = await backend.open();
    main = await buildApp({ vkPay, apps: [shop], security: PRODUCTION_SECURITY });
    admin = await buildAdminApp({
      vkPay,
      metrics: (main as VkPayApp).metrics,
      allowlist: ['127.0.0.1', '::1'],
    });
    adminUrl = await listenOn(admin);
  });
  afterAll(async () => {
    await admin.close();
    await main.close();
    await vkPay.close();
  });

  it('answers readiness, liveness and metrics over plain HTTP, where the main port wants HTTPS', async () => {
    const ready = await fetch(`${adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      code: 0,
      data: { database: 'ok', cache: 'ok', cache_kind: vkPay.cache.kind },
    });
    expect((await fetch(`${adminUrl}/healthz`)).status).toBe(200);

    // The main listener: plain HTTP refused except the liveness probe.
    const mainReady = await main.inject({ method: 'GET', url: '/readyz' });
    expect(mainReady.statusCode).toBe(403);
    expect(mainReady.json()).toMatchObject({ code: 40009, requestId: expect.any(String) });
    expect((await main.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(403);
    expect((await main.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    // One registry: the main listener's requests show on the admin listener.
    const metrics = await fetch(`${adminUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toContain('vkpay_http_requests_total{method="GET",route="/readyz",status="403"}');
    expect(text).toContain('vkpay_orders');
  });

  it("serves the operators' routes and answers in the envelope", async () => {
    const stats = await fetch(`${adminUrl}/admin/stats`);
    expect(stats.status).toBe(200);
    expect(((await stats.json()) as { code: number }).code).toBe(0);
    const unknown = await fetch(`${adminUrl}/api/payments`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: expect.any(Number), action: expect.any(String) });
    const bad = await fetch(`${adminUrl}/admin/stats?from=yesterday`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 40001 });
  });

  it('refuses an address outside its allowlist, and believes no forwarded header', async () => {
    const outside = await admin.inject({ method: 'GET', url: '/readyz', remoteAddress: '10.2.3.4' });
    expect(outside.statusCode).toBe(403);
    expect(outside.json()).toMatchObject({ code: 40009, requestId: expect.any(String) });
    const spoofed = await admin.inject({
      method: 'GET',
      url: '/metrics',
      remoteAddress: '10.2.3.4',
      headers: { 'x-forwarded-for': '127.0.0.1' },
    });
    expect(spoofed.statusCode).toBe(403);

    const cluster = await buildAdminApp({
      vkPay,
      metrics: (main as VkPayApp).metrics,
      allowlist: ['10.9.0.0/16'],
    });
    try {
      const url = await listenOn(cluster);
      const refused = await fetch(`${url}/readyz`);
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { code: number }).code).toBe(40009);
      const inside = await cluster.inject({ method: 'GET', url: '/readyz', remoteAddress: '10.9.8.7' });
      expect(inside.statusCode).toBe(200);
    } finally {
      await cluster.close();
    }
  });
});

describe('vk-pay serve with the admin listener, in production', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-admin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts and stops it beside the service; plain HTTP reaches readiness and metrics only there', async () => {
    const base = loadServiceConfig({
      env: { VKPAY_ENV: 'testing', VKPAY_PORT: '0', VKPAY_DATA_DIR: 'memory', VKPAY_ADMIN_PORT: '0' },
      cwd: dir,
    });
    expect(base.admin).toEqual({ host: '127.0.0.1', port: 0, allowlist: ['127.0.0.1', '::1'] });
    const service = await serve(
      {
        ...base,
        env: 'production',
        sandbox: { ...base.sandbox, enabled: false },
        security: { ...base.security, ...PRODUCTION_SECURITY },
        apps: [shop],
        webhooks: { ...base.webhooks, secretKey: 'w'.repeat(40) },
        syncIntervalMs: 0,
      },
      pino({ level: 'silent' }),
    );
    const adminUrl = service.adminUrl!;
    try {
      expect(adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(adminUrl).not.toBe(service.url);
      expect((await fetch(`${service.url}/readyz`)).status).toBe(403);
      expect((await fetch(`${service.url}/metrics`)).status).toBe(403);
      expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${adminUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { data: { database: string } }).data.database).toBe('ok');
      const metrics = await fetch(`${adminUrl}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('vkpay_http_requests_total');
    } finally {
      await service.close();
    }
    await expect(fetch(`${adminUrl}/healthz`)).rejects.toThrow();
  });
});

describe('admin listener configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-admin-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const load = (env: Record<string, string>, file?: unknown) => {
    const configPath = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    if (file !== undefined) writeFileSync(configPath, JSON.stringify(file));
    return loadServiceConfig({
      env: { VKPAY_DATA_DIR: 'memory', ...env },
      cwd: dir,
      ...(file === undefined ? {} : { configPath }),
    });
  };

  it('is off unless a port is given; then loopback only by default', () => {
    expect(load({}).admin).toBeNull();
    expect(load({ VKPAY_ADMIN_PORT: '9464' }).admin).toEqual({
      host: '127.0.0.1',
      port: 9464,
      allowlist: ['127.0.0.1', '::1'],
    });
  });

  it('reads host, port and allowlist from the file, the environment over it', () => {
    const file = { admin: { host: '0.0.0.0', port: 9464, allowlist: ['10.0.0.0/8'] } };
    expect(load({}, file).admin).toEqual({ host: '0.0.0.0', port: 9464, allowlist: ['10.0.0.0/8'] });
    expect(load({ VKPAY_ADMIN_PORT: '9500', VKPAY_ADMIN_HOST: '::' }, file).admin).toEqual({
      host: '::',
      port: 9500,
      allowlist: ['10.0.0.0/8'],
    });
  });

  it("refuses a bad port, the service's own port and a bad allowlist", () => {
    expect(() => load({ VKPAY_ADMIN_PORT: 'metrics' })).toThrow(/VKPAY_ADMIN_PORT must be a port/);
    expect(() => load({ VKPAY_PORT: '3000', VKPAY_ADMIN_PORT: '3000' })).toThrow(
      /must differ from the service's port 3000/,
    );
    expect(() => load({}, { admin: { port: 9464, allowlist: '10.0.0.0/8' } })).toThrow(
      /admin\.allowlist must be a list/,
    );
  });
});
