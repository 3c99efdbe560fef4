import { describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import {
  type CheckoutClaims,
  checkoutRuntime,
  configureCheckout,
  createCheckoutTokenSigner,
  READ_GRACE_SECONDS,
} from '../../src/http/checkout-token.ts';

const SECRET = 'k'.repeat(32);
const NOW = 1_700_000_000_000;
const claims: CheckoutClaims = {
  m: 'shop1',
  o: 'ORDER000001',
  f: 1990,
  s: '年度会员',
  t: 'vip',
  p: ['wxpay', 'alipay'],
  e: NOW / 1000 + 900,
  i: NOW / 1000,
};

function codeOf(action: () => unknown): number | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof PayError) return error.code;
    throw error;
  }
  return undefined;
}

describe('checkout tokens', () => {
  const signer = createCheckoutTokenSigner(SECRET);

  it('round-trips the intended order, in a URL-safe v1 token', () => {
    const token = signer.sign(claims);
    expect(token).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(signer.verify(token, NOW, 'pay')).toEqual(claims);
  });

  it('refuses a token whose order was changed, or that another key signed', () => {
    const token = signer.sign(claims);
    const [version, , mac] = token.split('.');
    const cheaper = Buffer.from(JSON.stringify({ ...claims, f: 1 })).toString('base64url');
    expect(codeOf(() => signer.verify(`${version}.${cheaper}.${mac}`, NOW, 'pay'))).toBe(40002);
    const other = createCheckoutTokenSigner('o'.repeat(32)).sign(claims);
    expect(codeOf(() => signer.verify(other, NOW, 'read'))).toBe(40002);
    expect(codeOf(() => signer.verify('v2.x.y', NOW, 'read'))).toBe(40002);
    expect(codeOf(() => signer.verify('garbage', NOW, 'read'))).toBe(40002);
  });

  it('stops paying at expiry but still reads the outcome for a day', () => {
    const token = signer.sign(claims);
    const expiry = claims.e * 1000;
    expect(codeOf(() => signer.verify(token, expiry, 'pay'))).toBe(40009);
    expect(signer.verify(token, expiry, 'read').o).toBe('ORDER000001');
    expect(codeOf(() => signer.verify(token, expiry + READ_GRACE_SECONDS * 1000, 'read'))).toBe(40009);
  });

  it('refuses a key shorter than 32 bytes and a custom too large for a link', () => {
    expect(codeOf(() => createCheckoutTokenSigner('short'))).toBe(40003);
    expect(codeOf(() => signer.sign({ ...claims, c: { note: 'x'.repeat(5000) } }))).toBe(40001);
  });

  it('shares one key per service instance, replaceable from configuration', () => {
    const owner = {};
    const first = checkoutRuntime(owner).signer.sign(claims);
    expect(checkoutRuntime(owner).signer.verify(first, NOW, 'read').m).toBe('shop1');
    configureCheckout(owner, { secret: SECRET, ttlSeconds: 60 });
    expect(checkoutRuntime(owner).ttlSeconds).toBe(60);
    expect(checkoutRuntime(owner).signer.verify(signer.sign(claims), NOW, 'read').m).toBe('shop1');
    expect(codeOf(() => checkoutRuntime(owner).signer.verify(first, NOW, 'read'))).toBe(40002);
  });
});
