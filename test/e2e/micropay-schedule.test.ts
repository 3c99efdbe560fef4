/**
 * The payment-code schedule under load: more confirming orders than one tick claims, two instances
 * ticking at once. Every order is asked about within two ticks, none twice in a tick, and each is
 * reversed exactly once when its window passes. The service's clock is moved by the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MICROPAY, type MicropaySettings } from '../../src/service/micropay.ts';
import { settleConfirmingPayments } from '../../src/service/micropay-job.ts';
import { backends } from '../support/backends.ts';
import { MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

const ORDERS = 25;
const SETTINGS: MicropaySettings = {
  ...DEFAULT_MICROPAY,
  pollMs: 5_000,
  confirmWindowMs: 45_000,
  batchSize: 10,
  reverseRetryDelayMs: 5,
};
const tradeNo = tradeNumbers('MS');

describe.each(backends)('the payment-code schedule on $name', (backend) => {
  let h: WxpayHarness;
  let clock = Date.now();
  beforeAll(async () => {
    h = await startWxpayHarness(backend, { vkPay: { now: () => new Date(clock), micropay: SETTINGS } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const callsOf = async (type: string, nos: string[]) => {
    const rows = await h.vkPay.store.db
      .selectFrom('payment_logs')
      .select('out_trade_no')
      .where('type', '=', type)
      .where('out_trade_no', 'in', nos)
      .execute();
    const counts = new Map(nos.map((no) => [no, 0]));
    for (const row of rows) counts.set(row.out_trade_no!, (counts.get(row.out_trade_no!) ?? 0) + 1);
    return counts;
  };
  /** Two instances tick at once. */
  const tick = async () => {
    clock += SETTINGS.pollMs;
    const reports = await Promise.all([
      settleConfirmingPayments(h.vkPay.context, SETTINGS),
      settleConfirmingPayments(h.vkPay.context, SETTINGS),
    ]);
    return reports.reduce((sum, report) => sum + report.checked, 0);
  };

  it('asks about every stuck order in turn, never one twice at once, and reverses each once', async () => {
    const nos: string[] = [];
    for (let i = 0; i < ORDERS; i += 1) {
      const code = (await h.control('POST', '/payment-codes', { behaviour: 'never' })).json.auth_code;
      const no = tradeNo();
      nos.push(no);
      const paid = await h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'micropay',
        out_trade_no: no,
        total_fee: 100 + i,
        subject: '排队收银',
        type: 'goods',
        auth_code: code,
      });
      expect(paid.micropay?.state).toBe('confirming');
    }
    expect(await tick()).toBe(2 * SETTINGS.batchSize);
    const first = await callsOf('query', nos);
    expect([...first.values()].every((count) => count <= 1)).toBe(true);
    expect([...first.values()].filter((count) => count === 1)).toHaveLength(2 * SETTINGS.batchSize);
    await tick();
    const second = await callsOf('query', nos);
    // The five left out are served first at the next tick.
    expect([...second.values()].every((count) => count >= 1 && count <= 2)).toBe(true);
    while (clock < Date.now() + SETTINGS.confirmWindowMs + 4 * SETTINGS.pollMs) await tick();
    const reversed = await callsOf('reverse', nos);
    expect([...reversed.values()]).toEqual(nos.map(() => 1));
    const rows = await h.vkPay.store.db
      .selectFrom('payment_orders')
      .select('status')
      .where('out_trade_no', 'in', nos)
      .execute();
    expect(rows.map((row) => row.status)).toEqual(nos.map(() => 'CLOSED'));
    // Nothing is left to claim.
    expect(await tick()).toBe(0);
  });
});
