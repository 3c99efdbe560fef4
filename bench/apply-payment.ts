/**
 * applyPaymentResult throughput against the plain-INSERT throughput of the same database, measured
 * in the same run: the ratio says what the payment invariants (lock, checks, conditional update,
 * handler, notify event, log rows) cost over the cheapest durable write.
 */
import { sql } from 'kysely';
import { pino } from 'pino';
import type { PaymentResult } from '../src/providers/provider.ts';
import type { Order } from '../src/service/model.ts';
import { createVkPay, type VkPayOptions } from '../src/vk-pay.ts';
import { runConcurrently } from './support/load.ts';

export interface ApplyBenchResult {
  backend: string;
  orders: number;
  concurrency: number;
  insertsPerSecond: number;
  appliesPerSecond: number;
  ratio: number;
}

export async function benchApplyPayment(
  name: string,
  options: VkPayOptions,
  orders: number,
  concurrency: number,
): Promise<ApplyBenchResult> {
  const vkPay = await createVkPay({ logger: pino({ level: 'silent' }), ...options });
  try {
    await sql`create table if not exists bench_plain_inserts (id bigint generated always as identity primary key, out_trade_no text not null, amount integer not null, payload jsonb)`.execute(
      vkPay.store.db,
    );
    vkPay.onPaid('recharge', async ({ tx, order }) => {
      await sql`insert into bench_plain_inserts (out_trade_no, amount) values (${order.outTradeNo}, ${order.totalFen})`.execute(
        tx,
      );
    });
    const run = `${Date.now().toString(36)}`;
    const created: Order[] = [];
    for (let i = 0; i < orders; i++) {
      const { order } = await vkPay.createOrder({
        merchantId: 'bench',
        mchId: '1900000109',
        out_trade_no: `B${run}${i.toString().padStart(6, '0')}`,
        total_fee: 100 + i,
        subject: 'bench recharge',
        type: 'recharge',
        provider: 'wxpay',
        scene: 'native',
      });
      created.push(order);
    }

    const inserts = await runConcurrently(orders, concurrency, (i) =>
      sql`insert into bench_plain_inserts (out_trade_no, amount, payload) values (${`P${run}${i}`}, ${i}, ${JSON.stringify({ i })})`.execute(
        vkPay.store.db,
      ),
    );
    const applies = await runConcurrently(orders, concurrency, async (i) => {
      const order = created[i]!;
      const result: PaymentResult = {
        merchantId: 'bench',
        provider: 'wxpay',
        outTradeNo: order.outTradeNo,
        transactionId: `4200${order.outTradeNo}`,
        amountFen: order.totalFen,
        status: 'SUCCESS',
        mchId: '1900000109',
        eventId: `evt-${order.outTradeNo}`,
        source: 'notify',
        raw: { trade_state: 'SUCCESS' },
      };
      const outcome = await vkPay.applyPaymentResult(result);
      if (outcome.outcome !== 'applied')
        throw new Error(`bench order ${order.outTradeNo} was ${outcome.outcome}`);
    });
    const insertsPerSecond = inserts.perSecond;
    const appliesPerSecond = applies.perSecond;
    return {
      backend: name,
      orders,
      concurrency,
      insertsPerSecond,
      appliesPerSecond,
      ratio: appliesPerSecond / insertsPerSecond,
    };
  } finally {
    await vkPay.close();
  }
}
