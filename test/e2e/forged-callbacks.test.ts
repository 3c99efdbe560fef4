/**
 * Forged callbacks: refused unread once their source has spent its budget, counted apart from the
 * payment events the error-rate alert watches, and leaving at most a sample in the journal.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VkPayApp } from '../../src/http/app.ts';
import { checkErrorRate, DEFAULT_ALERTS } from '../../src/service/monitoring.ts';
import { REJECTED_CALLBACK_LIMIT } from '../../src/service/notify.ts';
import { backends } from '../support/backends.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

const tradeNo = tradeNumbers('FC');

describe.each(backends)('forged callbacks on $name', (backend) => {
  let h: WxpayHarness;
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
  });
  afterAll(async () => {
    await h?.close();
  });

  const forge = (remoteAddress: string, path = `/notify/wxpay/${MERCHANT}`) =>
    h.app.inject({
      method: 'POST',
      url: path,
      remoteAddress,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ id: 'forged', event_type: 'TRANSACTION.SUCCESS', resource: {} }),
    });
  const journal = async () =>
    (
      await sql<{ logs: number; errors: number }>`
        select (select count(*)::int from payment_logs where type = 'notify') as logs,
               (select count(*)::int from payment_errors) as errors`.execute(h.vkPay.store.db)
    ).rows[0]!;
  const rejected = async () => {
    const metric = await (h.app as VkPayApp).metrics.callbacksRejected.get();
    return Object.fromEntries(metric.values.map((v) => [`${v.labels.provider} ${v.labels.reason}`, v.value]));
  };

  it('answers 429 unread after the budget, pages nobody and writes a bounded sample', async () => {
    // One window of the budget, whatever the wall clock does meanwhile.
    const frozen = new Date();
    const clock = h.vkPay.context.now;
    h.vkPay.context.now = () => frozen;
    try {
      await forgeriesAgainstOneWindow();
    } finally {
      h.vkPay.context.now = clock;
    }
  });

  async function forgeriesAgainstOneWindow() {
    const before = await journal();
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) statuses.push((await forge('203.0.113.9')).statusCode);
    const { max } = REJECTED_CALLBACK_LIMIT;
    expect(statuses.slice(0, max).every((status) => status === 401)).toBe(true);
    expect(statuses.slice(max).every((status) => status === 429)).toBe(true);
    const limited = await forge('203.0.113.9');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^[0-9]+$/);
    expect(limited.json()).toMatchObject({ code: 'FAIL' });

    // Another address has a budget of its own; a made-up gateway is rejected and labelled unknown.
    expect((await forge('203.0.113.10')).statusCode).toBe(401);
    expect((await forge('203.0.113.11', `/notify/paypal-${Date.now()}/${MERCHANT}`)).statusCode).toBe(404);

    const after = await journal();
    expect(after.logs - before.logs).toBe(0);
    expect(after.errors - before.errors).toBeLessThanOrEqual(2);
    expect(await rejected()).toMatchObject({
      'wxpay rate_limited': 26,
      'unknown unknown_provider': 1,
    });
    const verdicts = await rejected();
    expect(
      Object.entries(verdicts)
        .filter(([key]) => key.startsWith('wxpay ') && !key.endsWith('rate_limited'))
        .reduce((sum, [, value]) => sum + value, 0),
    ).toBe(max + 1);

    // The operators' alert, as production runs it: nothing to page about.
    const sent: unknown[] = [];
    const check = await checkErrorRate(h.vkPay.context, DEFAULT_ALERTS, async (message) => {
      sent.push(message);
    });
    expect(check.firing).toBe(false);
    expect(sent).toEqual([]);
  }

  it('a genuine callback from the gateway is applied meanwhile: only rejections spend a budget', async () => {
    const no = tradeNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 100,
      subject: 'genuine after forgeries',
      type: 'goods',
    });
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    const delivered = await eventually(
      async () => (await h.control('GET', `/notifications?out_trade_no=${no}`)).json,
      (records: Array<{ state: string }>) => records.length > 0 && records[0]!.state !== 'pending',
    );
    expect(delivered[0]).toMatchObject({ state: 'delivered' });
    expect((await h.vkPay.getOrder(MERCHANT, no)).status).toBe('SUCCESS');
  });
});
