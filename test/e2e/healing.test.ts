/**
 * Healing at scale, time scaled: 5,000 unpaid orders against the WeChat Pay emulator, 1 % of them
 * paid there with every callback dropped. The job alone (no query from anyone) settles every paid
 * one, closes every other at the gateway at its expiry, and asks about no order more often than the
 * schedule allows. The service's clock is moved by the test; the emulator keeps real time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HEAL, syncUnpaidOrders } from '../../src/service/jobs.ts';
import { backends } from '../support/backends.ts';
import { MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

// 5,000 orders with VKPAY_TEST_HEAL_ORDERS=5000 (about three minutes on two cores, most of it
// RSA signatures); the suite's default keeps the same proof at a fifth of the size.
const ORDERS = Number(process.env.VKPAY_TEST_HEAL_ORDERS ?? 1000);
const PAID_SHARE = 0.01;
/** Each order may be paid for two minutes: checks at ages 1 and 1.5 minutes, closed at 2. */
const LIFE_MS = 120_000;
const TICK_MS = 15_000;
const tradeNo = tradeNumbers('HL');

// The servers when they are configured (production's store), else the embedded one.
const backend = backends.at(-1)!;

describe(`healing ${ORDERS} unpaid orders on ${backend.name}`, () => {
  let h: WxpayHarness;
  let clock = Date.now();
  beforeAll(async () => {
    h = await startWxpayHarness(backend, { vkPay: { now: () => new Date(clock) } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('settles every lost payment, closes every expired order at the gateway, on schedule', async () => {
    await h.control('POST', '/faults', { channel: 'notify', kind: 'drop', times: 'always' });
    const nos = Array.from({ length: ORDERS }, () => tradeNo());
    const expireAt = new Date(clock + LIFE_MS);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < nos.length) {
          const no = nos[next++]!;
          await h.vkPay.pay({
            merchantId: MERCHANT,
            provider: 'wxpay',
            scene: 'native',
            out_trade_no: no,
            total_fee: 100,
            subject: '自愈',
            type: 'goods',
            expireAt,
          });
        }
      }),
    );
    const paid = nos.filter((_, i) => i % Math.round(1 / PAID_SHARE) === 0);
    for (const no of paid) await h.control('POST', `/trades/${h.mchId}/${no}/pay`);

    const callsPerTick: number[] = [];
    const started = clock;
    while (clock - started <= LIFE_MS + TICK_MS) {
      clock += TICK_MS;
      let calls = 0;
      for (;;) {
        const report = await syncUnpaidOrders(h.vkPay.context, DEFAULT_HEAL);
        calls += report.checked;
        expect(report.failed).toBe(0);
        if (report.checked < DEFAULT_HEAL.batchSize) break;
      }
      callsPerTick.push(calls);
    }

    const rows = await h.vkPay.store.db
      .selectFrom('payment_orders')
      .select(['out_trade_no', 'status'])
      .where('out_trade_no', 'in', nos)
      .execute();
    const statusOf = new Map(rows.map((row) => [row.out_trade_no, row.status]));
    const paidSet = new Set(paid);
    expect(paid.every((no) => statusOf.get(no) === 'SUCCESS')).toBe(true);
    expect(nos.filter((no) => !paidSet.has(no)).every((no) => statusOf.get(no) === 'CLOSED')).toBe(true);
    // Closed at the gateway, not only here (a sample: the control API is one call per trade).
    for (const no of nos.filter((n) => !paidSet.has(n)).slice(0, 50)) {
      const trade = await h.control('GET', `/trades/${h.mchId}/${no}`);
      expect(trade.json.transaction.trade_state).toBe('CLOSED');
    }
    // Every gateway call of the job left a log row: no order was asked more than the schedule
    // allows (ages 1 and 1.5 minutes, then the close at 2), and none twice at one check.
    const calls = await h.vkPay.store.db
      .selectFrom('payment_logs')
      .select(['out_trade_no', (eb) => eb.fn.countAll<number>().as('n')])
      .where('out_trade_no', 'in', nos)
      .where('type', 'in', ['query', 'close'])
      .groupBy('out_trade_no')
      .execute();
    const most = Math.max(...calls.map((row) => Number(row.n)));
    expect(most).toBeLessThanOrEqual(3);
    const total = calls.reduce((sum, row) => sum + Number(row.n), 0);
    // The schedule's minimum: the paid ones once (at a minute), the others twice and a close.
    const minimum = paid.length + (ORDERS - paid.length) * 3;
    expect(total).toBeLessThanOrEqual(minimum);
    process.stdout.write(
      `healing ${ORDERS} orders: gateway calls per ${TICK_MS / 1000} s tick ${JSON.stringify(callsPerTick)}; ` +
        `${total} calls in all (schedule: at most ${minimum})\n`,
    );
    await h.control('DELETE', '/faults');
  }, 600_000);
});
