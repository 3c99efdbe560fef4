/**
 * Douyin payments end to end per second: create (the signed tt.requestOrder order), the platform
 * placing it (verifying byteAuthorization), the buyer paying, the signed callback verified and
 * applied by the service over HTTP, beside this machine's RSA-2048 signing rate in the same run.
 * Each payment costs two signatures (ours for the order, the platform's for the callback) and two
 * verifications, so half the signing rate is its ceiling on one core. The emulator runs in this
 * process: the figure is a floor.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { buildApp } from '../src/http/app.ts';
import { createDouyinProvider } from '../src/providers/douyin/index.ts';
import { startDouyinSandbox } from '../src/sandbox/douyin/index.ts';
import { dropSchema } from '../src/store/db.ts';
import { createVkPay, type VkPayOptions } from '../src/vk-pay.ts';
import { runConcurrently } from './support/load.ts';
import { measureRsaSignRate } from './wxpay-prepay.ts';

export interface DouyinBenchResult {
  payments: number;
  concurrency: number;
  /** Created, placed and paid per second (the buyer's side of the loop). */
  createPerSecond: number;
  /** Paid and applied here by their callbacks, per second, from the first create to the last apply. */
  paymentsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  signsPerSecond: number;
  /** Payments per RSA-2048 signature the machine can make in the same time (one core). */
  ratio: number;
}

export async function benchDouyin(
  store: VkPayOptions,
  payments: number,
  concurrency: number,
  signMs: number,
): Promise<DouyinBenchResult> {
  const emulator = await startDouyinSandbox({ timeFactor: 1 });
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const registered = emulator.gateway.registerApp({
    appPublicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  const provider = createDouyinProvider({
    merchants: [
      {
        merchantId: 'bench',
        appId: registered.appId,
        appSecret: registered.appSecret,
        privateKey: keys.privateKey,
        keyVersion: registered.keyVersion,
        platformPublicKey: registered.platformPublicKeyPem,
        sku: { type: 401, tagGroupId: 'tag_group_bench', imageUrl: 'https://example.com/sku.png' },
        baseUrl: emulator.url,
      },
    ],
  });
  const vkPay = await createVkPay({ logger: pino({ level: 'silent' }), ...store, providers: [provider] });
  let applied = 0;
  let allApplied: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allApplied = resolve;
  });
  let target = 0;
  vkPay.onPaid('goods', () => {
    applied += 1;
    if (applied === target) allApplied();
  });
  const app = await buildApp({ vkPay, apps: [] });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    vkPay.context.publicUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const run = randomBytes(3).toString('hex');
    const pay = (prefix: string) => async (i: number) => {
      const outTradeNo = `${prefix}${run}${i.toString().padStart(7, '0')}`;
      const { client } = await vkPay.pay({
        merchantId: 'bench',
        provider: 'douyin',
        scene: 'miniprogram',
        out_trade_no: outTradeNo,
        total_fee: 100 + (i % 1000),
        subject: 'bench douyin',
        type: 'goods',
      });
      const { data, byteAuthorization } = client as { data: string; byteAuthorization: string };
      // What tt.requestOrder and the cashier do at the platform.
      const response = await fetch(`${emulator.controlUrl}/request-order`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data, byteAuthorization }),
      });
      if (!response.ok) throw new Error(`request-order answered ${response.status}`);
      emulator.gateway.pay(registered.appId, outTradeNo);
    };
    const warm = Math.min(20, payments);
    target = warm;
    await runConcurrently(warm, concurrency, pay('DYW'));
    await done;
    applied = 0;
    target = payments;
    const finished = new Promise<void>((resolve) => {
      allApplied = resolve;
    });
    const started = performance.now();
    const load = await runConcurrently(payments, concurrency, pay('DYB'));
    await finished;
    const seconds = (performance.now() - started) / 1000;
    const signsPerSecond = measureRsaSignRate(signMs);
    const paymentsPerSecond = payments / seconds;
    return {
      payments,
      concurrency,
      createPerSecond: load.perSecond,
      paymentsPerSecond,
      p50Ms: load.p50Ms,
      p99Ms: load.p99Ms,
      signsPerSecond,
      ratio: paymentsPerSecond / signsPerSecond,
    };
  } finally {
    await emulator.close();
    await app.close();
    await vkPay.close();
  }
}

// Run alone: node --import tsx bench/douyin.ts (BENCH_DATABASE_URL: on PostgreSQL in a fresh schema)
if (import.meta.url === `file://${process.argv[1]}`) {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const store: VkPayOptions = databaseUrl ? { databaseUrl, schema } : { dataDir: 'memory' };
  const result = await benchDouyin(store, Number(process.env.BENCH_CALLS ?? 300), 8, 1000).finally(
    async () => {
      if (databaseUrl) await dropSchema(databaseUrl, schema);
    },
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
