/**
 * The clients' shared core without a service: requests through a scripted request function,
 * waiting with backoff through transient failures, and the platforms' answers in the buyer's words.
 */
import { describe, expect, it } from 'vitest';
import { buyerWords, describeForBuyer } from '../../src/clients/core/buyer.ts';
import {
  type ClientResponse,
  createCoreClient,
  type RequestFunction,
} from '../../src/clients/core/client.ts';
import { readPlatformAnswer } from '../../src/clients/core/pay-result.ts';
import { createUniPayClient } from '../../src/clients/uni/index.ts';
import { ERROR_CODES, ERROR_TABLE } from '../../src/core/errors.ts';
import { BACKEND, recordedPlatform } from './recorded.ts';

const pending = { code: 0, msg: 'ok', data: { order: { out_trade_no: 'A1', status: 'NOTPAY' } } };
const paid = { code: 0, msg: 'ok', data: { order: { out_trade_no: 'A1', status: 'SUCCESS' } } };

function scripted(answers: ClientResponse[]): { request: RequestFunction; times: number[] } {
  const times: number[] = [];
  return {
    times,
    request: async () => {
      times.push(Date.now());
      const answer = answers.shift();
      if (!answer) throw new Error('no more answers');
      return answer;
    },
  };
}

describe('the client core', () => {
  it('waits through no answer, a rate limit and a busy service with growing gaps, until paid', async () => {
    const { request, times } = scripted([
      { unanswered: 'request:fail timeout' },
      { status: 429, body: undefined },
      { status: 503, body: 'busy' },
      { status: 200, body: pending },
      { status: 200, body: paid },
    ]);
    const client = createCoreClient({ request, backend: { queryPayment: '/orders/:outTradeNo' } });
    const result = await client.waitForPayment(
      { outTradeNo: 'A1' },
      { intervalMs: 40, factor: 2, maxIntervalMs: 120, timeoutMs: 5_000 },
    );
    expect(result).toMatchObject({ code: 0, data: { outTradeNo: 'A1', status: 'SUCCESS', outcome: 'paid' } });
    expect(times).toHaveLength(5);
    const gaps = times.slice(1).map((time, i) => time - times[i]!);
    // 40, 80, then capped at 120.
    expect(gaps.map((gap, i) => gap >= [40, 80, 120, 120][i]! - 5)).toEqual([true, true, true, true]);
    expect(gaps[3]).toBeLessThan(200);
  });

  it('ends the wait at once on a failure waiting does not cure, and on a cancel without AbortController', async () => {
    const missing = scripted([
      {
        status: 404,
        body: { code: 40005, msg: '订单不存在', action: '检查订单号是否正确', requestId: 'r1' },
      },
    ]);
    const client = createCoreClient({
      request: missing.request,
      backend: { queryPayment: '/o/:outTradeNo' },
    });
    expect(await client.waitForPayment({ outTradeNo: 'A1' }, { intervalMs: 10 })).toEqual({
      code: 40005,
      msg: '订单不存在',
      action: '检查订单号是否正确',
      requestId: 'r1',
    });
    expect(missing.times).toHaveLength(1);
    const signal = { aborted: false };
    const polled = scripted([
      { status: 200, body: pending },
      { status: 200, body: pending },
    ]);
    const waiting = createCoreClient({
      request: polled.request,
      backend: { queryPayment: '/o/:outTradeNo' },
    });
    setTimeout(() => {
      signal.aborted = true;
    }, 30);
    const cancelled = await waiting.waitForPayment({ outTradeNo: 'A1' }, { intervalMs: 50, signal });
    expect(cancelled).toMatchObject({ code: 0, data: { outcome: 'cancelled', status: 'NOTPAY' } });
  });

  it('reads what is not the envelope by its HTTP status, and no answer as 40004 network', async () => {
    const client = createCoreClient({
      lang: 'en',
      request: scripted([
        { status: 502, body: undefined },
        { status: 200, body: 'hello' },
        { unanswered: 'request:fail' },
      ]).request,
      backend: { queryPayment: '/o/:outTradeNo' },
    });
    expect(await client.queryPayment({ outTradeNo: 'A' })).toMatchObject({ code: 40010 });
    expect(await client.queryPayment({ outTradeNo: 'A' })).toMatchObject({ code: 50000 });
    expect(await client.queryPayment({ outTradeNo: 'A' })).toMatchObject({
      code: 40004,
      kind: 'network',
      msg: ERROR_TABLE[40004].en,
      reason: 'request:fail',
    });
  });

  it('sends the backend its headers, JSON and the language; never on checkout-token calls', async () => {
    const seen: unknown[] = [];
    const client = createCoreClient({
      baseUrl: 'https://pay.example.com/',
      backend: { createPayment: '/pay', headers: { 'x-csrf': 't' } },
      request: async (request) => {
        seen.push(request);
        return { status: 200, body: { code: 0, msg: 'ok', data: { scene: 'native', payment: {} } } };
      },
    });
    await client.createPayment({ body: { provider: 'wxpay' } });
    await client.createPayment({ checkoutToken: 'tok', provider: 'alipay' });
    expect(seen).toEqual([
      {
        url: '/pay',
        method: 'POST',
        headers: {
          accept: 'application/json',
          'accept-language': 'zh-CN',
          'content-type': 'application/json',
          'x-csrf': 't',
        },
        body: { provider: 'wxpay' },
        toBackend: true,
      },
      {
        url: 'https://pay.example.com/checkout/tok/pay',
        method: 'POST',
        headers: {
          accept: 'application/json',
          'accept-language': 'zh-CN',
          'content-type': 'application/json',
        },
        body: { provider: 'alipay' },
        toBackend: false,
      },
    ]);
  });
});

describe("uni.request as the core's request function", () => {
  it('parses a body the platform left as text, and reads request:fail as no answer', async () => {
    const recorded = recordedPlatform({
      route: (path) =>
        path === '/orders/A1'
          ? { statusCode: 200, data: JSON.stringify(paid) }
          : path === '/orders/B2'
            ? null
            : undefined,
    });
    const uni = createUniPayClient({ backend: BACKEND, uni: recorded.global, timeoutMs: 7_000 });
    expect(await uni.queryPayment({ outTradeNo: 'A1' })).toMatchObject({
      code: 0,
      data: { outcome: 'paid' },
    });
    expect(await uni.queryPayment({ outTradeNo: 'B2' })).toMatchObject({
      code: 40004,
      kind: 'network',
      reason: 'request:fail timeout',
    });
    expect(recorded.calls[0]).toEqual({
      api: 'request',
      args: {
        url: 'https://shop.example.com/orders/A1',
        method: 'GET',
        header: { accept: 'application/json', 'accept-language': 'zh-CN' },
        data: undefined,
      },
    });
  });
});

describe("the buyer's words", () => {
  it('every unified code has buyer words in both languages, unlike the developers’ table', () => {
    for (const code of ERROR_CODES) {
      for (const lang of ['zh', 'en'] as const) {
        const words = describeForBuyer(code, lang);
        expect(words.title.length).toBeGreaterThan(1);
        expect(words.text.length).toBeGreaterThan(5);
      }
    }
    expect(describeForBuyer(40002, 'zh').text).not.toContain('API');
    expect(describeForBuyer({ code: 40007 }, 'en')).toEqual(buyerWords('balance', 'en'));
    expect(buyerWords('balance', 'en').situation).toBe('balance');
    expect(describeForBuyer(40004, 'zh').title).toBe('网络连接失败');
    expect(describeForBuyer(99999, 'zh').situation).toBe('error');
  });

  it("reads each platform's answers into one outcome", () => {
    const read = (...args: Parameters<typeof readPlatformAnswer>) => {
      const { outcome, situation } = readPlatformAnswer(...args);
      return `${outcome}/${situation}`;
    };
    // WeChat (mini program, APP, JSAPI, virtual payment).
    expect(read('wechat', true, { errMsg: 'requestPayment:ok' })).toBe('paid/paid');
    expect(read('wechat', false, { errMsg: 'requestPayment:fail cancel' })).toBe('cancelled/cancelled');
    expect(read('wechat', false, { errMsg: 'get_brand_wcpay_request:cancel' })).toBe('cancelled/cancelled');
    expect(read('wechat', false, { errMsg: 'requestPayment:fail', code: -2 })).toBe('cancelled/cancelled');
    expect(read('wechat', false, { errMsg: 'requestPayment:fail', code: -8 })).toBe('failed/notInstalled');
    expect(read('wechat', false, { errMsg: 'get_brand_wcpay_request:fail' })).toBe('failed/failed');
    // Alipay: resultCode on success or fail, 62001 from uni-app's APP channel.
    expect(read('alipay', true, { resultCode: '9000' })).toBe('paid/paid');
    expect(read('alipay', true, { resultCode: 6001 })).toBe('cancelled/cancelled');
    expect(read('alipay', false, { resultCode: '6004' })).toBe('pending/pending');
    expect(read('alipay', false, { errMsg: 'requestPayment:fail', code: 62001 })).toBe('cancelled/cancelled');
    expect(
      read('alipay', true, { errMsg: 'requestPayment:ok', rawdata: '{"resultStatus":"8000","memo":""}' }),
    ).toBe('pending/pending');
    expect(read('alipay', true, { errMsg: 'requestPayment:ok', rawdata: 'not json' })).toBe('paid/paid');
    expect(read('alipay', false, { errMsg: 'requestPayment:fail' })).toBe('failed/failed');
    // Douyin tt.pay: 0 paid, 1 timeout, 2 failed, 3 closed, 4 cancelled, 9 unknown.
    expect([0, 1, 2, 3, 4, 9].map((code) => read('douyin-pay', true, { code }))).toEqual([
      'paid/paid',
      'failed/timeout',
      'failed/failed',
      'failed/closed',
      'cancelled/cancelled',
      'pending/pending',
    ]);
    expect(read('douyin-trade', false, { errNo: 21046, errMsg: 'getOrderPayment:fail 用户取消支付' })).toBe(
      'cancelled/cancelled',
    );
    // Apple IAP: SKErrorPaymentCancelled is 2.
    expect(read('appleiap', false, { errMsg: 'requestPayment:fail', code: 2 })).toBe('cancelled/cancelled');
    expect(read('appleiap', false, { errMsg: 'requestPayment:fail', code: 3 })).toBe('failed/failed');
    expect(read('wechat', false, { errMsg: 'requestPayment:fail not available on this platform' })).toBe(
      'failed/notAvailable',
    );
  });
});
