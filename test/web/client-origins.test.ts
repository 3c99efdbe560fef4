import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureCheckoutMerchants } from '../../src/http/checkout-merchants.ts';
import { createClient, isSuccess } from '../../src/web/index.ts';
import { type CashierHarness, startCashierHarness } from '../browser/harness.ts';
import { API_APP } from '../e2e/harness.ts';

const SHOP = 'https://shop.example.com';
const OTHER = 'https://evil.example.net';

describe('the checkout endpoints answer the merchant app origins only (CORS)', () => {
  let harness: CashierHarness;
  beforeAll(async () => {
    harness = await startCashierHarness();
    configureCheckoutMerchants(harness.vkPay, [
      {
        ...API_APP,
        corsOrigins: [SHOP],
        payee: { name: '示例商店', logoUrl: 'https://shop.example.com/logo.png' },
      },
    ]);
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('status and pay carry Access-Control-Allow-Origin for a listed origin, never for another', async () => {
    const { token } = await harness.checkout();
    const status = (origin: string) =>
      fetch(`${harness.url}/checkout/${token}/status`, { headers: { origin } });
    const allowed = await status(SHOP);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(allowed.headers.get('vary')).toMatch(/origin/i);
    expect(((await allowed.json()) as { code: number }).code).toBe(0);
    const refused = await status(OTHER);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    // The page and its assets are same-origin only.
    const page = await fetch(`${harness.url}/checkout/${token}`, { headers: { origin: SHOP } });
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers the preflight of pay for a listed origin only', async () => {
    const { token } = await harness.checkout();
    const preflight = (origin: string) =>
      fetch(`${harness.url}/checkout/${token}/pay`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
    const allowed = await preflight(SHOP);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('content-type');
    const refused = await preflight(OTHER);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(refused.headers.get('access-control-allow-methods')).toBeNull();
    // A forged token is refused by the route whatever the origin.
    const forged = await fetch(`${harness.url}/checkout/${token.slice(0, -3)}AAA/status`, {
      headers: { origin: SHOP },
    });
    expect(((await forged.json()) as { code: number }).code).toBe(40002);
  });

  it('the status carries the payee from the app configuration and the expiry', async () => {
    const checkout = await harness.checkout();
    const client = createClient({ baseUrl: harness.url });
    const status = await client.queryPayment({ checkoutToken: checkout.token });
    expect(status).toMatchObject({
      code: 0,
      data: {
        payee: { name: '示例商店', logoUrl: 'https://shop.example.com/logo.png' },
        expiresAt: checkout.expires_at,
      },
    });
  });

  it('the page shows the payee and the order number beside the amount, escaped', async () => {
    const checkout = await harness.checkout({ total_fee: 1234 });
    const no = JSON.parse(Buffer.from(checkout.token.split('.')[1]!, 'base64url').toString()).o;
    const page = await fetch(`${harness.url}/checkout/${checkout.token}`);
    // The logo's origin is the one other origin the page may load an image from.
    expect(page.headers.get('content-security-policy')).toContain(
      "img-src 'self' data: https://shop.example.com;",
    );
    const zh = await page.text();
    expect(zh).toContain(
      '<p class="payee" data-testid="payee"><img class="payee-logo" src="https://shop.example.com/logo.png" alt="" width="24" height="24">收款方：示例商店</p>',
    );
    expect(zh).toContain(`<p class="order-no" data-testid="order-no">订单号：${no}</p>`);
    expect(zh).toContain('¥12.34');
    const en = await (await fetch(`${harness.url}/checkout/${checkout.token}?lang=en`)).text();
    expect(en).toContain('Payee: 示例商店');
    expect(en).toContain(`Order no.: ${no}`);
  });

  it('stops polling at the checkout expiry with its final state, not after 15 minutes', async () => {
    const checkout = await harness.checkout({ time_expire: 2 });
    const client = createClient({ baseUrl: harness.url });
    const started = Date.now();
    const answer = await client.waitForPayment(
      { checkoutToken: checkout.token },
      { intervalMs: 300, maxIntervalMs: 300 },
    );
    expect(answer).toMatchObject({ code: 0, data: { status: 'CLOSED', outcome: 'expired' } });
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('stops polling at the expiry even when the status stays pending', async () => {
    const expiresAt = new Date(Date.now() + 500).toISOString();
    let polls = 0;
    const client = createClient({
      baseUrl: 'http://127.0.0.1:9',
      fetch: async () => {
        polls += 1;
        return new Response(
          JSON.stringify({
            code: 0,
            msg: 'ok',
            data: { outTradeNo: 'X', status: 'NOTPAY', outcome: 'pending', failure: null, expiresAt },
          }),
        );
      },
    });
    const started = Date.now();
    const answer = await client.waitForPayment(
      { checkoutToken: 't' },
      { intervalMs: 100, maxIntervalMs: 100 },
    );
    expect(isSuccess(answer) && answer.data.outcome).toBe('pending');
    // The expiry plus a short grace for the final state, then no more polls.
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(polls).toBeLessThan(40);
  });

  it('a request that never reaches the service is kind network (40004)', async () => {
    const client = createClient({
      baseUrl: 'http://127.0.0.1:9',
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    expect(await client.queryPayment({ checkoutToken: 't' })).toMatchObject({ code: 40004, kind: 'network' });
  });
});
