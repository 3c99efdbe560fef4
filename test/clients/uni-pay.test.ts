/**
 * The uni-app client against the real service and the WeChat Pay / Alipay emulators: the
 * parameters each platform's uni.requestPayment gets are the ones the service created (checked
 * against the emulator where it can check them), and each platform's answer reads as one result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUniPayClient, type UniSystemInfo } from '../../src/clients/uni/index.ts';
import type { WindowLike } from '../../src/web/index.ts';
import {
  API_APP,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { BACKEND, type PlatformHandler, platformCalls, recordedPlatform } from './recorded.ts';

const OPENID = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';
const ALIPAY_BUYER = '2088102177846875';
const IPHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148';
const WECHAT_UA = `${IPHONE_UA} MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI Language/zh_CN`;

const SYSTEMS: Record<string, UniSystemInfo> = {
  'mp-weixin': { uniPlatform: 'mp-weixin', osName: 'android', deviceType: 'phone' },
  'mp-alipay': { uniPlatform: 'mp-alipay', osName: 'ios', deviceType: 'phone' },
  app: { uniPlatform: 'app', osName: 'android', deviceType: 'phone' },
  pc: {
    uniPlatform: 'web',
    osName: 'windows',
    deviceType: 'pc',
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
  },
  phone: { uniPlatform: 'web', osName: 'ios', deviceType: 'phone', ua: IPHONE_UA },
  wechat: { uniPlatform: 'web', osName: 'ios', deviceType: 'phone', ua: WECHAT_UA },
};

describe.each(backends)('the uni-app client on $name', (backend) => {
  let h: WxpayHarness;
  const next = tradeNumbers('UNI');
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
  });
  afterAll(async () => {
    await h?.close();
  });

  function client(system: keyof typeof SYSTEMS, handlers: Record<string, PlatformHandler> = {}, lang?: 'en') {
    const recorded = recordedPlatform({
      serviceUrl: h.vkPay.context.publicUrl!,
      app: API_APP,
      systemInfo: SYSTEMS[system]!,
      handlers,
    });
    const uni = createUniPayClient({ backend: BACKEND, uni: recorded.global, ...(lang ? { lang } : {}) });
    return { uni, recorded };
  }
  const order = (provider: 'wxpay' | 'alipay', extra: Record<string, unknown> = {}) => ({
    provider,
    out_trade_no: next(),
    total_fee: 1288,
    subject: 'coins',
    type: 'goods',
    ...extra,
  });
  /** What VK-Pay answered the backend's createPayment: the client parameters, unchanged. */
  const served = (recorded: ReturnType<typeof recordedPlatform>): Record<string, unknown> => {
    const entry = recorded.backend.find((found) => found.path === '/pay');
    return (entry!.answer as { data: { payment: Record<string, unknown> } }).data.payment;
  };

  it('mp-weixin: requestPayment gets exactly the five signed fields; paid reads paid once the service says so', async () => {
    const { uni, recorded } = client('mp-weixin', {
      requestPayment: async () => {
        // The buyer pays in WeChat: the emulator settles the trade and calls the service back.
        const no = recorded.backend[0]!.body!.out_trade_no as string;
        expect((await h.control('POST', `/trades/${h.mchId}/${no}/pay`, { openid: OPENID })).status).toBe(
          200,
        );
        return { ok: true, answer: { errMsg: 'requestPayment:ok' } };
      },
    });
    const body = order('wxpay', { openid: OPENID });
    const result = await uni.pay({ body }, { confirm: { intervalMs: 20, timeoutMs: 5_000 } });
    // The client context the plugin's users know, filled from the platform.
    expect(recorded.backend[0]!.body).toMatchObject({
      context: { platform: 'mp-weixin', os: 'android' },
      isPC: false,
    });
    const payment = served(recorded);
    expect(payment.scene).toBe('miniprogram');
    expect(platformCalls(recorded)).toEqual([
      {
        api: 'requestPayment',
        args: {
          provider: 'wxpay',
          timeStamp: payment.timeStamp,
          nonceStr: payment.nonceStr,
          package: payment.package,
          signType: 'RSA',
          paySign: payment.paySign,
        },
      },
    ]);
    expect(payment.package).toMatch(/^prepay_id=wx/);
    expect(payment.timeStamp).toMatch(/^\d{10}$/);
    expect(result).toMatchObject({
      outcome: 'paid',
      situation: 'paid',
      title: '支付成功',
      outTradeNo: body.out_trade_no,
    });
    const stored = await h.vkPay.getOrder(MERCHANT, body.out_trade_no);
    expect(stored.status).toBe('SUCCESS');
  });

  it("mp-weixin: the buyer's cancel and a failure come back in the buyer's words, in both languages", async () => {
    const cancel = client('mp-weixin', {
      requestPayment: () => ({ ok: false, answer: { errMsg: 'requestPayment:fail cancel' } }),
    });
    expect(await cancel.uni.pay({ body: order('wxpay', { openid: OPENID }) })).toMatchObject({
      outcome: 'cancelled',
      title: '您已取消支付',
      platform: { api: 'requestPayment', message: 'requestPayment:fail cancel' },
    });
    const failed = client(
      'mp-weixin',
      { requestPayment: () => ({ ok: false, answer: { errMsg: 'requestPayment:fail (detail message)' } }) },
      'en',
    );
    expect(await failed.uni.pay({ body: order('wxpay', { openid: OPENID }) })).toMatchObject({
      outcome: 'failed',
      situation: 'failed',
      title: 'The payment did not go through',
    });
  });

  it('app-plus wxpay: orderInfo is the APP parameters object the service signed', async () => {
    const { uni, recorded } = client('app', {
      requestPayment: () => ({
        ok: false,
        answer: { errMsg: 'requestPayment:fail [payment微信:-2]User canceled', code: -2 },
      }),
    });
    const result = await uni.pay({ body: order('wxpay') });
    const payment = served(recorded);
    expect(payment).toMatchObject({
      scene: 'app',
      package: 'Sign=WXPay',
      partnerid: h.mchId,
      appid: h.appId,
    });
    const { scene: _scene, ...orderInfo } = payment;
    expect(platformCalls(recorded)).toEqual([
      { api: 'requestPayment', args: { provider: 'wxpay', orderInfo } },
    ]);
    expect(Object.keys(orderInfo).sort()).toEqual(
      ['appid', 'noncestr', 'package', 'partnerid', 'prepayid', 'sign', 'timestamp'].sort(),
    );
    expect(result.outcome).toBe('cancelled');
  });

  it('app-plus alipay: orderInfo is the signed order string, which the Alipay emulator accepts', async () => {
    const { uni, recorded } = client('app', {
      requestPayment: async (args) => {
        const opened = await h.alipay.control('POST', '/app-orders', { orderString: args.orderInfo });
        expect(opened.status).toBe(200);
        return {
          ok: false,
          answer: { errMsg: 'requestPayment:fail [paymentAlipay:62001]user cancel', code: 62001 },
        };
      },
    });
    const result = await uni.pay({ body: order('alipay') });
    const payment = served(recorded);
    expect(platformCalls(recorded)).toEqual([
      { api: 'requestPayment', args: { provider: 'alipay', orderInfo: payment.orderString } },
    ]);
    expect(payment.orderString).toContain('method=alipay.trade.app.pay');
    expect(result).toMatchObject({ outcome: 'cancelled', situation: 'cancelled' });
  });

  it("mp-alipay: orderInfo is the trade number; Alipay's resultCode decides", async () => {
    const answers = ['9000', '6001', '8000', '4000', '6002'];
    const outcomes: string[] = [];
    for (const resultCode of answers) {
      const { uni, recorded } = client('mp-alipay', {
        requestPayment: () => ({ ok: true, answer: { resultCode } }),
      });
      const result = await uni.pay({ body: order('alipay', { openid: ALIPAY_BUYER }) });
      const payment = served(recorded);
      expect(payment).toEqual({ scene: 'miniprogram', tradeNO: expect.any(String) });
      expect(platformCalls(recorded)).toEqual([
        { api: 'requestPayment', args: { provider: 'alipay', orderInfo: payment.tradeNO } },
      ]);
      outcomes.push(`${result.outcome}/${result.situation}`);
    }
    expect(outcomes).toEqual([
      'paid/paid',
      'cancelled/cancelled',
      'pending/pending',
      'failed/failed',
      'failed/offline',
    ]);
  });

  it('a browser on a PC: isPC, and the QR code content for the page to render', async () => {
    const { uni, recorded } = client('pc');
    const body = order('wxpay');
    const result = await uni.pay({ body });
    expect(recorded.backend[0]!.body).toMatchObject({
      context: { platform: 'web', os: 'windows' },
      isPC: true,
    });
    expect(result).toMatchObject({
      outcome: 'pending',
      next: { kind: 'qr', codeUrl: served(recorded).codeUrl },
      outTradeNo: body.out_trade_no,
    });
    expect((result.next as { codeUrl: string }).codeUrl).toMatch(/^weixin:\/\/wxpay\//);
    expect(platformCalls(recorded)).toEqual([]);
  });

  function fakeWindow(errMsg = 'get_brand_wcpay_request:ok') {
    const calls: unknown[] = [];
    const win: WindowLike = {
      location: { assign: (url) => calls.push(['assign', url]) },
      document: { importNode: (node) => node, body: { appendChild: () => calls.push(['append']) } },
      DOMParser: class {
        parseFromString(text: string) {
          const action = /action="([^"]+)"/.exec(text)?.[1] ?? null;
          return {
            querySelector: () =>
              action
                ? {
                    getAttribute: () => action,
                    submit: () => calls.push(['submit', action]),
                    style: { display: '' },
                  }
                : null,
          };
        }
      },
      WeixinJSBridge: {
        invoke: (name, params, callback) => {
          calls.push(['invoke', name, params]);
          callback({ err_msg: errMsg });
        },
      },
    };
    return { win, calls };
  }

  it("WeChat's browser: WeixinJSBridge gets the JSAPI parameters; its cancel reads as cancelled", async () => {
    const { uni, recorded } = client('wechat');
    const { win, calls } = fakeWindow('get_brand_wcpay_request:cancel');
    const result = await uni.pay({ body: order('wxpay', { openid: OPENID }) }, { window: win });
    const { scene, ...params } = served(recorded);
    expect(scene).toBe('jsapi');
    expect(calls).toEqual([['invoke', 'getBrandWCPayRequest', params]]);
    expect(Object.keys(params).sort()).toEqual([
      'appId',
      'nonceStr',
      'package',
      'paySign',
      'signType',
      'timeStamp',
    ]);
    expect(result).toMatchObject({ outcome: 'cancelled', title: '您已取消支付' });
  });

  it('a phone browser: WeChat H5 redirects with the way back; Alipay on a PC submits its form', async () => {
    const phone = client('phone');
    const { win, calls } = fakeWindow();
    const h5 = await phone.uni.pay(
      { body: order('wxpay') },
      { window: win, returnUrl: 'https://shop.example.com/done' },
    );
    const h5Url = served(phone.recorded).h5Url as string;
    const url = `${h5Url}${h5Url.includes('?') ? '&' : '?'}redirect_url=${encodeURIComponent('https://shop.example.com/done')}`;
    expect(h5).toMatchObject({ outcome: 'pending', next: { kind: 'redirect', url } });
    expect(calls).toEqual([['assign', url]]);

    const pc = client('pc');
    const page = fakeWindow();
    const form = await pc.uni.pay({ body: order('alipay') }, { window: page.win });
    expect(served(pc.recorded).scene).toBe('pc');
    expect(form.next).toMatchObject({ kind: 'form' });
    expect(page.calls).toContainEqual(['submit', (form.next as { action: string }).action]);
  });

  it("the service's refusal in the buyer's words, the unified error kept beside them", async () => {
    const { uni, recorded } = client('mp-weixin');
    const result = await uni.pay({ body: order('wxpay', { openid: OPENID, total_fee: 0 }) });
    expect(result).toMatchObject({
      outcome: 'failed',
      situation: 'badRequest',
      title: '订单信息有误',
      failure: { code: 40001 },
    });
    expect(platformCalls(recorded)).toEqual([]);
    // An order the service does not know: its envelope as it is.
    const paid = await uni.queryPayment({ outTradeNo: 'NO-SUCH-ORDER' });
    expect(paid).toMatchObject({ code: 40005 });
  });

  it('waits for the order through the backend until the emulator settles it', async () => {
    const { uni } = client('pc');
    const body = order('wxpay');
    const started = await uni.pay({ body });
    expect(started.outcome).toBe('pending');
    // The buyer pays only once the first check has seen the order unpaid: the wait must then go on
    // asking until the emulator's notification has settled it.
    const seen: string[] = [];
    let paying: ReturnType<typeof h.control> | undefined;
    const waited = await uni.waitForPayment(
      { outTradeNo: body.out_trade_no },
      {
        intervalMs: 20,
        timeoutMs: 15_000,
        onStatus: (status) => {
          seen.push(status.status);
          paying ??= h.control('POST', `/trades/${h.mchId}/${body.out_trade_no}/pay`);
        },
      },
    );
    expect(waited).toMatchObject({ code: 0, data: { outcome: 'paid', status: 'SUCCESS' } });
    expect((await paying)?.status).toBe(200);
    expect(seen[0]).toBe('NOTPAY');
    expect(seen.at(-1)).toBe('SUCCESS');
    await eventually(
      () => h.vkPay.getOrder(MERCHANT, body.out_trade_no),
      (found) => found.status === 'SUCCESS',
    );
  });
});
