/**
 * Two service instances sharing one PostgreSQL schema and one Redis, as behind a load balancer.
 * Runs only when the servers are configured (VKPAY_TEST_DATABASE_URL and VKPAY_TEST_REDIS_URL).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiApp } from '../../src/config/security.ts';
import { buildApp } from '../../src/http/app.ts';
import { createWxpayProvider } from '../../src/providers/wxpay/index.ts';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../../src/sandbox/wxpay/index.ts';
import { dropSchema } from '../../src/store/db.ts';
import { createVkPay, type VkPay } from '../../src/vk-pay.ts';
import { serverUrls, uniqueName } from '../support/backends.ts';
import { signed } from '../support/signed-client.ts';
import { eventually } from './harness.ts';

const MERCHANT = 'shop1';
const app: ApiApp = {
  appId: 'lb-app',
  merchantId: MERCHANT,
  secret: 'l'.repeat(40),
  rateLimits: { query: { windowMs: 60_000, max: 4 } },
};
const servers = Boolean(serverUrls.databaseUrl && serverUrls.redisUrl);

describe.skipIf(!servers)('two instances on PostgreSQL + Redis', () => {
  const schema = uniqueName('two');
  let emulator: RunningWxpaySandbox;
  const instances: Array<{ vkPay: VkPay; http: FastifyInstance; url: string; handled: string[] }> = [];
  let fanOut: Server;
  let fanOutUrl = '';
  let mchId = '';

  beforeAll(async () => {
    emulator = await startWxpaySandbox({ timeFactor: 0.001 });
    mchId = `19${randomBytes(4).readUInt32BE(0).toString().padStart(8, '0')}`;
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const apiV3Key = randomBytes(16).toString('hex');
    const serialNo = randomBytes(20).toString('hex').toUpperCase();
    const registered = await fetch(`${emulator.url}/sandbox/merchants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        mchid: mchId,
        appid: 'wx8888888888888888',
        apiV3Key,
        merchantSerialNo: serialNo,
        merchantPublicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }),
        keyMode: 'publicKey',
      }),
    }).then((r) => r.json() as Promise<{ publicKeyId: string; publicKeyPem: string }>);

    // A faulty load balancer in front of both instances: every callback reaches both at once.
    fanOut = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const headers = Object.fromEntries(
        Object.entries(request.headers).filter(
          ([name]) => name.startsWith('wechatpay-') || name === 'content-type',
        ),
      ) as Record<string, string>;
      const answers = await Promise.all(
        instances.map((instance) =>
          fetch(`${instance.url}${request.url}`, { method: 'POST', headers, body }),
        ),
      );
      response.statusCode = answers.every((a) => a.status < 300) ? 204 : 500;
      response.end();
    });
    await new Promise<void>((resolve) => fanOut.listen(0, '127.0.0.1', resolve));
    const address = fanOut.address();
    fanOutUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    for (let i = 0; i < 2; i++) {
      const provider = createWxpayProvider({
        merchants: [
          {
            merchantId: MERCHANT,
            mchId,
            appId: 'wx8888888888888888',
            serialNo,
            privateKey: keys.privateKey,
            apiV3Key,
            baseUrl: emulator.url,
            wechatpayPublicKey: { id: registered.publicKeyId, pem: registered.publicKeyPem },
          },
        ],
      });
      const vkPay = await createVkPay({
        databaseUrl: serverUrls.databaseUrl,
        redisUrl: serverUrls.redisUrl,
        schema,
        cachePrefix: `${schema}:`,
        providers: [provider],
        publicUrl: fanOutUrl,
        logger: pino({ level: 'silent' }),
      });
      const handled: string[] = [];
      vkPay.onPaid('goods', ({ order }) => {
        handled.push(order.outTradeNo);
      });
      const http = await buildApp({ vkPay, apps: [app] });
      await http.listen({ host: '127.0.0.1', port: 0 });
      const where = http.server.address();
      instances.push({
        vkPay,
        http,
        handled,
        url: `http://127.0.0.1:${typeof where === 'object' && where ? where.port : 0}`,
      });
    }
  });

  afterAll(async () => {
    await emulator?.close();
    fanOut?.close();
    for (const instance of instances) {
      await instance.http.close();
      await instance.vkPay.close();
    }
    if (serverUrls.databaseUrl) await dropSchema(serverUrls.databaseUrl, schema);
  });

  it('callbacks for one order arriving at both instances at once run the handler once', async () => {
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const nos = Array.from({ length: 5 }, (_, i) => `LB${Date.now().toString(36)}${i}`);
    for (const no of nos) {
      await a.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: no,
        total_fee: 100,
        subject: 'two instances',
        type: 'goods',
      });
      // Each notification is also sent twice more by the emulator.
      await fetch(`${emulator.url}/sandbox/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          channel: 'notify',
          kind: 'duplicate',
          mchid: mchId,
          outTradeNo: no,
          times: 2,
        }),
      });
    }
    await Promise.all(
      nos.map((no) => fetch(`${emulator.url}/sandbox/trades/${mchId}/${no}/pay`, { method: 'POST' })),
    );
    for (const no of nos) {
      const order = await eventually(
        () => b.vkPay.getOrder(MERCHANT, no),
        (o) => o.status === 'SUCCESS',
      );
      expect(order.status).toBe('SUCCESS');
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const no of nos) {
      const runs = [...a.handled, ...b.handled].filter((n) => n === no).length;
      expect({ no, runs }).toEqual({ no, runs: 1 });
    }
    const events = await a.vkPay.store.db
      .selectFrom('payment_notify_events')
      .select('out_trade_no')
      .where('out_trade_no', 'in', nos)
      .execute();
    expect(events).toHaveLength(nos.length);
  });

  it('the rate limit holds across both instances', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const instance = instances[i % 2]!;
      const response = await instance.http.inject(signed(app, 'GET', '/api/payments/NOSUCHORDER1'));
      statuses.push(response.statusCode);
    }
    expect(statuses.filter((s) => s === 404)).toHaveLength(4);
    expect(statuses.slice(4)).toEqual([429, 429]);
  });

  it('a nonce used on one instance is refused on the other', async () => {
    const request = signed({ ...app, appId: app.appId }, 'GET', '/api/payments/NOSUCHORDER2');
    const first = await instances[0]!.http.inject(request);
    const replay = await instances[1]!.http.inject(request);
    expect([first.statusCode, replay.statusCode]).toEqual([first.statusCode === 429 ? 429 : 404, 401]);
  });
});
