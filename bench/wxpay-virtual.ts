/**
 * WeChat mini program virtual payment: createPayment (order row plus paySig and signature) and
 * delivery pushes applied over HTTP (signature check, apply, answer), each per second, beside the
 * HMAC-SHA256 signing rate of this machine measured in the same run. A create signs twice and a
 * push hashes once, so the signing rate bounds what the crypto alone could allow.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { buildApp } from '../src/http/app.ts';
import { createWxpayVirtualProvider } from '../src/providers/wxpay-virtual/index.ts';
import { createVkPay } from '../src/vk-pay.ts';
import { runConcurrently } from './support/load.ts';

export interface WxpayVirtualBenchResult {
  orders: number;
  concurrency: number;
  createsPerSecond: number;
  createP50Ms: number;
  createP99Ms: number;
  pushesPerSecond: number;
  pushP50Ms: number;
  pushP99Ms: number;
  /** HMAC-SHA256 signatures per second of a signData-sized message, one core. */
  signsPerSecond: number;
  applied: number;
}

export function measureHmacSignRate(ms: number): number {
  const key = randomBytes(24).toString('base64url');
  const message = `requestVirtualPayment&${JSON.stringify({ offerId: '1450000000', buyQuantity: 1, env: 1, currencyType: 'CNY', platform: 'android', productId: 'coins_60', goodsPrice: 600, outTradeNo: 'VB0000000000000001', attach: '' })}`;
  let signatures = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 200; i++) createHmac('sha256', key).update(message).digest('hex');
    signatures += 200;
    elapsed = performance.now() - started;
  }
  return signatures / (elapsed / 1000);
}

export async function benchWxpayVirtual(
  orders: number,
  concurrency: number,
  signMs: number,
): Promise<WxpayVirtualBenchResult> {
  const appId = `wx${randomBytes(8).toString('hex')}`;
  const pushToken = 'benchToken01';
  const provider = createWxpayVirtualProvider({
    merchants: [
      {
        merchantId: 'bench',
        appId,
        appSecret: randomBytes(16).toString('hex'),
        offerId: '1450000000',
        appKey: randomBytes(24).toString('base64url'),
        sandboxAppKey: randomBytes(24).toString('base64url'),
        env: 1,
        pushToken,
        products: { coins_60: 600 },
        baseUrl: 'http://127.0.0.1:9',
      },
    ],
  });
  const vkPay = await createVkPay({
    dataDir: 'memory',
    logger: pino({ level: 'silent' }),
    providers: [provider],
  });
  let applied = 0;
  vkPay.onPaid('goods', () => {
    applied++;
  });
  const app = await buildApp({ vkPay, apps: [] });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    vkPay.context.publicUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const run = randomBytes(3).toString('hex');
    const tradeNo = (prefix: string, i: number) => `${prefix}${run}${i.toString().padStart(7, '0')}`;
    const sessionKey = randomBytes(16).toString('base64');
    const create = (prefix: string) => (i: number) =>
      vkPay.pay({
        merchantId: 'bench',
        provider: 'wxpay-virtual',
        out_trade_no: tradeNo(prefix, i),
        total_fee: 600,
        subject: 'bench virtual payment',
        type: 'goods',
        scene: 'miniprogram',
        openid: 'oBenchBuyer0000000000000000',
        sessionKey,
        other: { productId: 'coins_60' },
      });
    await runConcurrently(Math.min(20, orders), concurrency, create('VW'));
    const creates = await runConcurrently(orders, concurrency, create('VB'));
    const notifyUrl = `${vkPay.context.publicUrl}/notify/wxpay-virtual/bench`;
    const push = (i: number) => {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const nonce = String(i);
      const signature = createHash('sha1')
        .update([pushToken, timestamp, nonce].sort().join(''))
        .digest('hex');
      const body = JSON.stringify({
        ToUserName: 'gh_bench',
        MsgType: 'event',
        Event: 'xpay_goods_deliver_notify',
        OpenId: 'oBenchBuyer0000000000000000',
        OutTradeNo: tradeNo('VB', i),
        Env: 1,
        WeChatPayInfo: { MchOrderNo: `m${i}`, TransactionId: `42000${run}${i}`, PaidTime: Number(timestamp) },
        GoodsInfo: { ProductId: 'coins_60', Quantity: 1, OrigPrice: 600, ActualPrice: 600, Attach: '' },
      });
      return fetch(`${notifyUrl}?${new URLSearchParams({ signature, timestamp, nonce })}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }).then(async (response) => {
        const answer = await response.text();
        if (response.status !== 200) throw new Error(`push ${i} answered ${response.status} ${answer}`);
      });
    };
    const pushes = await runConcurrently(orders, concurrency, push);
    return {
      orders,
      concurrency,
      createsPerSecond: creates.perSecond,
      createP50Ms: creates.p50Ms,
      createP99Ms: creates.p99Ms,
      pushesPerSecond: pushes.perSecond,
      pushP50Ms: pushes.p50Ms,
      pushP99Ms: pushes.p99Ms,
      signsPerSecond: measureHmacSignRate(signMs),
      applied,
    };
  } finally {
    await app.close();
    await vkPay.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchWxpayVirtual(
    Number(process.env.BENCH_ORDERS ?? 500),
    Number(process.env.BENCH_CONCURRENCY ?? 8),
    Number(process.env.BENCH_SIGN_MS ?? 1000),
  );
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
