/**
 * The healing job over N unpaid orders against the WeChat Pay emulator in another
 * process, 1 % of them paid there with every callback dropped, the service's clock moved 15 s a
 * tick. Printed: gateway calls per tick, calls in all beside the schedule's minimum, and the wall
 * time for every order to settle beside the least that many calls can take at the gateway query
 * rate measured in the same run (the baseline: the same signed query, concurrently, no job).
 */
import { createWxpayProvider } from '../src/providers/wxpay/index.ts';
import { DEFAULT_HEAL, syncUnpaidOrders } from '../src/service/jobs.ts';
import { createVkPay, type VkPayOptions } from '../src/vk-pay.ts';
import { postJson, registerWxpayMerchant } from './support/emulators.ts';
import { runConcurrently } from './support/load.ts';

export interface HealingBenchResult {
  orders: number;
  paid: number;
  ticks: number;
  /** Gateway calls (queries and closes) the job made in each tick. */
  callsPerTick: number[];
  calls: number;
  /** Calls the schedule needs at least: the paid ones once, the others at 1 and 1.5 minutes, then a close. */
  minimumCalls: number;
  /** Wall time the ticks took, from the first due order to the last settled. */
  settleSeconds: number;
  /** Signed queries per second with the same concurrency, straight to the gateway. */
  queriesPerSecond: number;
  /** minimumCalls at queriesPerSecond: the least wall time the schedule allows. */
  minimumSeconds: number;
}

const LIFE_MS = 120_000;
const TICK_MS = 15_000;

export async function benchHealing(
  wxpayUrl: string,
  store: Pick<VkPayOptions, 'databaseUrl' | 'dataDir' | 'schema' | 'pool'>,
  orders: number,
): Promise<HealingBenchResult> {
  const merchant = await registerWxpayMerchant(wxpayUrl);
  const provider = createWxpayProvider({
    merchants: [
      {
        merchantId: 'heal',
        mchId: merchant.mchId,
        appId: merchant.appId,
        serialNo: merchant.serialNo,
        privateKey: merchant.privateKeyPem,
        apiV3Key: merchant.apiV3Key,
        wechatpayPublicKey: merchant.wechatpayPublicKey,
        baseUrl: wxpayUrl,
        timeoutMs: 10_000,
        retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 5 },
      },
    ],
  });
  let clock = Date.now();
  const vkPay = await createVkPay({
    ...store,
    providers: [provider],
    now: () => new Date(clock),
    logLevel: 'silent',
    publicUrl: 'http://127.0.0.1:9',
  });
  try {
    const prefix = `H${Date.now().toString(36)}`;
    const nos = Array.from({ length: orders }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);
    const expireAt = new Date(clock + LIFE_MS);
    await runConcurrently(nos.length, 8, async (i) => {
      await vkPay.pay({
        merchantId: 'heal',
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: nos[i]!,
        total_fee: 100,
        subject: 'heal',
        type: 'goods',
        expireAt,
      });
    });
    await postJson(`${wxpayUrl}/sandbox/faults`, {
      channel: 'notify',
      kind: 'drop',
      mchid: merchant.mchId,
      times: 'always',
    });
    const paid = nos.filter((_, i) => i % 100 === 0);
    for (const no of paid) await postJson(`${wxpayUrl}/sandbox/trades/${merchant.mchId}/${no}/pay`, {});

    // The baseline: the same signed query, as fast as the gateway answers it.
    const sample = nos.slice(0, Math.min(nos.length, 500));
    const baselineStarted = performance.now();
    await runConcurrently(sample.length, DEFAULT_HEAL.concurrency, async (i) => {
      await provider.queryPayment({ merchantId: 'heal', outTradeNo: sample[i]! });
    });
    const queriesPerSecond = sample.length / ((performance.now() - baselineStarted) / 1000);

    const callsPerTick: number[] = [];
    let settleMs = 0;
    const started = clock;
    while (clock - started <= LIFE_MS + TICK_MS) {
      clock += TICK_MS;
      const tickStarted = performance.now();
      let calls = 0;
      for (;;) {
        const report = await syncUnpaidOrders(vkPay.context, DEFAULT_HEAL);
        calls += report.checked;
        if (report.failed > 0) throw new Error(`healing: ${report.failed} orders failed in a tick`);
        if (report.checked < DEFAULT_HEAL.batchSize) break;
      }
      if (calls > 0) settleMs += performance.now() - tickStarted;
      callsPerTick.push(calls);
    }
    const left = await vkPay.store.db
      .selectFrom('payment_orders')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('merchant_id', '=', 'heal')
      .groupBy('status')
      .execute();
    const count = (status: string) => Number(left.find((row) => row.status === status)?.n ?? 0);
    if (count('SUCCESS') !== paid.length || count('CLOSED') !== orders - paid.length)
      throw new Error(`healing did not settle every order: ${JSON.stringify(left)}`);
    const calls = callsPerTick.reduce((sum, n) => sum + n, 0);
    const minimumCalls = paid.length + (orders - paid.length) * 3;
    return {
      orders,
      paid: paid.length,
      ticks: callsPerTick.length,
      callsPerTick,
      calls,
      minimumCalls,
      settleSeconds: settleMs / 1000,
      queriesPerSecond,
      minimumSeconds: minimumCalls / queriesPerSecond,
    };
  } finally {
    await fetch(`${wxpayUrl}/sandbox/faults`, { method: 'DELETE' }).catch(() => {});
    await vkPay.close();
  }
}
