import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningService, serve } from '../../src/cli/serve.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { eventually } from './harness.ts';

/** A port free now, so both starts listen on the same one and notify URLs stay valid, as with `npm start`. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('vk-pay serve restarted on the same data folder', () => {
  let dir: string;
  let port: number;
  let service: RunningService | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vkpay-restart-'));
    port = await freePort();
  });
  afterAll(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    const config = loadServiceConfig({
      env: { VKPAY_PORT: String(port), VKPAY_DATA_DIR: join(dir, 'data') },
      cwd: dir,
    });
    return serve({ ...config, syncIntervalMs: 0 }, pino({ level: 'silent' }));
  };
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await fetch(`${service!.url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: the test reads arbitrary API JSON and asserts on it.
    return { status: response.status, json: (await response.json()) as any };
  };

  it('keeps the emulators’ trades and the demo merchant: a payment made before is paid after', async () => {
    service = await start();
    const before = service.demo!;
    for (const [provider, no] of [
      ['wxpay', 'KEEP0001'],
      ['alipay', 'KEEP0002'],
    ] as const) {
      const created = await call('POST', '/api/payments', {
        provider,
        scene: 'native',
        out_trade_no: no,
        total_fee: 100,
        subject: 'across a restart',
        type: 'goods',
      });
      expect(created.json, JSON.stringify(created.json)).toMatchObject({ code: 0 });
    }
    await service.close();
    service = undefined;
    for (const file of ['wxpay.json', 'alipay.json', 'demo.json'])
      expect(existsSync(join(dir, 'data', 'sandbox', file)), file).toBe(true);

    service = await start();
    // The same demo merchant: its API app and webhook secrets did not change.
    expect(service.demo).toMatchObject({ app: before.app, webhookSecret: before.webhookSecret });

    const wxpay = await call('POST', '/sandbox/wxpay/sandbox/trades/1900000109/KEEP0001/pay');
    expect(wxpay.status, JSON.stringify(wxpay.json)).toBe(200);
    const trade = '/sandbox/alipay/sandbox/alipay/trades/2021000000000001/KEEP0002';
    expect((await call('POST', `${trade}/scan`)).status).toBe(200);
    expect((await call('POST', `${trade}/pay`)).status).toBe(200);
    for (const no of ['KEEP0001', 'KEEP0002']) {
      const paid = await eventually(
        () => call('GET', `/api/payments/${no}`),
        (r) => r.json.data?.orderPaid === true,
      );
      expect(paid.json.data.order).toMatchObject({ status: 'SUCCESS', total_fee: 100 });
    }
  });
});
