import { describe, expect, it } from 'vitest';
import { offersFor } from '../../src/http/checkout-offers.ts';
import type { CheckoutClaims } from '../../src/http/checkout-token.ts';
import type { Provider } from '../../src/providers/provider.ts';

const DESKTOP = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36';
const PHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1';
const WECHAT = `${PHONE} MicroMessenger/8.0.47`;
const ALIPAY_APP = `${PHONE} AlipayClient/10.5`;

const claims: CheckoutClaims = {
  m: 'shop1',
  o: 'O1',
  f: 1,
  s: 's',
  t: 'goods',
  p: ['wxpay', 'alipay'],
  e: 0,
  i: 0,
};
const gateway = (name: string, merchants = ['shop1']) =>
  ({
    name,
    identity(merchantId: string) {
      if (!merchants.includes(merchantId)) throw new Error('unknown merchant');
      return { mchId: 'x', appId: null };
    },
  }) as unknown as Provider;
const providers = new Map([
  ['wxpay', gateway('wxpay')],
  ['alipay', gateway('alipay')],
]);

describe('which providers the cashier offers on a device', () => {
  it('a desktop gets a WeChat Pay QR code and Alipay page pay, never WeChat H5', () => {
    expect(offersFor(claims, DESKTOP, providers)).toEqual([
      { provider: 'wxpay', scene: 'native' },
      { provider: 'alipay', scene: 'pc' },
    ]);
  });

  it('a phone browser gets WeChat H5 and Alipay WAP', () => {
    expect(offersFor(claims, PHONE, providers)).toEqual([
      { provider: 'wxpay', scene: 'h5' },
      { provider: 'alipay', scene: 'h5' },
    ]);
  });

  it('the WeChat browser gets JSAPI with an openid, a QR code without, and Alipay only when allowed', () => {
    expect(offersFor(claims, WECHAT, providers)).toEqual([{ provider: 'wxpay', scene: 'native' }]);
    expect(offersFor({ ...claims, w: 'openid1', a: 1 }, WECHAT, providers)).toEqual([
      { provider: 'wxpay', scene: 'jsapi' },
      { provider: 'alipay', scene: 'h5' },
    ]);
  });

  it("Alipay's app gets no WeChat Pay", () => {
    expect(offersFor(claims, ALIPAY_APP, providers)).toEqual([{ provider: 'alipay', scene: 'h5' }]);
  });

  it('only providers the token allows and the merchant has an account at', () => {
    expect(offersFor({ ...claims, p: ['alipay'] }, DESKTOP, providers)).toEqual([
      { provider: 'alipay', scene: 'pc' },
    ]);
    const onlyOthers = new Map([['wxpay', gateway('wxpay', ['shop2'])]]);
    expect(offersFor(claims, DESKTOP, onlyOthers)).toEqual([]);
  });
});
