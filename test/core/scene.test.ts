import { describe, expect, it } from 'vitest';
import { detectScene, isIosApp } from '../../src/core/scene.ts';

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148';
const WECHAT = `${IPHONE} MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN`;
const DESKTOP = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36';

describe('scene detection', () => {
  it('lets an explicit scene win', () => {
    expect(detectScene('wxpay', { userAgent: WECHAT, needQRcode: true }, 'app')).toBe('app');
  });

  it('chooses WeChat scenes from the platform and browser', () => {
    expect(detectScene('wxpay', { platform: 'mp-weixin' })).toBe('miniprogram');
    expect(detectScene('wxpay', { platform: 'app-plus' })).toBe('app');
    expect(detectScene('wxpay', { userAgent: WECHAT })).toBe('jsapi');
    expect(detectScene('wxpay', { userAgent: IPHONE })).toBe('h5');
    expect(detectScene('wxpay', { userAgent: DESKTOP })).toBe('native');
    expect(detectScene('wxpay', { userAgent: IPHONE, isPC: true })).toBe('native');
    expect(detectScene('wxpay', { userAgent: WECHAT, needQRcode: true })).toBe('native');
  });

  it('chooses Alipay scenes from the platform and browser', () => {
    expect(detectScene('alipay', { platform: 'mp-alipay' })).toBe('miniprogram');
    expect(detectScene('alipay', { platform: 'app' })).toBe('app');
    expect(detectScene('alipay', { userAgent: IPHONE })).toBe('h5');
    expect(detectScene('alipay', { userAgent: WECHAT })).toBe('h5');
    expect(detectScene('alipay', { userAgent: DESKTOP })).toBe('pc');
    expect(detectScene('alipay', { isPC: true })).toBe('pc');
    expect(detectScene('alipay', { needQRcode: true })).toBe('native');
  });

  it('offers Apple in-app purchase only inside an iOS app', () => {
    const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 uni-app';
    const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 uni-app';
    expect(detectScene('appleiap', { platform: 'app-plus', os: 'ios' })).toBe('app');
    expect(detectScene('appleiap', { platform: 'app', userAgent: IPHONE })).toBe('app');
    expect(detectScene('appleiap', { platform: 'APP', os: 'iOS', userAgent: ANDROID })).toBe('app');
    expect(isIosApp({ platform: 'app', userAgent: 'MyApp/1 CFNetwork/1490 Darwin/23.0.0' })).toBe(true);
    for (const context of [
      { platform: 'app', os: 'android', userAgent: IPHONE },
      { platform: 'app-plus', userAgent: ANDROID },
      { platform: 'h5', userAgent: IPHONE },
      { platform: 'mp-weixin', os: 'ios' },
      { userAgent: IPHONE },
      {},
    ])
      expect(() => detectScene('appleiap', context), JSON.stringify(context)).toThrow(
        /only inside an iOS app/,
      );
    // A server naming the app scene for its app; any other scene is refused.
    expect(detectScene('appleiap', {}, 'app')).toBe('app');
    expect(() => detectScene('appleiap', { platform: 'app', os: 'android' }, 'app')).toThrow(/iOS app/);
    expect(() => detectScene('appleiap', { platform: 'app', os: 'ios' }, 'h5')).toThrow(/app scene only/);
    // The other gateways are unchanged by an os.
    expect(detectScene('wxpay', { platform: 'app', os: 'ios' })).toBe('app');
  });

  it('pays Douyin inside a Douyin mini app only, and reads mp-toutiao as a mini program', () => {
    expect(detectScene('douyin', { platform: 'mp-toutiao' })).toBe('miniprogram');
    expect(detectScene('douyin', { userAgent: IPHONE })).toBe('miniprogram');
    expect(detectScene('douyin', { platform: 'mp-toutiao' }, 'h5')).toBe('h5');
  });
});
