import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningService, serve } from '../../src/cli/serve.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { type RunningDouyinSandbox, startDouyinSandbox } from '../../src/sandbox/douyin/index.ts';
import { eventually } from '../e2e/harness.ts';
import { signedApi } from '../support/signed-client.ts';

const API_APP = { appId: 'douyin-backend', merchantId: 'shop1', secret: 'd'.repeat(40) };

describe('vk-pay serve with a douyin app in its config file', () => {
  let platform: RunningDouyinSandbox;
  let service: RunningService;
  let appId: string;

  beforeAll(async () => {
    platform = await startDouyinSandbox({ timeFactor: 0.001 });
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const app = platform.gateway.registerApp({
      appPublicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    appId = app.appId;
    const dir = mkdtempSync(join(tmpdir(), 'vkpay-douyin-serve-'));
    writeFileSync(
      join(dir, 'douyin_app_private_key.pem'),
      keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    writeFileSync(
      join(dir, 'vk-pay.config.json'),
      JSON.stringify({
        apps: [{ appId: API_APP.appId, merchantId: API_APP.merchantId, secret: 'env:API_SECRET' }],
        douyin: [
          {
            merchantId: 'shop1',
            appId: app.appId,
            appSecret: 'env:DOUYIN_APP_SECRET',
            privateKey: 'file:douyin_app_private_key.pem',
            keyVersion: app.keyVersion,
            platformPublicKey: app.platformPublicKeyPem,
            sku: { type: 401, tagGroupId: 'tag_group_1', imageUrl: 'https://example.com/sku.png' },
            baseUrl: platform.url,
          },
        ],
      }),
    );
    const config = loadServiceConfig({
      env: {
        VKPAY_PORT: '0',
        VKPAY_DATA_DIR: 'memory',
        API_SECRET: API_APP.secret,
        DOUYIN_APP_SECRET: app.appSecret,
      },
      cwd: dir,
    });
    service = await serve({ ...config, syncIntervalMs: 0 }, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await service?.close();
    await platform?.close();
  });

  it('builds the provider: a payment is created, paid at the platform and applied by its callback', async () => {
    const api = signedApi(service.url, API_APP);
    const outTradeNo = `DYSERVE${Date.now().toString(36)}`;
    const created = await api('POST', '/api/payments', {
      provider: 'douyin',
      out_trade_no: outTradeNo,
      total_fee: 600,
      subject: 'coins',
      type: 'goods',
      context: { platform: 'mp-toutiao' },
    });
    expect(created.status).toBe(200);
    expect(created.json.data.scene).toBe('miniprogram');
    const placed = await fetch(`${platform.controlUrl}/request-order`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(created.json.data.payment),
    });
    expect(placed.status).toBe(200);
    platform.gateway.pay(appId, outTradeNo);
    const order = await eventually(
      () => service.vkPay.getOrder('shop1', outTradeNo),
      (found) => found.status === 'SUCCESS',
    );
    expect(order.status).toBe('SUCCESS');
  });

  it('mounts the Douyin emulator under /sandbox/douyin in development', async () => {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const response = await fetch(`${service.url}/sandbox/douyin/sandbox/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ appPublicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }) }),
    });
    expect(response.status).toBe(200);
    const registered = (await response.json()) as { appId: string; appSecret: string };
    const token = await fetch(`${service.url}/sandbox/douyin/oauth/client_token/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_key: registered.appId,
        client_secret: registered.appSecret,
        grant_type: 'client_credential',
      }),
    });
    expect(((await token.json()) as { data: { error_code: number } }).data.error_code).toBe(0);
  });
});
