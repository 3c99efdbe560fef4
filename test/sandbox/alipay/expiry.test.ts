import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import {
  controlJson,
  type NotifyReceiver,
  postForm,
  registerTestApp,
  signedRequest,
  startNotifyReceiver,
  type TestApp,
  waitFor,
} from './helpers.ts';

const MINUTE = 60_000;
const beijing = (epochMs: number) =>
  new Date(epochMs + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

describe('trade expiry (time_expire, timeout_express)', () => {
  let sandbox: RunningAlipaySandbox;
  let app: TestApp;
  let receiver: NotifyReceiver;
  let nowMs = Date.parse('2026-03-10T02:00:00Z'); // 10:00 in Beijing
  let sequence = 0;

  beforeAll(async () => {
    sandbox = await startAlipaySandbox({ timeFactor: 0.001, clock: { now: () => nowMs } });
    app = await registerTestApp(sandbox);
    receiver = await startNotifyReceiver();
  });
  afterAll(async () => {
    await sandbox.close();
    await receiver.close();
  });

  const control = (outTradeNo: string, action: string, body: unknown = {}) =>
    controlJson<Record<string, unknown>>(
      `${sandbox.controlUrl}/trades/${app.appId}/${outTradeNo}/${action}`,
      body,
    );
  const status = async (outTradeNo: string) =>
    (await app.call('alipay.trade.query', { out_trade_no: outTradeNo })).inner.trade_status;
  const nextNo = () => `EXP-${++sequence}`;

  it('closes a trade at its time_expire: the query says TRADE_CLOSED, the merchant hears it, the buyer cannot pay', async () => {
    const outTradeNo = nextNo();
    const created = await app.call(
      'alipay.trade.create',
      {
        out_trade_no: outTradeNo,
        total_amount: '1.00',
        subject: 'expiring',
        buyer_id: '2088000000000009',
        time_expire: beijing(nowMs + 10 * MINUTE),
      },
      { notify_url: receiver.url },
    );
    expect(created.inner.code).toBe('10000');
    nowMs += 9 * MINUTE;
    expect(await status(outTradeNo)).toBe('WAIT_BUYER_PAY');
    nowMs += 2 * MINUTE;
    expect(await status(outTradeNo)).toBe('TRADE_CLOSED');
    const closed = await waitFor(() =>
      receiver.received.find(
        (n) => n.params.out_trade_no === outTradeNo && n.params.trade_status === 'TRADE_CLOSED',
      ),
    );
    expect(closed.params.gmt_close).toBe(beijing(nowMs - MINUTE));
    const pay = await control(outTradeNo, 'pay');
    expect(pay.status).toBe(409);
    expect(pay.json.sub_code).toBe('ACQ.TRADE_HAS_CLOSE');
  });

  it('counts timeout_express for a precreated trade from the scan', async () => {
    const outTradeNo = nextNo();
    await app.call('alipay.trade.precreate', {
      out_trade_no: outTradeNo,
      total_amount: '2.00',
      subject: 'qr',
      timeout_express: '30m',
    });
    nowMs += 60 * MINUTE;
    expect((await control(outTradeNo, 'scan')).json.tradeStatus).toBe('WAIT_BUYER_PAY');
    nowMs += 29 * MINUTE;
    expect(await status(outTradeNo)).toBe('WAIT_BUYER_PAY');
    nowMs += 2 * MINUTE;
    expect(await status(outTradeNo)).toBe('TRADE_CLOSED');
  });

  it('closes a trade after 15 days when neither is given, and at midnight for 1c', async () => {
    const unbounded = nextNo();
    const today = nextNo();
    for (const [outTradeNo, extra] of [
      [unbounded, {}],
      [today, { timeout_express: '1c' }],
    ] as const) {
      await app.call('alipay.trade.create', {
        out_trade_no: outTradeNo,
        total_amount: '3.00',
        subject: 'defaults',
        buyer_id: '2088000000000009',
        ...extra,
      });
    }
    const midnight = Date.parse(`${beijing(nowMs).slice(0, 10)}T16:00:00Z`);
    nowMs = midnight - 1000;
    expect(await status(today)).toBe('WAIT_BUYER_PAY');
    nowMs = midnight;
    expect(await status(today)).toBe('TRADE_CLOSED');
    nowMs += 14 * 86_400_000;
    expect(await status(unbounded)).toBe('WAIT_BUYER_PAY');
    nowMs += 86_400_000;
    expect(await status(unbounded)).toBe('TRADE_CLOSED');
  });

  it('shows an expired page trade as closed to the buyer', async () => {
    const outTradeNo = nextNo();
    const opened = await postForm(
      sandbox.gatewayUrl,
      signedRequest(
        app.appId,
        'alipay.trade.page.pay',
        {
          out_trade_no: outTradeNo,
          total_amount: '4.00',
          subject: 'page',
          product_code: 'FAST_INSTANT_TRADE_PAY',
          timeout_express: '5m',
        },
        app.keys.privateKey,
      ),
    );
    expect(opened.text).toContain('<form');
    nowMs += 6 * MINUTE;
    const view = await controlJson<{ tradeStatus: string; payerPageUrl: string }>(
      `${sandbox.controlUrl}/trades/${app.appId}/${outTradeNo}`,
    );
    expect(view.json.tradeStatus).toBe('TRADE_CLOSED');
    const page = await fetch(`${view.json.payerPageUrl}/pay`, { method: 'POST' });
    expect(page.status).toBe(409);
    expect(await page.text()).toContain('ACQ.TRADE_HAS_CLOSE');
  });

  it('refuses a malformed timeout_express or time_expire, and a time_expire already past', async () => {
    for (const extra of [
      { timeout_express: '1.5h' },
      { timeout_express: '16d' },
      { timeout_express: '0m' },
      { time_expire: '2026/03/10 12:00' },
      { time_expire: beijing(nowMs - MINUTE) },
    ]) {
      const answer = await app.call('alipay.trade.precreate', {
        out_trade_no: nextNo(),
        total_amount: '1.00',
        subject: 'bad',
        ...extra,
      });
      expect(answer.inner, JSON.stringify(extra)).toMatchObject({
        code: '40004',
        sub_code: 'ACQ.INVALID_PARAMETER',
      });
    }
  });
});
