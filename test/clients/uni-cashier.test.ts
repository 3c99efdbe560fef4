/**
 * The cashier popup's logic (createCashier) over the uni-app client, against the real service and
 * the WeChat Pay emulator: the methods a platform offers, the amount and the countdown, and the
 * way from choosing a method to paid, failed or cancelled, with the events the component emits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CashierEvent,
  type CashierState,
  type CashierTarget,
  cashierMethods,
  cashierTexts,
  countdown,
  createCashier,
  createUniPayClient,
  type UniLike,
  type UniSystemInfo,
  yuan,
} from '../../src/clients/uni/index.ts';
import { API_APP, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { signedApi } from '../support/signed-client.ts';
import { BACKEND, type PlatformHandler, platformCalls, recordedPlatform } from './recorded.ts';

const OPENID = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';
const MP_WEIXIN: UniSystemInfo = { uniPlatform: 'mp-weixin', osName: 'android', deviceType: 'phone' };
const PC: UniSystemInfo = {
  uniPlatform: 'web',
  osName: 'windows',
  deviceType: 'pc',
  ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
};
const FAST = { intervalMs: 20, maxIntervalMs: 50 };

describe('the cashier texts, amount, countdown and methods', () => {
  it('shows integer fen as yuan with two decimals, and nothing for an amount that is not fen', () => {
    expect(yuan(1990)).toBe('19.90');
    expect(yuan(1)).toBe('0.01');
    expect(yuan(10000)).toBe('100.00');
    expect(yuan(0)).toBe('0.00');
    expect(yuan(19.9)).toBe('');
    expect(yuan(-5)).toBe('');
  });

  it('counts down as mm:ss, rounding up to the whole second and stopping at 00:00', () => {
    expect(countdown(15 * 60_000)).toBe('15:00');
    expect(countdown(59_001)).toBe('01:00');
    expect(countdown(1)).toBe('00:01');
    expect(countdown(-3000)).toBe('00:00');
    expect(countdown(2 * 3600_000)).toBe('120:00');
  });

  it("labels the platform's methods in the buyer's language, keeping the merchant's choice and order", () => {
    expect(cashierMethods(['wxpay', 'alipay'])).toEqual([
      { provider: 'wxpay', label: '微信支付' },
      { provider: 'alipay', label: '支付宝' },
    ]);
    expect(cashierMethods(['wxpay', 'alipay'], 'en', ['alipay', 'appleiap', 'wxpay'])).toEqual([
      { provider: 'alipay', label: 'Alipay' },
      { provider: 'wxpay', label: 'WeChat Pay' },
    ]);
    expect(cashierTexts('en').otherMethod).toBe('Choose another method');
    expect(cashierTexts('zh').retry).toBe('重新支付');
    // Every action the cashier offers has a label in both languages.
    for (const lang of ['zh', 'en'] as const)
      for (const action of ['retry', 'otherMethod', 'close', 'cancel'] as const)
        expect(cashierTexts(lang)[action]).toBeTruthy();
  });
});

describe.each(backends)('the cashier on $name', (backend) => {
  let h: WxpayHarness;
  const next = tradeNumbers('CSH');
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A cashier over a recorded mini program platform; its states and events are kept in order. */
  function cashier(
    target: CashierTarget,
    handlers: Record<string, PlatformHandler> = {},
    extra: { methods?: ('wxpay' | 'alipay' | 'wxpay-virtual')[]; lang?: 'en'; system?: UniSystemInfo } = {},
  ) {
    const recorded = recordedPlatform({
      serviceUrl: h.vkPay.context.publicUrl!,
      app: API_APP,
      systemInfo: extra.system ?? MP_WEIXIN,
      handlers,
    });
    const client = createUniPayClient({
      backend: BACKEND,
      uni: recorded.global,
      ...(extra.lang ? { lang: extra.lang } : {}),
    });
    const states: CashierState[] = [];
    const events: CashierEvent[] = [];
    const made = createCashier({
      client,
      target,
      wait: FAST,
      ...(extra.methods ? { methods: extra.methods } : {}),
      ...(extra.lang ? { lang: extra.lang } : {}),
      onChange: (state) => states.push(state),
      onEvent: (event) => events.push(event),
    });
    return { made, states, events, recorded };
  }

  const body = (extra: Record<string, unknown> = {}) => ({
    out_trade_no: next(),
    total_fee: 1990,
    subject: '年度会员',
    type: 'goods',
    openid: OPENID,
    ...extra,
  });

  /** The buyer pays in WeChat: the emulator settles the trade and calls the service back. */
  const payInWechat =
    (outTradeNo: string): PlatformHandler =>
    async () => {
      expect(
        (await h.control('POST', `/trades/${h.mchId}/${outTradeNo}/pay`, { openid: OPENID })).status,
      ).toBe(200);
      return { ok: true, answer: { errMsg: 'requestPayment:ok' } };
    };

  it("offers a WeChat mini program's methods, or the merchant's choice of them", () => {
    expect(cashier({ body: body() }).made.state).toMatchObject({
      phase: 'choose',
      methods: [
        { provider: 'wxpay', label: '微信支付' },
        { provider: 'wxpay-virtual', label: '微信虚拟支付' },
      ],
      actions: ['cancel'],
    });
    expect(cashier({ body: body() }, {}, { methods: ['wxpay'] }).made.state.methods).toEqual([
      { provider: 'wxpay', label: '微信支付' },
    ]);
    // A checkout token pays with WeChat Pay or Alipay only.
    expect(cashier({ checkoutToken: 'x' }).made.state.methods.map((method) => method.provider)).toEqual([
      'wxpay',
    ]);
  });

  it('mp-weixin: choosing WeChat Pay runs requestPayment, waits for the service, and ends paid with a success event', async () => {
    const order = body();
    const { made, states, events, recorded } = cashier(
      { body: order },
      { requestPayment: payInWechat(order.out_trade_no) },
    );
    await made.choose('wxpay');
    // (The countdown's start is one more 'waiting' state.)
    expect(phases(states)).toEqual(['starting', 'waiting', 'paid']);
    expect(made.state).toMatchObject({
      phase: 'paid',
      title: '支付成功',
      actions: ['close'],
      provider: 'wxpay',
    });
    expect(platformCalls(recorded).map((call) => call.api)).toEqual(['requestPayment']);
    expect(events).toEqual([
      {
        type: 'success',
        status: expect.objectContaining({ outTradeNo: order.out_trade_no, outcome: 'paid' }),
      },
    ]);
    expect((await h.vkPay.getOrder(MERCHANT, order.out_trade_no)).status).toBe('SUCCESS');
    // The order's expiry (two hours by default) ran the countdown while waiting; a result has none.
    expect(states.find((state) => state.phase === 'waiting' && state.countdown)?.countdown).toMatch(
      /^1[12]\d:\d\d$/,
    );
    expect(made.state.countdown).toBeUndefined();

    await made.act('close');
    expect(events.at(-1)).toEqual({ type: 'close' });
  });

  it("the buyer's cancel in WeChat is a failure with every way on; paying again then succeeds", async () => {
    const order = body();
    let attempts = 0;
    const { made, events } = cashier(
      { body: order },
      {
        requestPayment: (args) => {
          attempts += 1;
          return attempts === 1
            ? { ok: false, answer: { errMsg: 'requestPayment:fail cancel' } }
            : payInWechat(order.out_trade_no)(args);
        },
      },
    );
    await made.choose('wxpay');
    expect(made.state).toMatchObject({
      phase: 'failed',
      title: '您已取消支付',
      actions: ['retry', 'otherMethod', 'close'],
    });
    expect(events).toMatchObject([{ type: 'fail', result: { outcome: 'cancelled' } }]);

    await made.act('retry');
    expect(made.state.phase).toBe('paid');
    expect(events.map((event) => event.type)).toEqual(['fail', 'success']);
    expect((await h.vkPay.getOrder(MERCHANT, order.out_trade_no)).status).toBe('SUCCESS');
  });

  it('a refusal of the service (a bad amount) is a failure with its unified code, in English', async () => {
    const { made, events } = cashier({ body: body({ total_fee: 0 }) }, {}, { lang: 'en' });
    await made.choose('wxpay');
    expect(made.state).toMatchObject({
      phase: 'failed',
      title: 'Order details are not valid',
      failure: { code: 40001 },
      actions: ['otherMethod', 'close'],
    });
    expect(events).toMatchObject([{ type: 'fail', failure: { code: 40001 } }]);
  });

  it('choosing another method goes back to the list; cancelling stops the wait and emits cancel and close', async () => {
    // The buyer never answers WeChat's sheet: the cashier waits for the service meanwhile.
    let answered = false;
    const { made, events } = cashier(
      { body: body() },
      {
        requestPayment: () =>
          new Promise((resolve) =>
            setTimeout(() => {
              answered = true;
              resolve({ ok: true, answer: { errMsg: 'requestPayment:ok' } });
            }, 50),
          ),
      },
    );
    const choosing = made.choose('wxpay');
    await made.act('otherMethod');
    expect(made.state).toMatchObject({ phase: 'choose', actions: ['cancel'] });
    expect(made.state.provider).toBeUndefined();
    await choosing;
    // The attempt the buyer left does not come back to the popup.
    expect(answered).toBe(true);
    expect(made.state.phase).toBe('choose');

    const waiting = made.choose('wxpay');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(made.state.phase).toBe('waiting');
    await made.act('cancel');
    await waiting;
    expect(made.state.phase).toBe('cancelled');
    expect(events).toEqual([{ type: 'cancel' }, { type: 'close' }]);
  });

  it('a browser on a PC: a checkout paid with WeChat Pay shows the QR code and the countdown, then success', async () => {
    const api = signedApi(h.vkPay.context.publicUrl!, API_APP);
    const outTradeNo = next();
    const created = await api('POST', '/api/checkouts', {
      out_trade_no: outTradeNo,
      total_fee: 4500,
      subject: 'Coffee beans',
      type: 'goods',
    });
    expect(created.json.code).toBe(0);
    const checkoutToken = created.json.data.checkout.token as string;
    // The page's uni.request, as a browser on a PC sends it to the service.
    const uni: UniLike = {
      getSystemInfoSync: () => PC,
      request(args) {
        fetch(args.url, {
          method: args.method,
          headers: { ...args.header, 'user-agent': PC.ua! },
          ...(args.data !== undefined ? { body: JSON.stringify(args.data) } : {}),
        }).then(
          async (response) => args.success({ statusCode: response.status, data: await response.json() }),
          (error: Error) => args.fail({ errMsg: `request:fail ${error.message}` }),
        );
      },
    };
    const client = createUniPayClient({ baseUrl: h.vkPay.context.publicUrl!, uni, lang: 'en' });
    let clock = Date.now();
    const states: CashierState[] = [];
    const made = createCashier({
      client,
      target: { checkoutToken },
      lang: 'en',
      wait: { intervalMs: 100, maxIntervalMs: 100 },
      now: () => clock,
      onChange: (state) => states.push(state),
      onEvent: () => {},
    });
    expect(made.state.methods.map((method) => method.label)).toEqual(['WeChat Pay', 'Alipay']);
    const paying = made.choose('wxpay');
    await waitUntil(() => made.state.phase === 'qr' && made.state.countdown !== undefined);
    expect(made.state).toMatchObject({
      phase: 'qr',
      text: 'Scan with WeChat to pay',
      qr: { codeUrl: expect.stringMatching(/^weixin:\/\/wxpay\/bizpayurl\?pr=/) },
      actions: ['otherMethod', 'cancel'],
    });
    expect(made.state.qr!.image).toMatch(/^data:image\/svg\+xml;base64,/);
    // The checkout's 15 minutes, counted down by the clock the component ticks.
    const left = made.state.expiresAt! - clock;
    expect(left).toBeGreaterThan(14 * 60_000);
    clock += left - 61_000;
    made.tick();
    expect(made.state.countdown).toBe('01:01');

    expect((await h.control('POST', `/trades/${h.mchId}/${outTradeNo}/pay`, { openid: OPENID })).status).toBe(
      200,
    );
    await paying;
    expect(made.state).toMatchObject({ phase: 'paid', title: 'Payment successful' });
    expect(phases(states)).toEqual(['starting', 'qr', 'paid']);
  });
});

/** The phases the cashier went through, each once however often it was redrawn there. */
function phases(states: CashierState[]): string[] {
  return states.map((state) => state.phase).filter((phase, i, all) => phase !== all[i - 1]);
}

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
