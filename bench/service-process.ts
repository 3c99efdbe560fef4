/**
 * The VK-Pay service in its own process for the benchmark: `serve()` on VKPAY_CONFIG and the
 * environment, as `vk-pay serve` runs it, with the reconciliation job off (it would query the
 * gateway about the callback phase's unpaid orders). Two IPC requests let the bench seed unpaid
 * orders and count orders by status without going through a gateway.
 */
import { pino } from 'pino';
import { serve } from '../src/cli/serve.ts';
import { loadServiceConfig } from '../src/config/service-config.ts';
import { runConcurrently } from './support/load.ts';
import { seededOrder } from './support/wxpay-notifications.ts';

export interface SeedRequest {
  type: 'seed';
  merchantId: string;
  mchId: string;
  appId: string;
  prefix: string;
  count: number;
}

export interface CountRequest {
  type: 'count';
  merchantId: string;
  prefix: string;
}

const schema = process.env.BENCH_SCHEMA;
const config = { ...loadServiceConfig(), syncIntervalMs: 0, ...(schema ? { schema } : {}) };
const service = await serve(config, pino({ level: config.logLevel, base: { service: 'vk-pay-bench' } }));
const { vkPay } = service;

async function answer(request: SeedRequest | CountRequest): Promise<unknown> {
  if (request.type === 'seed') {
    const load = await runConcurrently(request.count, 8, (i) => {
      const { outTradeNo, totalFen } = seededOrder(request.prefix, i);
      return vkPay.createOrder({
        merchantId: request.merchantId,
        mchId: request.mchId,
        appId: request.appId,
        out_trade_no: outTradeNo,
        total_fee: totalFen,
        subject: 'bench callback',
        type: 'recharge',
        provider: 'wxpay',
        scene: 'native',
      });
    });
    return { seconds: load.seconds };
  }
  const rows = await vkPay.store.db
    .selectFrom('payment_orders')
    .select(['status', (eb) => eb.fn.countAll<string>().as('orders')])
    .where('merchant_id', '=', request.merchantId)
    .where('out_trade_no', 'like', `${request.prefix}%`)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.orders)]));
}

process.on('message', (message: (SeedRequest | CountRequest) & { id: number }) => {
  answer(message).then(
    (result) => process.send!({ id: message.id, answer: result }),
    (error: unknown) => process.send!({ id: message.id, error: String((error as Error).stack ?? error) }),
  );
});
process.once('SIGTERM', () => {
  void service.close().then(() => process.exit(0));
});
process.stdout.write(`${JSON.stringify({ msg: 'VK-Pay bench service ready', url: service.url })}\n`);
