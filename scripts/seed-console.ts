/**
 * `npm run seed:console`: fills a store with a few thousand orders the console can show, made the
 * way real ones are: through the service, against the WeChat Pay and Alipay emulators (started
 * here, in-process), which pay, fail and refund them and call the service back. A share fail at the
 * gateway, some are closed or left unpaid, some refunded in part or in full, a few refunds go
 * abnormal and land in the review queue. Then one SQL statement moves every row of the run back in
 * time, each order with its journal, callbacks, refunds, webhooks and reviews, spread over the last
 * weeks, so the charts have history.
 *
 * The store: DATABASE_URL when set, else the embedded store in VKPAY_DATA_DIR (./data). Options:
 * SEED_ORDERS (3000), SEED_WEEKS (6).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { buildApp } from '../src/http/app.ts';
import { createAlipayProvider } from '../src/providers/alipay/index.ts';
import { createWxpayProvider } from '../src/providers/wxpay/index.ts';
import { startAlipaySandbox } from '../src/sandbox/alipay/index.ts';
import { startWxpaySandbox } from '../src/sandbox/wxpay/index.ts';
import { createVkPay } from '../src/vk-pay.ts';

const ORDERS = Number(process.env.SEED_ORDERS ?? 3000);
const WEEKS = Number(process.env.SEED_WEEKS ?? 6);
if (!Number.isInteger(ORDERS) || ORDERS < 1 || !Number.isInteger(WEEKS) || WEEKS < 1)
  throw new Error('SEED_ORDERS and SEED_WEEKS must be positive integers');
const MERCHANTS = ['shop1', 'shop2', 'shop3'];
const RUN = `S${Date.now().toString(36).toUpperCase()}`;
const out = (line: string) => process.stdout.write(`${line}\n`);

async function call(
  url: string,
  method = 'POST',
  body?: unknown,
): Promise<{ status: number; json: Record<string, string> }> {
  const response = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

// Emulated time runs a thousand times faster, so refunds settle and retries come in seconds.
const wxpayEmulator = await startWxpaySandbox({ timeFactor: 0.001 });
const alipayEmulator = await startAlipaySandbox({ timeFactor: 0.001 });
const wxpayControl = `${wxpayEmulator.url}/sandbox`;
const alipayControl = alipayEmulator.controlUrl;

const wxpayMerchants = [];
const alipayMerchants = [];
const accounts = new Map<string, { mchId: string; alipayAppId: string }>();
for (const merchantId of MERCHANTS) {
  const mchId = `19${randomBytes(4).readUInt32BE(0).toString().padStart(8, '0')}`;
  const appId = 'wx8888888888888888';
  const apiV3Key = randomBytes(16).toString('hex');
  const serialNo = randomBytes(20).toString('hex').toUpperCase();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const registered = await call(`${wxpayControl}/merchants`, 'POST', {
    mchid: mchId,
    appid: appId,
    apiV3Key,
    merchantSerialNo: serialNo,
    merchantPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    keyMode: 'publicKey',
  });
  if (registered.status !== 200) throw new Error(`wxpay emulator: ${JSON.stringify(registered.json)}`);
  wxpayMerchants.push({
    merchantId,
    mchId,
    appId,
    serialNo,
    privateKey,
    apiV3Key,
    baseUrl: wxpayEmulator.url,
    wechatpayPublicKey: { id: registered.json.publicKeyId, pem: registered.json.publicKeyPem },
  });
  const alipayKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const app = await call(`${alipayControl}/apps`, 'POST', {
    keyMode: 'publicKey',
    appPublicKey: alipayKeys.publicKey.export({ type: 'spki', format: 'pem' }),
  });
  if (app.status !== 200) throw new Error(`alipay emulator: ${JSON.stringify(app.json)}`);
  alipayMerchants.push({
    merchantId,
    appId: app.json.appId,
    privateKey: alipayKeys.privateKey,
    alipayPublicKey: app.json.alipayPublicKey,
    sellerId: app.json.sellerId,
    baseUrl: alipayEmulator.gatewayUrl,
  });
  accounts.set(merchantId, { mchId, alipayAppId: app.json.appId });
}

const vkPay = await createVkPay({
  ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
  dataDir: process.env.VKPAY_DATA_DIR || './data',
  logLevel: 'silent',
  providers: [
    createWxpayProvider({ merchants: wxpayMerchants }),
    createAlipayProvider({ merchants: alipayMerchants }),
  ],
});
const app = await buildApp({ vkPay, apps: [] });
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
vkPay.context.publicUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
out(`seeding ${ORDERS} orders (run ${RUN}) into ${vkPay.store.backend} at ${vkPay.store.location}`);

/** A small deterministic generator, so two runs of the same size look alike. */
let state = 0x2545f491;
const random = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

// Alipay's page scenes (pc, h5, app) open a trade only when the buyer visits the page: some are
// abandoned there, as at a real cashier.
const SCENES = {
  wxpay: ['native', 'jsapi', 'h5', 'app'],
  alipay: ['native', 'native', 'native', 'native', 'pc', 'h5'],
} as const;
const SUBJECTS = ['会员月卡', 'VIP 年卡', '课程：TypeScript 入门', '咖啡豆 500g', '充值 100 元', 'Gift card'];
const counts = { paid: 0, failed: 0, closed: 0, unpaid: 0, refunds: 0, abnormal: 0, errors: 0 };
const refundsToSettle: Array<{ provider: string; merchantId: string; outRefundNo: string }> = [];
const failedPayments: Array<{ merchantId: string; outTradeNo: string }> = [];

async function seedOrder(i: number): Promise<void> {
  const merchantId = i % 5 === 0 ? 'shop3' : i % 2 === 0 ? 'shop1' : 'shop2';
  const provider = random() < 0.6 ? 'wxpay' : 'alipay';
  const scene = pick(SCENES[provider]);
  const outTradeNo = `${RUN}${String(i).padStart(5, '0')}`;
  const totalFee = pick([100, 990, 1990, 2990, 9900, 12_800, 29_900]) + Math.floor(random() * 100);
  const account = accounts.get(merchantId)!;
  const trade =
    provider === 'wxpay'
      ? `${wxpayControl}/trades/${account.mchId}/${outTradeNo}`
      : `${alipayControl}/trades/${account.alipayAppId}/${outTradeNo}`;
  try {
    await vkPay.pay({
      merchantId,
      provider,
      scene,
      out_trade_no: outTradeNo,
      total_fee: totalFee,
      subject: pick(SUBJECTS),
      type: 'goods',
      user_id: `user${Math.floor(random() * 400)}`,
      ...(scene === 'jsapi' ? { openid: `oSeed${Math.floor(random() * 400)}` } : {}),
      ...(scene === 'h5' || scene === 'pc' ? { returnUrl: 'https://shop.example/return' } : {}),
      clientIp: '203.0.113.7',
    });
  } catch {
    counts.errors += 1;
    return;
  }
  const fate = random();
  if (fate < 0.72) {
    if ((await call(`${trade}/pay`)).status === 200) counts.paid += 1;
    else counts.unpaid += 1;
  } else if (fate < 0.8 && provider === 'wxpay') {
    await call(`${trade}/fail`, 'POST', { code: 'NOT_ENOUGH' });
    failedPayments.push({ merchantId, outTradeNo });
    counts.failed += 1;
  } else if (fate < 0.92) {
    await vkPay.closePayment(merchantId, outTradeNo).catch(() => {
      counts.errors += 1;
    });
    counts.closed += 1;
  } else {
    counts.unpaid += 1;
  }
}

async function settlePaid(): Promise<void> {
  // Callbacks arrive asynchronously; wait until the paid orders are paid here.
  for (let waited = 0; waited < 60; waited++) {
    const row = await sql<{ paid: number }>`select count(*)::int as paid from payment_orders
      where out_trade_no like ${`${RUN}%`} and status = 'SUCCESS'`.execute(vkPay.store.db);
    if ((row.rows[0]?.paid ?? 0) >= counts.paid * 0.98) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function refundSome(): Promise<void> {
  const paid = await vkPay.store.db
    .selectFrom('payment_orders')
    .select(['merchant_id', 'out_trade_no', 'provider', 'total_fee'])
    .where('out_trade_no', 'like', `${RUN}%`)
    .where('status', '=', 'SUCCESS')
    .orderBy('id')
    .execute();
  let n = 0;
  for (const order of paid) {
    const fate = random();
    if (fate >= 0.14) continue;
    const full = fate < 0.05;
    const outRefundNo = `${order.out_trade_no}R${n++}`;
    await vkPay
      .refund({
        merchantId: order.merchant_id,
        out_trade_no: order.out_trade_no,
        out_refund_no: outRefundNo,
        refund_fee: full ? order.total_fee : Math.max(1, Math.floor(order.total_fee / 3)),
        reason: full ? '整单退款' : '部分退款',
      })
      .then(() => {
        counts.refunds += 1;
        refundsToSettle.push({ provider: order.provider, merchantId: order.merchant_id, outRefundNo });
      })
      .catch(() => {
        counts.errors += 1;
      });
  }
}

async function settleRefunds(): Promise<void> {
  // WeChat Pay pays refunds out later: most succeed, a few the bank cannot pay out go ABNORMAL and
  // the service sends them to the review queue. Alipay answers at once.
  const wxpayRefunds = refundsToSettle.filter((refund) => refund.provider === 'wxpay');
  for (const [n, refund] of wxpayRefunds.entries()) {
    const { mchId } = accounts.get(refund.merchantId)!;
    const action = n % 12 === 5 ? 'abnormal' : 'succeed';
    const answer = await call(`${wxpayControl}/refunds/${mchId}/${refund.outRefundNo}/${action}`);
    if (answer.status === 200 && action === 'abnormal') counts.abnormal += 1;
  }
}

// A few gateway errors, as a busy day has: WeChat Pay answers some prepay calls with SYSTEM_ERROR.
await call(`${wxpayControl}/faults`, 'POST', {
  kind: 'systemError',
  operation: 'prepay',
  times: Math.ceil(ORDERS * 0.03),
});

const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < ORDERS) await seedOrder(next++);
  }),
);
await settlePaid();
// The payer's failure reaches the service when it asks, as the healing job would.
for (const [n, failed] of failedPayments.entries()) {
  // A third of those queries meet a gateway that keeps failing: errors in the journal, as outages leave.
  if (n % 3 === 0)
    await call(`${wxpayControl}/faults`, 'POST', {
      kind: 'systemError',
      operation: 'query',
      mchid: accounts.get(failed.merchantId)!.mchId,
      outTradeNo: failed.outTradeNo,
      times: 'always',
    });
  await vkPay.queryPayment(failed.merchantId, failed.outTradeNo).catch(() => {
    counts.errors += 1;
  });
}
await refundSome();
await settleRefunds();
// Let the refund callbacks and their settlement arrive.
await new Promise((resolve) => setTimeout(resolve, 5000));
for (const refund of refundsToSettle)
  await vkPay.queryRefund(refund.merchantId, refund.outRefundNo).catch(() => {});

/**
 * One statement: each order of the run gets a random age within the weeks (more of them recent),
 * and every row about it moves back by the same amount.
 */
const weeks = await sql<{ orders: number }>`
  with shift as materialized (
    select id, merchant_id, out_trade_no,
      (power(random(), 1.6) * ${WEEKS * 7 * 86_400}::float8) * interval '1 second' as by
    from payment_orders where out_trade_no like ${`${RUN}%`}
  ), orders as (
    update payment_orders o set create_date = o.create_date - s.by, update_date = o.update_date - s.by,
      paid_at = o.paid_at - s.by, closed_at = o.closed_at - s.by, expire_at = o.expire_at - s.by,
      next_check_at = o.next_check_at - s.by
    from shift s where o.id = s.id returning o.id
  ), refunds as (
    update payment_refunds r set create_date = r.create_date - s.by, update_date = r.update_date - s.by,
      success_time = r.success_time - s.by
    from shift s where r.order_id = s.id returning r.id
  ), journal as (
    update payment_logs l set create_date = l.create_date - s.by
    from shift s where l.out_trade_no = s.out_trade_no returning l.id
  ), errors as (
    update payment_errors e set create_date = e.create_date - s.by
    from shift s where e.out_trade_no = s.out_trade_no returning e.id
  ), callbacks as (
    update payment_notify_events n set create_date = n.create_date - s.by
    from shift s where n.out_trade_no = s.out_trade_no returning n.id
  ), events as (
    update webhook_events w set create_date = w.create_date - s.by
    from shift s where w.merchant_id = s.merchant_id and w.out_trade_no = s.out_trade_no returning w.id
  ), deliveries as (
    update webhook_deliveries d set create_date = d.create_date - s.by, update_date = d.update_date - s.by,
      delivered_at = d.delivered_at - s.by, next_attempt_at = d.next_attempt_at - s.by
    from webhook_events w join shift s on w.merchant_id = s.merchant_id and w.out_trade_no = s.out_trade_no
    where d.event_id = w.id returning d.id
  ), attempts as (
    update webhook_attempts a set started_at = a.started_at - s.by
    from webhook_events w join shift s on w.merchant_id = s.merchant_id and w.out_trade_no = s.out_trade_no
    where a.event_id = w.id returning a.id
  ), reviews as (
    update payment_reviews v set create_date = v.create_date - s.by, resolve_date = v.resolve_date - s.by
    from shift s where v.merchant_id = s.merchant_id and v.out_trade_no = s.out_trade_no returning v.id
  ), checkouts as (
    update checkouts c set create_date = c.create_date - s.by, update_date = c.update_date - s.by,
      expires_at = c.expires_at - s.by
    from shift s where c.merchant_id = s.merchant_id and c.out_trade_no = s.out_trade_no returning 1
  )
  select (select count(*) from orders)::int as orders, (select count(*) from refunds)::int as refunds,
    (select count(*) from journal)::int as journal, (select count(*) from errors)::int as errors,
    (select count(*) from callbacks)::int as callbacks, (select count(*) from events)::int as events,
    (select count(*) from deliveries)::int as deliveries, (select count(*) from attempts)::int as attempts,
    (select count(*) from reviews)::int as reviews, (select count(*) from checkouts)::int as checkouts`.execute(
  vkPay.store.db,
);
// The journal rows moved into hours the rollup job may have summed already: it sums them again.
await sql`delete from journal_rollup_progress`.execute(vkPay.store.db);
await sql`delete from journal_hourly`.execute(vkPay.store.db);
await sql`delete from journal_periods`.execute(vkPay.store.db);
out(
  `done in ${((performance.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}; ` +
    `moved back over ${WEEKS} weeks: ${JSON.stringify(weeks.rows[0])}`,
);

await app.close();
await vkPay.close();
await wxpayEmulator.close();
await alipayEmulator.close();
