import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_TABLE } from '../../src/core/errors.ts';
import { createClient, describeError, isSuccess, proceed, type WindowLike } from '../../src/web/index.ts';
import { type CashierHarness, outTradeNo, startCashierHarness } from '../browser/harness.ts';
import { API_APP } from '../e2e/harness.ts';
import { signed } from '../support/signed-client.ts';

describe('describeError', () => {
  it('reads the server error table in both languages', () => {
    for (const code of ERROR_CODES) {
      expect(describeError(code, 'zh')).toMatchObject({
        code,
        msg: ERROR_TABLE[code].zh,
        action: ERROR_TABLE[code].actionZh,
      });
      expect(describeError(code, 'en')).toMatchObject({
        code,
        msg: ERROR_TABLE[code].en,
        action: ERROR_TABLE[code].actionEn,
      });
    }
    expect(describeError(40007, 'en')).toEqual({
      code: 40007,
      type: 'INSUFFICIENT_BALANCE',
      msg: 'Insufficient balance',
      action: 'Ask the payer to top up or use another method',
      retryable: false,
    });
  });

  it('reads an unknown code as 50000', () => {
    expect(describeError(12345, 'zh')).toMatchObject({ code: 50000, msg: ERROR_TABLE[50000].zh });
  });
});

describe('the next step of each scene', () => {
  function fakeWindow() {
    const calls: string[] = [];
    const win: WindowLike = {
      location: { assign: (url) => calls.push(`assign ${url}`) },
      document: {
        importNode: (node) => node,
        body: { appendChild: () => calls.push('append') },
      },
      DOMParser: class {
        parseFromString(text: string) {
          const action = /action="([^"]+)"/.exec(text)?.[1] ?? null;
          return {
            querySelector: () =>
              action
                ? {
                    getAttribute: () => action,
                    submit: () => calls.push(`submit ${action}`),
                    style: { display: '' },
                  }
                : null,
          };
        }
      },
      WeixinJSBridge: {
        invoke: (name, params, callback) => {
          calls.push(`invoke ${name} ${params.package}`);
          callback({ err_msg: 'get_brand_wcpay_request:ok' });
        },
      },
    };
    return { win, calls };
  }

  it('shows a QR code, redirects to H5 with the way back, submits Alipay forms, invokes JSAPI', async () => {
    const { win, calls } = fakeWindow();
    expect(
      await proceed(
        { scene: 'native', payment: { scene: 'native', codeUrl: 'weixin://x' } },
        { window: win },
      ),
    ).toEqual({
      kind: 'qr',
      content: 'weixin://x',
    });
    expect(
      await proceed(
        { scene: 'h5', payment: { scene: 'h5', h5Url: 'https://wx.example/h5?prepay_id=1' } },
        { window: win, returnUrl: 'https://pay.example/checkout/t' },
      ),
    ).toEqual({
      kind: 'redirect',
      url: 'https://wx.example/h5?prepay_id=1&redirect_url=https%3A%2F%2Fpay.example%2Fcheckout%2Ft',
    });
    const form = '<form action="https://gw.example/gateway.do" method="POST"></form><script>x</script>';
    expect(
      await proceed(
        { scene: 'h5', payment: { scene: 'h5', payUrl: 'https://gw.example/gateway.do?a=1', form } },
        { window: win },
      ),
    ).toEqual({ kind: 'form', action: 'https://gw.example/gateway.do' });
    const jsapi = {
      scene: 'jsapi' as const,
      appId: 'wx1',
      timeStamp: '1',
      nonceStr: 'n',
      package: 'prepay_id=wx1',
      signType: 'RSA' as const,
      paySign: 's',
    };
    expect(await proceed({ scene: 'jsapi', payment: jsapi }, { window: win })).toMatchObject({
      kind: 'jsapi',
      ok: true,
    });
    expect(calls).toEqual([
      'assign https://wx.example/h5?prepay_id=1&redirect_url=https%3A%2F%2Fpay.example%2Fcheckout%2Ft',
      'append',
      'submit https://gw.example/gateway.do',
      'invoke getBrandWCPayRequest prepay_id=wx1',
    ]);
  });

  it('inside a Douyin mini app, names the tt API and its arguments without touching the page', async () => {
    const { win, calls } = fakeWindow();
    const order = {
      scene: 'miniprogram' as const,
      data: '{"outOrderNo":"A1"}',
      byteAuthorization: 'SHA256-RSA2048 appid=tt1',
    };
    expect(await proceed({ scene: 'miniprogram', payment: order }, { window: win })).toEqual({
      kind: 'douyin',
      api: 'tt.requestOrder',
      args: { data: order.data, byteAuthorization: order.byteAuthorization },
    });
    const legacy = {
      scene: 'miniprogram' as const,
      orderInfo: { order_id: 'N1', order_token: 'tok' },
      service: 5 as const,
    };
    expect(await proceed({ scene: 'miniprogram', payment: legacy }, { window: win })).toEqual({
      kind: 'douyin',
      api: 'tt.pay',
      args: { orderInfo: legacy.orderInfo, service: 5 },
    });
    expect(calls).toEqual([]);
  });

  it('only works the step out when told not to act', async () => {
    const { win, calls } = fakeWindow();
    await proceed(
      { scene: 'pc', payment: { scene: 'pc', payUrl: 'https://gw.example/p' } },
      { window: win, act: false },
    );
    expect(calls).toEqual([]);
  });
});

describe('the client against the service and the emulators', () => {
  let harness: CashierHarness;
  beforeAll(async () => {
    harness = await startCashierHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });
  const DESKTOP = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0' };

  it('pays through a checkout token and waits until the order is paid', async () => {
    const checkout = await harness.checkout({ total_fee: 88 });
    const no = JSON.parse(Buffer.from(checkout.token.split('.')[1]!, 'base64url').toString()).o;
    const client = createClient({
      baseUrl: harness.url,
      lang: 'en',
      fetch: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as object), ...DESKTOP } }),
    });
    const started = await client.createPayment({ checkoutToken: checkout.token, provider: 'wxpay' });
    if (!isSuccess(started)) throw new Error(JSON.stringify(started));
    expect(started.data).toMatchObject({
      provider: 'wxpay',
      scene: 'native',
      payment: { codeUrl: expect.stringMatching(/^weixin:/) },
    });
    const statuses: string[] = [];
    const waiting = client.waitForPayment(
      { checkoutToken: checkout.token },
      {
        intervalMs: 50,
        onStatus: (status) => statuses.push(status.outcome),
      },
    );
    await harness.wxpay.control('POST', `/trades/${harness.wxpay.mchId}/${no}/pay`);
    const done = await waiting;
    expect(done).toMatchObject({
      code: 0,
      data: { outTradeNo: no, status: 'SUCCESS', outcome: 'paid', failure: null },
    });
    expect(statuses.at(-1)).toBe('paid');
  });

  it('pays through the merchant backend, whose envelope it reads', async () => {
    // The "backend" is VK-Pay's signed API, reached through a fetch that signs like a merchant server.
    const signingFetch = (url: string, init?: RequestInit) => {
      const path = url.slice(harness.url.length);
      const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
      const request = signed(API_APP, init?.method === 'POST' ? 'POST' : 'GET', path, body);
      return fetch(url, {
        method: request.method,
        headers: request.headers,
        ...(request.payload ? { body: request.payload } : {}),
      });
    };
    const client = createClient({
      backend: {
        createPayment: `${harness.url}/api/payments`,
        queryPayment: `${harness.url}/api/payments/:outTradeNo`,
      },
      fetch: signingFetch,
    });
    const no = outTradeNo('BK');
    const started = await client.createPayment({
      body: {
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: no,
        total_fee: 5,
        subject: 'backend',
        type: 'goods',
      },
    });
    expect(started).toMatchObject({
      code: 0,
      data: { scene: 'native', payment: { codeUrl: expect.any(String) } },
    });
    expect(await client.queryPayment({ outTradeNo: no })).toMatchObject({
      code: 0,
      data: { status: 'NOTPAY', outcome: 'pending' },
    });
    const bad = await client.createPayment({
      body: { provider: 'wxpay', out_trade_no: 'x', total_fee: 1.5, subject: 's', type: 'goods' },
    });
    expect(bad).toMatchObject({
      code: 40001,
      msg: ERROR_TABLE[40001].zh,
      action: ERROR_TABLE[40001].actionZh,
    });
  });

  it('ends waiting on a closed order, a forged token, and the caller cancelling', async () => {
    const client = createClient({ baseUrl: harness.url });
    const checkout = await harness.checkout({ time_expire: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await client.waitForPayment({ checkoutToken: checkout.token }, { intervalMs: 20 })).toMatchObject({
      code: 0,
      data: { status: 'CLOSED', outcome: 'expired' },
    });
    const forged = `${checkout.token.slice(0, -4)}AAAA`;
    expect(await client.waitForPayment({ checkoutToken: forged }, { intervalMs: 20 })).toMatchObject({
      code: 40002,
    });
    const live = await harness.checkout();
    const controller = new AbortController();
    const waiting = client.waitForPayment(
      { checkoutToken: live.token },
      { intervalMs: 20, signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 60);
    expect(await waiting).toMatchObject({ code: 0, data: { outcome: 'cancelled' } });
  });

  it('keeps polling through network failures with growing gaps, then reports 40004', async () => {
    const times: number[] = [];
    const client = createClient({
      baseUrl: 'http://127.0.0.1:9',
      lang: 'en',
      fetch: async () => {
        times.push(Date.now());
        throw new TypeError('fetch failed');
      },
    });
    const answer = await client.waitForPayment(
      { checkoutToken: 't' },
      { intervalMs: 20, factor: 2, maxIntervalMs: 80, timeoutMs: 400 },
    );
    expect(answer).toMatchObject({
      code: 40004,
      msg: 'Could not reach the payment gateway',
      reason: 'fetch failed',
    });
    const gaps = times.slice(1).map((time, index) => time - times[index]!);
    expect(gaps.length).toBeGreaterThanOrEqual(3);
    expect(gaps[1]!).toBeGreaterThan(gaps[0]! * 1.5);
    expect(Math.max(...gaps)).toBeLessThan(150);
  });
});
