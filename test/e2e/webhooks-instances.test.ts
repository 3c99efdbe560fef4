/**
 * Merchant webhooks from three `vk-pay serve` processes on one PostgreSQL schema and one Redis:
 * 2,000 payments whose signed WeChat Pay callbacks each reach two instances, in shuffled order, and
 * one instance killed with SIGKILL while deliveries it claimed are in flight. Every event reaches
 * the merchant at least once, no attempt is sent twice, paid orders and events match one to one,
 * and the killed instance's claims are delivered by the others once their lease runs out.
 * Runs only when the servers are configured (VKPAY_TEST_DATABASE_URL and VKPAY_TEST_REDIS_URL).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, startChild } from '../../bench/support/children.ts';
import { newWxpayMerchantKeys } from '../../bench/support/emulators.ts';
import { runConcurrently } from '../../bench/support/load.ts';
import {
  newGatewayKey,
  paymentNotification,
  type SignedNotification,
  seededOrder,
} from '../../bench/support/wxpay-notifications.ts';
import { formatWebhookSecret } from '../../src/core/webhooks.ts';
import { dropSchema } from '../../src/store/db.ts';
import { createVkPay, type VkPay } from '../../src/vk-pay.ts';
import { serverUrls, uniqueName } from '../support/backends.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const ORDERS = 2000;
const CONCURRENCY = 32;
const MERCHANT = 'whshop';
const ENDPOINT_TIMEOUT_MS = 2000;
const LEASE_MARGIN_MS = 1000;
/** While the kill is arranged the merchant answers this late, so claims are held in flight. */
const RECEIVER_HOLD_MS = 1500;
const servers = Boolean(serverUrls.databaseUrl && serverUrls.redisUrl);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Instance {
  child: Child<{ url: string }>;
  alive: boolean;
}

interface Kill {
  pid: number;
  killedAt: number;
  /** Deliveries the killed instance had claimed and never recorded: its attempt number, the lease's end. */
  orphaned: Array<{ id: number; event_id: string; attempts: number; next_attempt_at: Date | null }>;
  /** Of those, the ones whose request the merchant had received and was still holding at the kill. */
  inFlight: number[];
}

describe.skipIf(!servers)('webhooks from three service processes on PostgreSQL + Redis', () => {
  const schema = uniqueName('whi');
  const prefix = `H${randomBytes(3).toString('hex')}`;
  let dir = '';
  const instances: Instance[] = [];
  const seconds: Record<string, number> = {};
  let receiver: WebhookReceiver;
  let store: VkPay;
  let notifications: SignedNotification[] = [];

  beforeAll(async () => {
    const started = performance.now();
    dir = mkdtempSync(join(tmpdir(), 'vk-pay-webhooks-'));
    const secret = formatWebhookSecret(randomBytes(32));
    receiver = await startWebhookReceiver([secret]);
    const gatewayKey = newGatewayKey();
    const { publicKeyPem: _registeredNowhere, ...merchant } = newWxpayMerchantKeys();

    // The orders, unpaid, through the library on the same schema; it stays open to read the outcome.
    store = await createVkPay({
      databaseUrl: serverUrls.databaseUrl,
      schema,
      logger: pino({ level: 'silent' }),
    });
    await runConcurrently(ORDERS, 8, (i) => {
      const { outTradeNo, totalFen } = seededOrder(prefix, i);
      return store.createOrder({
        merchantId: MERCHANT,
        mchId: merchant.mchId,
        appId: merchant.appId,
        out_trade_no: outTradeNo,
        total_fee: totalFen,
        subject: 'webhooks across instances',
        type: 'recharge',
        provider: 'wxpay',
        scene: 'native',
      });
    });

    const configPath = join(dir, 'vk-pay.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        env: 'development',
        wxpay: [
          {
            merchantId: MERCHANT,
            mchId: merchant.mchId,
            appId: merchant.appId,
            serialNo: merchant.serialNo,
            privateKey: merchant.privateKeyPem,
            apiV3Key: merchant.apiV3Key,
            wechatpayPublicKey: { id: gatewayKey.id, pem: gatewayKey.publicKeyPem },
            // Never called: the test plays the gateway's callbacks and the sync job is off.
            baseUrl: 'http://127.0.0.1:9',
          },
        ],
        webhooks: {
          endpoints: [
            {
              id: 'merchant-backend',
              merchantId: MERCHANT,
              url: `${receiver.url}/vk-pay/webhooks`,
              secret,
              timeoutMs: ENDPOINT_TIMEOUT_MS,
            },
          ],
          timeFactor: 0.001,
          pollIntervalMs: 200,
          leaseMarginMs: LEASE_MARGIN_MS,
        },
      }),
    );
    const databaseUrl = new URL(serverUrls.databaseUrl!);
    databaseUrl.searchParams.set('options', `-c search_path=${schema}`);
    const children = await Promise.all(
      [0, 1, 2].map(() =>
        startChild<{ url: string }>({
          args: ['bin/vk-pay.mjs', 'serve'],
          readyMsg: 'VK-Pay ready',
          timeoutMs: 60_000,
          env: {
            VKPAY_CONFIG: configPath,
            VKPAY_ENV: 'development',
            VKPAY_SANDBOX: 'false',
            VKPAY_HOST: '127.0.0.1',
            VKPAY_PORT: '0',
            VKPAY_PUBLIC_URL: undefined,
            VKPAY_SYNC_INTERVAL_MS: '0',
            // The ready line is an info line.
            VKPAY_LOG_LEVEL: 'info',
            VKPAY_DATA_DIR: undefined,
            VKPAY_WEBHOOK_KEY: undefined,
            DATABASE_URL: databaseUrl.href,
            REDIS_URL: serverUrls.redisUrl,
          },
        }),
      ),
    );
    for (const child of children) instances.push({ child, alive: true });

    const now = Date.now();
    notifications = Array.from({ length: ORDERS }, (_, i) =>
      paymentNotification(gatewayKey, merchant, seededOrder(prefix, i), now),
    );
    seconds.setup = (performance.now() - started) / 1000;
  }, 120_000);

  afterAll(async () => {
    for (const instance of instances) await instance.child.stop();
    await receiver?.close();
    await store?.close();
    if (serverUrls.databaseUrl) await dropSchema(serverUrls.databaseUrl, schema);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Sends one callback to an instance; a dead one's share goes to the next, as the gateway retries. */
  async function sendCallback(notification: SignedNotification, planned: number): Promise<void> {
    let target = planned;
    let last = '';
    for (let tries = 0; tries < 3 * instances.length; tries++) {
      const instance = instances[target]!;
      if (instance.alive) {
        try {
          const answer = await fetch(`${instance.child.ready.url}/notify/wxpay/${MERCHANT}`, {
            method: 'POST',
            headers: notification.headers,
            body: notification.body,
          });
          const text = await answer.text();
          if (answer.ok) return;
          last = `HTTP ${answer.status}: ${text.slice(0, 200)}`;
        } catch (error) {
          // The instance was killed with this callback in flight; it is sent again elsewhere.
          last = String(error);
        }
      }
      target = (target + 1) % instances.length;
    }
    throw new Error(`no instance took a callback: ${last}`);
  }

  /** Holds the merchant's answers until the victim has sends in flight, then kills it. */
  async function killWhileDelivering(victim: Instance): Promise<Kill> {
    const pid = victim.child.pid;
    const db = store.store.db;
    const claimedByVictim = () =>
      db
        .selectFrom('webhook_deliveries')
        .select(['id', 'event_id', 'attempts', 'next_attempt_at'])
        .where('status', '=', 'DELIVERING')
        .where('claimed_by', 'like', `%:${pid}:%`)
        .execute();
    receiver.delayMs = RECEIVER_HOLD_MS;
    // Sends that arrived before the hold began were answered at once: only later ones are held.
    const holdFrom = Date.now();
    try {
      const deadline = Date.now() + 20_000;
      let inFlight: number[] = [];
      while (inFlight.length === 0) {
        if (Date.now() > deadline) throw new Error('the victim never held a delivery in flight');
        await sleep(20);
        const claimed = await claimedByVictim();
        // Arrived less than a second ago: its answer is still held, the victim is waiting for it.
        // Nothing is awaited between this check and the kill, so the receiver cannot answer first.
        const since = Math.max(Date.now() - (RECEIVER_HOLD_MS - 500), holdFrom);
        const held = new Set(receiver.received.filter((r) => r.at >= since).map((r) => r.id));
        inFlight = claimed.filter((row) => held.has(row.event_id)).map((row) => row.id);
      }
      victim.alive = false;
      const exited = new Promise((resolve) => victim.child.process.once('exit', resolve));
      victim.child.process.kill('SIGKILL');
      const killedAt = Date.now();
      await exited;
      // Read at once, before any lease runs out, and again once statements the victim had already
      // sent have finished (or rolled back) in PostgreSQL.
      const orphaned = new Map((await claimedByVictim()).map((row) => [row.id, row]));
      await sleep(500);
      for (const row of await claimedByVictim()) orphaned.set(row.id, row);
      return { pid, killedAt, orphaned: [...orphaned.values()], inFlight };
    } finally {
      receiver.delayMs = 0;
    }
  }

  it('every payment event is delivered at least once, each attempt sent once, and a killed instance’s claims are taken over', async () => {
    const started = performance.now();
    // Each callback reaches two different instances, as a gateway retrying through a balancer.
    const sends = notifications.flatMap((notification) => {
      const first = Math.floor(Math.random() * 3);
      const second = (first + 1 + Math.floor(Math.random() * 2)) % 3;
      return [first, second].map((instance) => ({ instance, notification }));
    });
    for (let k = sends.length - 1; k > 0; k--) {
      const j = Math.floor(Math.random() * (k + 1));
      [sends[k], sends[j]] = [sends[j]!, sends[k]!];
    }
    const victim = instances[2]!;
    let sent = 0;
    let killing: Promise<Kill> | null = null;
    await runConcurrently(sends.length, CONCURRENCY, async (k) => {
      const { notification, instance } = sends[k]!;
      await sendCallback(notification, instance);
      sent += 1;
      if (sent === Math.floor(sends.length * 0.4)) {
        killing = killWhileDelivering(victim);
        // Awaited once the callbacks are sent; until then a failure must not count as unhandled.
        killing.catch(() => undefined);
      }
    });
    seconds.callbacks = (performance.now() - started) / 1000;
    expect(killing).not.toBeNull();
    const kill = await (killing as unknown as Promise<Kill>);

    const db = store.store.db;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const pending = await db
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '<>', 'DELIVERED')
        .executeTakeFirstOrThrow();
      if (Number(pending.n) === 0) break;
      if (Date.now() > deadline) throw new Error(`${pending.n} deliveries still not delivered after 60 s`);
      await sleep(200);
    }
    seconds.settled = (performance.now() - started) / 1000;

    const orders = await db
      .selectFrom('payment_orders')
      .select(['out_trade_no', 'status', 'user_order_success'])
      .where('merchant_id', '=', MERCHANT)
      .execute();
    const events = await db
      .selectFrom('webhook_events')
      .select(['id', 'type', 'out_trade_no'])
      .where('merchant_id', '=', MERCHANT)
      .execute();
    const deliveries = await db
      .selectFrom('webhook_deliveries')
      .select(['id', 'event_id', 'status', 'attempts', 'claimed_by'])
      .execute();
    const attempts = await db
      .selectFrom('webhook_attempts')
      .select(['delivery_id', 'attempt', 'instance', 'ok', 'status_code', 'started_at'])
      .execute();

    // Every order paid and confirmed by the merchant's acknowledgement, with exactly one event.
    expect(orders).toHaveLength(ORDERS);
    expect(orders.filter((o) => o.status !== 'SUCCESS')).toEqual([]);
    expect(orders.filter((o) => !o.user_order_success)).toEqual([]);
    expect(events.every((e) => e.type === 'payment.succeeded')).toBe(true);
    const eventsOf = new Map<string, number>();
    for (const event of events)
      eventsOf.set(event.out_trade_no!, (eventsOf.get(event.out_trade_no!) ?? 0) + 1);
    // No change without its event, no event without its change.
    expect(orders.filter((o) => eventsOf.get(o.out_trade_no) !== 1).map((o) => o.out_trade_no)).toEqual([]);
    expect(events.length).toBe(ORDERS);

    // One delivery per event (one endpoint), each delivered.
    const deliveryOf = new Map(deliveries.map((d) => [d.event_id, d]));
    expect(deliveries).toHaveLength(events.length);
    expect(events.filter((e) => !deliveryOf.has(e.id))).toEqual([]);
    expect(deliveries.filter((d) => d.status !== 'DELIVERED')).toEqual([]);

    // The merchant saw every event, each one signed so the Standard Webhooks library verifies it.
    expect(receiver.received.filter((r) => !r.verified[0])).toEqual([]);
    expect(new Set(receiver.received.map((r) => r.id))).toEqual(new Set(events.map((e) => e.id)));

    // Each claim is one attempt, recorded once, except the killed instance's unrecorded ones; the
    // merchant never got more sends of an event than it had claims.
    const pairs = new Set(attempts.map((a) => `${a.delivery_id}:${a.attempt}`));
    expect(pairs.size).toBe(attempts.length);
    const rowsOf = new Map<number, typeof attempts>();
    for (const a of attempts) rowsOf.set(a.delivery_id, [...(rowsOf.get(a.delivery_id) ?? []), a]);
    const arrivalsOf = new Map<string, number[]>();
    for (const r of receiver.received) arrivalsOf.set(r.id, [...(arrivalsOf.get(r.id) ?? []), r.at]);
    const orphaned = new Map(kill.orphaned.map((o) => [o.id, o]));
    const unaccounted = deliveries.flatMap((d) => {
      const rows = rowsOf.get(d.id) ?? [];
      const lost = orphaned.has(d.id) ? 1 : 0;
      const arrivals = arrivalsOf.get(d.event_id)?.length ?? 0;
      const answered = rows.filter((a) => a.status_code !== null).length;
      return d.attempts === rows.length + lost && arrivals <= rows.length + lost && answered <= arrivals
        ? []
        : [{ delivery: d.id, attempts: d.attempts, rows: rows.length, lost, arrivals, answered }];
    });
    expect(unaccounted).toEqual([]);

    // The killed instance's sends that reached the merchant before it died were delivered again,
    // after its lease ran out, by another instance.
    expect(kill.orphaned.length).toBeGreaterThan(0);
    const victimId = `:${kill.pid}:`;
    const orphanedIds = new Set(kill.orphaned.map((o) => o.id));
    expect(kill.inFlight.filter((id) => !orphanedIds.has(id))).toEqual([]);
    const caught = kill.orphaned.filter((o) => kill.inFlight.includes(o.id));
    expect(caught.length).toBeGreaterThan(0);
    for (const o of kill.orphaned) {
      const delivery = deliveryOf.get(o.event_id)!;
      const rows = rowsOf.get(o.id) ?? [];
      expect(delivery.attempts).toBeGreaterThanOrEqual(2);
      expect(delivery.claimed_by).not.toContain(victimId);
      expect(rows.find((a) => a.attempt === o.attempts)).toBeUndefined();
      expect(rows.some((a) => a.ok && a.attempt > o.attempts && !a.instance.includes(victimId))).toBe(true);
      // Nobody sent it again while the claim held.
      const leaseEnd = o.next_attempt_at!.getTime();
      expect(rows.filter((a) => a.attempt > o.attempts && a.started_at.getTime() < leaseEnd - 50)).toEqual(
        [],
      );
    }
    for (const o of caught) {
      expect(arrivalsOf.get(o.event_id)!.some((at) => at > kill.killedAt)).toBe(true);
    }
    // All three instances delivered; after the kill only the two others did.
    const byInstance = new Set(attempts.map((a) => a.instance.split(':')[1]));
    expect(byInstance.size).toBe(3);
    const afterKill = attempts.filter(
      (a) => a.instance.includes(victimId) && a.started_at.getTime() > kill.killedAt,
    );
    expect(afterKill).toEqual([]);

    process.stdout.write(
      `webhooks across instances: ${ORDERS} orders, ${sends.length} callbacks, ${events.length} events, ` +
        `${receiver.received.length} arrivals, ${attempts.length} attempts; killed pid ${kill.pid} holding ` +
        `${kill.orphaned.length} claims (${caught.length} held at the merchant); setup ${seconds.setup!.toFixed(1)} s, ` +
        `callbacks ${seconds.callbacks!.toFixed(1)} s, settled ${seconds.settled!.toFixed(1)} s\n`,
    );
  }, 180_000);
});
