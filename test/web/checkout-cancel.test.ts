import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneCheckouts } from '../../src/service/checkouts.ts';
import { outTradeNo } from '../browser/harness.ts';
import { API_APP, startWxpayHarness, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { signedApi } from '../support/signed-client.ts';

const DESKTOP = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0';

describe.each(backends)('the merchant cancels a checkout ($name)', (backend) => {
  let h: WxpayHarness;
  let url: string;
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
    url = h.vkPay.context.publicUrl;
  });
  afterAll(async () => {
    await h?.close();
  });

  const api = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    signedApi(url, API_APP)(method, path, body);
  const issue = async (no: string) => {
    const answer = await api('POST', '/api/checkouts', {
      out_trade_no: no,
      total_fee: 1,
      subject: 'socks',
      type: 'goods',
      providers: ['wxpay'],
    });
    expect(answer.json.code).toBe(0);
    return answer.json.data.checkout.token as string;
  };
  const pay = async (token: string) => {
    const response = await fetch(`${url}/checkout/${token}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': DESKTOP },
      body: JSON.stringify({ provider: 'wxpay' }),
    });
    return (await response.json()) as any;
  };
  const status = async (token: string) =>
    ((await (await fetch(`${url}/checkout/${token}/status`)).json()) as any).data;

  it('before the buyer chooses: the link shows closed, paying is refused, no order is ever made', async () => {
    const no = outTradeNo('CX');
    const token = await issue(no);
    const cancelled = await api('POST', `/api/checkouts/${no}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.data).toEqual({
      checkout: { out_trade_no: no, status: 'CLOSED', cancelled_at: expect.any(String) },
      order: null,
    });
    expect(await status(token)).toMatchObject({ status: 'CLOSED', outcome: 'closed', provider: null });
    expect(await pay(token)).toMatchObject({ code: 40001, field: 'out_trade_no' });
    expect((await api('GET', `/api/payments/${no}`)).json.code).toBe(40005);
    // Again: the same answer; a new link for the number is refused.
    const again = await api('POST', `/api/checkouts/${no}/cancel`);
    expect(again.json.data.checkout.cancelled_at).toBe(cancelled.json.data.checkout.cancelled_at);
    const reissued = await api('POST', '/api/checkouts', {
      out_trade_no: no,
      total_fee: 1,
      subject: 'socks',
      type: 'goods',
    });
    expect(reissued.json).toMatchObject({ code: 40001, field: 'out_trade_no' });
  });

  it('close on an unchosen checkout cancels it the same way', async () => {
    const no = outTradeNo('CC');
    const token = await issue(no);
    const closed = await api('POST', `/api/payments/${no}/close`);
    expect(closed.json.data).toEqual({
      order: null,
      checkout: { out_trade_no: no, status: 'CLOSED', cancelled_at: expect.any(String) },
    });
    expect(await status(token)).toMatchObject({ outcome: 'closed' });
    expect((await pay(token)).code).toBe(40001);
    // An ordinary order's close answers as before; a number never used is still 40005.
    expect((await api('POST', `/api/payments/${outTradeNo('NO')}/close`)).json.code).toBe(40005);
  });

  it('after the buyer chose: the order is closed at the gateway and the link shows closed', async () => {
    const no = outTradeNo('CY');
    const token = await issue(no);
    expect((await pay(token)).code).toBe(0);
    const cancelled = await api('POST', `/api/checkouts/${no}/cancel`);
    expect(cancelled.json.data).toMatchObject({
      checkout: { out_trade_no: no, status: 'CLOSED', cancelled_at: null },
      order: { out_trade_no: no, status: 'CLOSED' },
    });
    const trade = await h.control('GET', `/trades/${h.mchId}/${no}`);
    expect(trade.json.transaction).toMatchObject({ trade_state: 'CLOSED' });
    expect(await status(token)).toMatchObject({ status: 'CLOSED', outcome: 'closed' });
    expect((await pay(token)).code).toBe(40001);
  });

  it('a paid checkout is not cancelled (40006); an unknown number is 40005', async () => {
    const no = outTradeNo('CZ');
    const token = await issue(no);
    expect((await pay(token)).code).toBe(0);
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    expect((await api('POST', `/api/checkouts/${no}/cancel`)).json.code).toBe(40006);
    expect(await status(token)).toMatchObject({ outcome: 'paid' });
    expect((await api('POST', `/api/checkouts/${outTradeNo('NO')}/cancel`)).json.code).toBe(40005);
  });

  it('expired checkouts are pruned after two days, cancelled ones kept so their number stays refused', async () => {
    const kept = outTradeNo('CK');
    const gone = outTradeNo('CG');
    await issue(kept);
    await issue(gone);
    await api('POST', `/api/checkouts/${kept}/cancel`);
    const later = new Date(Date.now() + 3 * 24 * 3600_000);
    expect(await pruneCheckouts({ ...h.vkPay.context, now: () => later })).toBeGreaterThanOrEqual(1);
    const rows = await h.vkPay.context.store.db
      .selectFrom('checkouts')
      .select('out_trade_no')
      .where('out_trade_no', 'in', [kept, gone])
      .execute();
    expect(rows.map((row) => row.out_trade_no)).toEqual([kept]);
  });

  it('a cancel racing the buyer choice ends one way only', async () => {
    for (let round = 0; round < 8; round += 1) {
      const no = outTradeNo('CR');
      const token = await issue(no);
      const [paid, cancelled] = await Promise.all([
        pay(token),
        api('POST', `/api/checkouts/${no}/cancel`).then((answer) => answer.json),
      ]);
      expect(cancelled.code).toBe(0);
      const order = await api('GET', `/api/payments/${no}`);
      if (cancelled.data.checkout.cancelled_at) {
        // Cancelled first: the choice was refused and there is no order.
        expect(paid.code).toBe(40001);
        expect(order.json.code).toBe(40005);
      } else {
        // Chosen first: the cancel closed the order the choice made.
        expect(paid.code).toBe(0);
        expect(cancelled.data.order.status).toBe('CLOSED');
        expect(order.json.data.order.status).toBe('CLOSED');
      }
      expect(await status(token)).toMatchObject({ outcome: 'closed' });
    }
  });
});
