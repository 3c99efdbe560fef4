import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutRuntime, READ_GRACE_SECONDS } from '../../src/http/checkout-token.ts';
import { type CashierHarness, outTradeNo, startCashierHarness } from '../browser/harness.ts';

describe('checkout tokens over HTTP: what they allow and what they do not', () => {
  let harness: CashierHarness;
  beforeAll(async () => {
    harness = await startCashierHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });
  const json = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${harness.url}${path}`, init);
    return { status: response.status, body: (await response.json()) as any };
  };

  it('issues a token only on a signed merchant request, checking the order first', async () => {
    const unsigned = await json('/api/checkouts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ out_trade_no: outTradeNo(), total_fee: 1, subject: 'socks', type: 'goods' }),
    });
    expect(unsigned.status).toBe(401);
    const bad = await harness.api('POST', '/api/checkouts', {
      out_trade_no: 'x',
      total_fee: 0,
      subject: '',
      type: 'goods',
    });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe(40001);
    const script = await harness.api('POST', '/api/checkouts', {
      out_trade_no: outTradeNo(),
      total_fee: 1,
      subject: 'socks',
      type: 'goods',
      return_url: 'javascript:alert(1)',
    });
    expect(script.json).toMatchObject({ code: 40001, field: 'return_url' });
    const made = await harness.api('POST', '/api/checkouts', {
      out_trade_no: outTradeNo(),
      total_fee: 1,
      subject: 'socks',
      type: 'goods',
    });
    expect(made.json).toMatchObject({
      code: 0,
      data: { checkout: { url: expect.stringContaining(`${harness.url}/checkout/v1.`) } },
    });
  });

  it('a token reads and pays its own order only; a forged one gets 40002 and an error page', async () => {
    const checkout = await harness.checkout();
    const forged = `${checkout.token.slice(0, -2)}xx`;
    expect((await json(`/checkout/${forged}/status`)).body.code).toBe(40002);
    const page = await fetch(`${harness.url}/checkout/${forged}`);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('data-situation="invalidLink"');
    expect((await json(`/checkout/${checkout.token}/refund`, { method: 'POST' })).body.code).toBe(40005);
    // The merchant API does not take a checkout token as a credential.
    const merchantApi = await fetch(`${harness.url}/api/payments/${checkout.token}`, {
      headers: { authorization: `Bearer ${checkout.token}` },
    });
    expect(merchantApi.status).toBeGreaterThanOrEqual(400);
  });

  it('an expired link leads back to the shop it came from, a forged one cannot know the way', async () => {
    const { signer } = checkoutRuntime(harness.vkPay);
    const longAgo = Math.floor(Date.now() / 1000) - READ_GRACE_SECONDS - 3600;
    const claims = {
      m: 'demo',
      o: outTradeNo(),
      f: 1,
      s: 'socks',
      t: 'goods',
      p: ['wxpay' as const],
      e: longAgo + 900,
      i: longAgo,
    };
    const withShop = signer.sign({ ...claims, r: 'https://shop.example/back?from=pay&x=1' });
    const page = await fetch(`${harness.url}/checkout/${withShop}?lang=en`);
    expect(page.status).toBe(403);
    const html = await page.text();
    expect(html).toContain('data-situation="expiredLink"');
    expect(html).toContain('data-testid="error-link" href="https://shop.example/back?from=pay&#38;x=1"');
    expect(html).toContain('Back to the shop');
    const withoutShop = await (await fetch(`${harness.url}/checkout/${signer.sign(claims)}`)).text();
    expect(withoutShop).toContain('data-situation="expiredLink"');
    expect(withoutShop).not.toContain('data-testid="error-link"');
    // A forged token with a return URL in it is not followed: only what this service signed is.
    const forged = `${withShop.slice(0, -2)}xx`;
    expect(await (await fetch(`${harness.url}/checkout/${forged}`)).text()).not.toContain('shop.example');
  });

  it('pays only with a provider offered on this device, and keeps the order on the first choice', async () => {
    const checkout = await harness.checkout({ providers: ['wxpay'] });
    const post = (provider: string) =>
      json(`/checkout/${checkout.token}/pay`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120',
        },
        body: JSON.stringify({ provider }),
      });
    expect((await post('alipay')).body).toMatchObject({ code: 40001, field: 'provider' });
    const first = await post('wxpay');
    expect(first.body).toMatchObject({
      code: 0,
      data: { scene: 'native', qrImage: expect.stringMatching(/^data:image\/svg/) },
    });
    expect((await post('wxpay')).body.data.payment).toEqual(first.body.data.payment);
    const status = await json(`/checkout/${checkout.token}/status`);
    expect(status.body.data).toEqual({
      outTradeNo: expect.any(String),
      status: 'NOTPAY',
      outcome: 'pending',
      provider: 'wxpay',
      scene: 'native',
      failure: null,
      closedProviders: [],
      expiresAt: checkout.expires_at,
      payee: null,
    });
  });

  it('answers any body sent to pay with a 4xx in the envelope and makes no order', async () => {
    const checkout = await harness.checkout({ providers: ['wxpay'] });
    const status = async () => (await json(`/checkout/${checkout.token}/status`)).body.data;
    const bodies: [string, string][] = [
      ['application/json', '[]'],
      ['application/json', '"wxpay"'],
      ['application/json', 'null'],
      ['application/json', '{"provider":1}'],
      ['application/json', '{"provider":["wxpay"]}'],
      ['application/json', `{"provider":"${'w'.repeat(5000)}"}`],
      ['application/json', '{"provider":"wxpay","provider2":"x"}'],
      ['application/json', '{"provider":"wxpay"'],
      ['application/json', '{}'],
      ['application/json', ''],
      ['text/plain', 'provider=wxpay'],
      ['application/x-www-form-urlencoded', 'provider=wxpay'],
    ];
    for (const [type, body] of bodies) {
      const answer = await json(`/checkout/${checkout.token}/pay`, {
        method: 'POST',
        headers: { 'content-type': type, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120' },
        body,
      });
      expect(answer.status, `${type} ${body.slice(0, 40)}`).toBeGreaterThanOrEqual(400);
      expect(answer.status, `${type} ${body.slice(0, 40)}`).toBeLessThan(500);
      expect(answer.body.code, `${type} ${body.slice(0, 40)}`).toBeGreaterThanOrEqual(40001);
    }
    expect(await status()).toMatchObject({ provider: null, status: 'NOTPAY' });
  });

  it('serves the page with a same-origin content security policy and no third-party URL', async () => {
    const checkout = await harness.checkout();
    const page = await fetch(checkout.url);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect([...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1])).toEqual([
      expect.stringMatching(/^\/checkout\/assets\/cashier\.[0-9a-f]{12}\.css$/),
      expect.stringMatching(/^\/(favicon\.ico|checkout\/assets\/favicon\.[0-9a-f]{12}\.svg)$/),
      expect.stringMatching(/^\/checkout\/assets\/cashier\.[0-9a-f]{12}\.js$/),
    ]);
  });
});
