import { describe, expect, it } from 'vitest';
import { detectScene } from '../../src/core/scene.ts';
import { proceed, type WxLike } from '../../src/web/index.ts';

const payment = {
  scene: 'miniprogram' as const,
  mode: 'short_series_goods' as const,
  signData: '{"offerId":"1450000000","buyQuantity":1,"env":0}',
  paySig: 'a'.repeat(64),
  signature: 'b'.repeat(64),
};

function fakeWx(platform: string, answer: 'ok' | 'fail') {
  const calls: Record<string, unknown>[] = [];
  const wx: WxLike = {
    getSystemInfoSync: () => ({ platform }),
    requestVirtualPayment(options) {
      calls.push({
        mode: options.mode,
        signData: options.signData,
        paySig: options.paySig,
        signature: options.signature,
      });
      if (answer === 'ok') options.success({ errMsg: 'requestVirtualPayment:ok' });
      else options.fail({ errMsg: 'requestVirtualPayment:fail cancel', errCode: -2 });
    },
  };
  return { wx, calls };
}

describe('virtual payment in the client SDK', () => {
  it('hands exactly the signed arguments to wx.requestVirtualPayment on Android', async () => {
    const { wx, calls } = fakeWx('android', 'ok');
    const step = await proceed({ scene: 'miniprogram', payment }, { wx });
    expect(step).toEqual({ kind: 'virtual', ok: true, message: 'requestVirtualPayment:ok' });
    expect(calls).toEqual([
      {
        mode: payment.mode,
        signData: payment.signData,
        paySig: payment.paySig,
        signature: payment.signature,
      },
    ]);
  });

  it("reports the buyer's cancel with WeChat's message and code", async () => {
    const { wx } = fakeWx('android', 'fail');
    expect(await proceed({ scene: 'miniprogram', payment }, { wx })).toEqual({
      kind: 'virtual',
      ok: false,
      message: 'requestVirtualPayment:fail cancel',
      code: -2,
    });
  });

  it('refuses iOS with a clear 40009 unless the category has it there', async () => {
    const refused = fakeWx('ios', 'ok');
    const step = await proceed({ scene: 'miniprogram', payment }, { wx: refused.wx });
    expect(step).toMatchObject({ kind: 'virtual', ok: false, code: 40009 });
    expect(step.kind === 'virtual' && step.message).toContain('iOS');
    expect(refused.calls).toHaveLength(0);
    const allowed = fakeWx('ios', 'ok');
    expect(
      await proceed({ scene: 'miniprogram', payment }, { wx: allowed.wx, allowIos: true }),
    ).toMatchObject({
      ok: true,
    });
  });

  it('outside a mini program says where virtual payment runs', async () => {
    expect(await proceed({ scene: 'miniprogram', payment }, { wx: {} })).toMatchObject({
      kind: 'virtual',
      ok: false,
      code: 40001,
    });
  });

  it('detects the mini program scene for wxpay-virtual whatever the browser', () => {
    expect(detectScene('wxpay-virtual', { platform: 'mp-weixin' })).toBe('miniprogram');
    expect(detectScene('wxpay-virtual', { userAgent: 'Mozilla/5.0 (Windows NT 10.0)' })).toBe('miniprogram');
    expect(detectScene('wxpay', { userAgent: 'Mozilla/5.0 (Windows NT 10.0)' })).toBe('native');
  });
});
