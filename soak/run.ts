/**
 * `npm run soak`: the gateway emulator in its own process, N `vk-pay serve` instances (default 3)
 * behind a round-robin balancer, on PostgreSQL (a database made for the run, dropped after) and
 * Redis (a db number of its own, flushed after), through phases that inject process, database,
 * cache and gateway faults, each printing its figures; then the invariants, from the database and
 * the emulator's records. Exits 1 on any violated invariant. PostgreSQL and Redis are always left
 * running, whatever fails. Sizes: SOAK_PAYMENTS, SOAK_INSTANCES, ... (see sizesFrom); SOAK_QUICK=1
 * is the bounded run CI makes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { formatWebhookSecret } from '../src/core/webhooks.ts';
import { createVkPay, type VkPay } from '../src/vk-pay.ts';
import { checkInvariants } from './invariants.ts';
import { gatewayFaults } from './phases/gateway-faults.ts';
import { instanceKill } from './phases/instance-kill.ts';
import { startLostCallbacks } from './phases/lost-callbacks.ts';
import { postgresOutage, redisOutage } from './phases/outages.ts';
import { refundsAndCloses } from './phases/refunds-and-closes.ts';
import { storm } from './phases/storm.ts';
import { createClient } from './support/client.ts';
import { type Cluster, startCluster } from './support/cluster.ts';
import type { Sizes, Soak } from './support/context.ts';
import { type Gateway, startGateway } from './support/gateway.ts';
import { type Receiver, startReceiver } from './support/receiver.ts';
import { ensureServersUp } from './support/servers.ts';

const MERCHANT = 'soak';
/** The processes this run started, stopped if it is interrupted. */
const current: { cluster: Cluster | null; gateway: Gateway | null } = { cluster: null, gateway: null };
const GATEWAY_TIMEOUT_MS = 1_500;

function sizesFrom(env: NodeJS.ProcessEnv): Sizes {
  const quick = env.SOAK_QUICK === '1';
  const number = (name: string, full: number, small: number) => {
    const value = Number(env[name] ?? (quick ? small : full));
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
    return value;
  };
  const payments = number('SOAK_PAYMENTS', 3000, 300);
  return {
    quick,
    instances: number('SOAK_INSTANCES', 3, 3),
    payments,
    killPayments: number('SOAK_KILL_PAYMENTS', Math.ceil(payments / 3), 100),
    lost: number('SOAK_LOST', Math.ceil(payments / 15), 20),
    postgresPayments: number('SOAK_POSTGRES_PAYMENTS', Math.ceil(payments / 6), 60),
    redisPayments: number('SOAK_REDIS_PAYMENTS', Math.ceil(payments / 6), 60),
    gatewayFaults: number('SOAK_GATEWAY_FAULTS', Math.ceil(payments / 30), 20),
    refundOrders: number('SOAK_REFUND_ORDERS', Math.ceil(payments / 20), 20),
    concurrency: number('SOAK_CONCURRENCY', 16, 16),
  };
}

async function main(): Promise<number> {
  const sizes = sizesFrom(process.env);
  const outages = process.env.SOAK_OUTAGES !== '0';
  const adminUrl = process.env.SOAK_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisBase = process.env.SOAK_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redisUrl = `${redisBase.replace(/\/\d*$/, '')}/${process.env.SOAK_REDIS_DB ?? '13'}`;
  const database = `vkpay_soak_${randomBytes(4).toString('hex')}`;
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${database}`;
  const dir = mkdtempSync(join(tmpdir(), 'vk-pay-soak-'));
  const started = performance.now();
  process.stdout.write(
    `[soak] sizes ${JSON.stringify(sizes)}; database ${database}; Redis ${redisUrl}; logs ${dir}\n`,
  );

  let store: VkPay | null = null;
  let gateway: Gateway | null = null;
  let receiver: Receiver | null = null;
  let cluster: Cluster | null = null;
  let violations: string[] = [];
  let createdDatabase = false;
  try {
    const servers = await ensureServersUp();
    if (!servers.postgres || !servers.redis) throw new Error(`servers not up: ${JSON.stringify(servers)}`);
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${database}`);
    await admin.end();
    createdDatabase = true;
    // The schema, made once here; this connection also reads the outcome.
    store = await createVkPay({ databaseUrl: databaseUrl.href, logger: pino({ level: 'silent' }) });

    gateway = await startGateway(0.1);
    current.gateway = gateway;
    const webhookSecret = formatWebhookSecret(randomBytes(32));
    receiver = await startReceiver(webhookSecret);
    const app = { appId: 'soak-app', secret: randomBytes(24).toString('base64url') };
    const limitedApp = { appId: 'soak-limited', secret: randomBytes(24).toString('base64url') };
    const secrets: Record<string, string> = {
      'app secret': app.secret,
      'limited app secret': limitedApp.secret,
      'APIv3 key': gateway.merchant.apiV3Key,
      'merchant private key': gateway.merchant.privateKeyPem.split('\n')[5]!,
      'Alipay app private key': gateway.alipayApp.privateKeyPem.split('\n')[5]!,
      'webhook secret': webhookSecret.replace(/^whsec_/, ''),
      'webhook sealing key': randomBytes(24).toString('base64url'),
      'checkout secret': randomBytes(24).toString('base64url'),
      'encryption key': randomBytes(32).toString('hex'),
    };
    const big = { windowMs: 60_000, max: 1_000_000 };
    const configPath = join(dir, 'vk-pay.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        env: 'testing',
        apps: [
          {
            appId: app.appId,
            merchantId: MERCHANT,
            secret: app.secret,
            rateLimits: { create: big, query: big, refund: big, other: big },
          },
          {
            appId: limitedApp.appId,
            merchantId: MERCHANT,
            secret: limitedApp.secret,
            rateLimits: { query: { windowMs: 10_000, max: 5 } },
          },
        ],
        security: { ipRateLimit: { windowMs: 60_000, max: 100_000 } },
        wxpay: [
          {
            merchantId: MERCHANT,
            mchId: gateway.merchant.mchId,
            appId: gateway.merchant.appId,
            serialNo: gateway.merchant.serialNo,
            privateKey: gateway.merchant.privateKeyPem,
            apiV3Key: gateway.merchant.apiV3Key,
            wechatpayPublicKey: gateway.merchant.wechatpayPublicKey,
            baseUrl: gateway.url,
            timeoutMs: GATEWAY_TIMEOUT_MS,
          },
        ],
        alipay: [
          {
            merchantId: MERCHANT,
            appId: gateway.alipayApp.appId,
            privateKey: gateway.alipayApp.privateKeyPem,
            alipayPublicKey: gateway.alipayApp.alipayPublicKeyPem,
            baseUrl: gateway.alipayUrl,
            timeoutMs: GATEWAY_TIMEOUT_MS,
          },
        ],
        webhooks: {
          endpoints: [
            {
              id: 'soak-merchant',
              merchantId: MERCHANT,
              url: receiver.url,
              secret: webhookSecret,
              timeoutMs: 1_000,
            },
          ],
          secretKey: secrets['webhook sealing key'],
          timeFactor: 0.01,
          pollIntervalMs: 200,
          leaseMarginMs: 500,
        },
        checkout: { secret: secrets['checkout secret'] },
      }),
    );
    const env: Record<string, string | undefined> = {
      VKPAY_CONFIG: configPath,
      VKPAY_ENV: 'testing',
      VKPAY_SANDBOX: 'false',
      VKPAY_HOST: '127.0.0.1',
      VKPAY_PORT: '0',
      VKPAY_SYNC_INTERVAL_MS: '2000',
      VKPAY_LOG_LEVEL: 'info',
      VKPAY_DATA_DIR: undefined,
      VKPAY_WEBHOOK_KEY: undefined,
      VKPAY_CHECKOUT_SECRET: undefined,
      VKPAY_ALLOW_LOCAL_CACHE: undefined,
      DATABASE_URL: databaseUrl.href,
      REDIS_URL: redisUrl,
      ENCRYPTION_KEY: secrets['encryption key'],
    };
    cluster = await startCluster({ count: sizes.instances, env, logDir: dir });
    env.VKPAY_PUBLIC_URL = cluster.url;
    current.cluster = cluster;
    await Promise.all(Array.from({ length: sizes.instances }, (_, i) => cluster!.start(i)));
    process.stdout.write(
      `[soak] ${sizes.instances} instances ready behind ${cluster.url} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );

    const soak: Soak = {
      sizes,
      merchantId: MERCHANT,
      cluster,
      client: createClient(cluster.url, app),
      gateway,
      receiver,
      db: store.store.db,
      orders: new Map(),
      refunds: new Map(),
      figures: [],
      violations: [],
      prefix: `SK${randomBytes(2).toString('hex')}`,
    };
    violations = soak.violations;
    const lost = await startLostCallbacks(soak);
    await storm(soak);
    await instanceKill(soak);
    await gatewayFaults(soak, GATEWAY_TIMEOUT_MS);
    await refundsAndCloses(soak);
    if (outages) {
      await postgresOutage(soak, adminUrl, database);
      await redisOutage(soak, limitedApp);
    }
    await lost.settle();
    await checkInvariants(soak, secrets);
    await soak.client.close();
  } catch (error) {
    violations.push(`the soak itself failed: ${(error as Error).stack ?? error}`);
  } finally {
    await cluster?.stop().catch(() => {});
    await gateway?.stop().catch(() => {});
    await receiver?.close().catch(() => {});
    const servers = await ensureServersUp();
    if (!servers.postgres || !servers.redis) violations.push(`servers left down: ${JSON.stringify(servers)}`);
    await store?.close().catch(() => {});
    if (createdDatabase) {
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`drop database if exists ${database} with (force)`).catch(() => {});
      await admin.end();
    }
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis
      .connect()
      .then(() => redis.flushdb())
      .catch(() => {});
    redis.disconnect();
  }
  const seconds = (performance.now() - started) / 1000;
  if (violations.length === 0) {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    process.stdout.write(`[soak] every invariant held (${seconds.toFixed(1)} s)\n`);
    return 0;
  }
  process.stdout.write(
    `[soak] ${violations.length} violated (${seconds.toFixed(1)} s; logs kept in ${dir}):\n`,
  );
  for (const violation of violations) process.stdout.write(`  - ${violation}\n`);
  return 1;
}

// Interrupted (Ctrl-C, a CI timeout) in the middle of an outage: the servers are started again
// first, and the processes this run started are stopped.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stdout.write(`[soak] ${signal}: making sure PostgreSQL and Redis are running, then stopping\n`);
    const pids = [
      ...(current.cluster?.instances.map((instance) => instance.pid) ?? []),
      ...(current.gateway ? [current.gateway.child.pid] : []),
    ];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    void ensureServersUp().finally(() => process.exit(1));
  });
}

process.exitCode = await main();
