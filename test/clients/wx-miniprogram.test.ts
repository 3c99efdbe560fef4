/**
 * The native WeChat mini program client against the real service and the WeChat Pay emulator:
 * wx.request to the merchant backend, wx.requestPayment with the five signed fields, the answers
 * in the buyer's words, and the service's word after WeChat's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWxPayClient } from '../../src/clients/wx-miniprogram/index.ts';
import { API_APP, startWxpayHarness, tradeNumbers, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { BACKEND, type PlatformHandler, platformCalls, recordedPlatform } from './recorded.ts';

const OPENID = 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o';

describe.each(backends)('the WeChat mini program client on $name', (backend) => {
  let h: WxpayHarness;
  const next = tradeNumbers('WXMP');
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
  });
  afterAll(async () => {
    await h?.close();
  });

  function client(handlers: Record<string, PlatformHandler>, platform = 'ios', lang?: 'en') {
    const recorded = recordedPlatform({
      serviceUrl: h.vkPay.context.publicUrl!,
      app: API_APP,
      systemInfo: { platform },
      handlers,
    });
    return {
      wx: createWxPayClient({ backend: BACKEND, wx: recorded.global, ...(lang ? { lang } : {}) }),
      recorded,
    };
  }
  const body = () => ({
    provider: 'wxpay',
    openid: OPENID,
    out_trade_no: next(),
    total_fee: 990,
    subject: 'vip',
    type: 'goods',
  });

  it('wx.requestPayment gets exactly timeStamp, nonceStr, package, signType, paySign; the service confirms', async () => {
    const order = body();
    const { wx, recorded } = client({
      requestPayment: async () => {
        expect(
          (await h.control('POST', `/trades/${h.mchId}/${order.out_trade_no}/pay`, { openid: OPENID }))
            .status,
        ).toBe(200);
        return { ok: true, answer: { errMsg: 'requestPayment:ok' } };
      },
    });
    const result = await wx.pay({ body: order }, { confirm: { intervalMs: 20, timeoutMs: 5_000 } });
    expect(recorded.backend[0]!.body).toEqual({ ...order, context: { platform: 'mp-weixin', os: 'ios' } });
    const payment = (recorded.backend[0]!.answer as { data: { payment: Record<string, string> } }).data
      .payment;
    expect(payment.scene).toBe('miniprogram');
    expect(platformCalls(recorded)).toEqual([
      {
        api: 'requestPayment',
        args: {
          timeStamp: payment.timeStamp,
          nonceStr: payment.nonceStr,
          package: payment.package,
          signType: payment.signType,
          paySign: payment.paySign,
        },
      },
    ]);
    expect(result).toMatchObject({ outcome: 'paid', situation: 'paid', title: '支付成功' });
  });

  it("the buyer's cancel; WeChat saying ok while the service still waits reads as pending", async () => {
    const cancel = client(
      { requestPayment: () => ({ ok: false, answer: { errMsg: 'requestPayment:fail cancel' } }) },
      'android',
      'en',
    );
    expect(await cancel.wx.pay({ body: body() })).toMatchObject({
      outcome: 'cancelled',
      title: 'You cancelled the payment',
    });
    // The buyer never paid at the emulator: the service's word (after a short wait) is not yet paid.
    const early = client({ requestPayment: () => ({ ok: true, answer: { errMsg: 'requestPayment:ok' } }) });
    expect(
      await early.wx.pay({ body: body() }, { confirm: { intervalMs: 20, timeoutMs: 120 } }),
    ).toMatchObject({
      outcome: 'pending',
      situation: 'pending',
    });
  });

  it('a provider that cannot pay in a mini program, and a network failure, in the buyer words', async () => {
    const { wx, recorded } = client({});
    const alipay = await wx.pay({
      start: { scene: 'app', payment: { scene: 'app', orderString: 'app_id=1&method=alipay.trade.app.pay' } },
    });
    expect(alipay).toMatchObject({ outcome: 'failed', situation: 'notAvailable' });
    expect(platformCalls(recorded)).toEqual([]);
    const offline = recordedPlatform({ route: () => null });
    const result = await createWxPayClient({ backend: BACKEND, wx: offline.global }).pay({ body: body() });
    expect(result).toMatchObject({
      outcome: 'failed',
      situation: 'offline',
      title: '网络连接失败',
      failure: { code: 40004, kind: 'network' },
    });
  });
});
