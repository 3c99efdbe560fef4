import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiApp } from '../../src/config/security.ts';
import { buildApp } from '../../src/http/app.ts';
import { cashierIcon, cashierScript, cashierStyle, preferredCoding } from '../../src/http/checkout-assets.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { MERCHANT } from '../support/orders.ts';
import { signed } from '../support/signed-client.ts';

const shop: ApiApp = { appId: 'assets-shop', merchantId: MERCHANT, secret: 'a'.repeat(40) };
const IMMUTABLE = 'public, max-age=31536000, immutable';
const FIRST_VISIT_BUDGET = 25 * 1024;

const decode = (encoding: string | undefined, body: Buffer): string =>
  (encoding === 'br' ? brotliDecompressSync(body) : encoding === 'gzip' ? gunzipSync(body) : body).toString(
    'utf8',
  );

describe('the content coding the cashier answers in', () => {
  it('prefers brotli, then gzip, else the body as it is', () => {
    expect(preferredCoding('gzip, deflate, br, zstd')).toBe('br');
    expect(preferredCoding('gzip, deflate')).toBe('gzip');
    expect(preferredCoding('br;q=0, gzip;q=0.5')).toBe('gzip');
    expect(preferredCoding('*')).toBe('br');
    expect(preferredCoding('*, br;q=0')).toBe('gzip');
    expect(preferredCoding('identity')).toBe('identity');
    expect(preferredCoding('')).toBe('identity');
    expect(preferredCoding(undefined)).toBe('identity');
  });
});

describe.each(backends)('the cashier page and its assets on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  let sequence = 0;

  beforeAll(async () => {
    vkPay = await backend.open();
    app = await buildApp({ vkPay, apps: [shop] });
  });
  afterAll(async () => {
    await app.close();
    await vkPay.close();
  });

  const checkoutToken = async () => {
    sequence += 1;
    const made = await app.inject(
      signed(shop, 'POST', '/api/checkouts', {
        out_trade_no: `ASSETS${Date.now()}${sequence}`,
        total_fee: 100,
        subject: '袜子 socks',
        type: 'goods',
      }),
    );
    expect(made.statusCode).toBe(200);
    return made.json().data.checkout.token as string;
  };
  const get = (url: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url, headers });

  /** The page, and the script and stylesheet URLs it links. */
  const page = async (acceptEncoding = 'gzip, deflate, br') => {
    const response = await get(`/checkout/${await checkoutToken()}`, { 'accept-encoding': acceptEncoding });
    expect(response.statusCode).toBe(200);
    const html = decode(response.headers['content-encoding'] as string | undefined, response.rawPayload);
    const script = /<script src="([^"]+)"/.exec(html)![1]!;
    const style = /<link rel="stylesheet" href="([^"]+)"/.exec(html)![1]!;
    return { response, html, script, style };
  };

  it('links the script and stylesheet under versioned URLs cached for a year', async () => {
    const { script, style } = await page();
    expect(script).toBe(`/checkout/assets/cashier.${(await cashierScript()).hash}.js`);
    expect(style).toBe(`/checkout/assets/cashier.${(await cashierStyle()).hash}.css`);
    for (const url of [script, style]) {
      const response = await get(url);
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe(IMMUTABLE);
    }
  });

  it('sends each asset in brotli, gzip or as it is, as Accept-Encoding asks', async () => {
    const { script, style } = await page();
    for (const [url, asset] of [
      [script, await cashierScript()],
      [style, await cashierStyle()],
    ] as const) {
      const plain = await get(url);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers['content-type']).toBe(asset.type);
      expect(plain.body).toBe(asset.body);
      for (const [accept, coding] of [
        ['gzip, deflate, br', 'br'],
        ['gzip, deflate', 'gzip'],
        ['br;q=0, gzip', 'gzip'],
      ] as const) {
        const response = await get(url, { 'accept-encoding': accept });
        expect(response.headers['content-encoding']).toBe(coding);
        expect(response.headers.vary).toMatch(/accept-encoding/i);
        expect(decode(coding, response.rawPayload)).toBe(asset.body);
        expect(response.rawPayload.byteLength).toBeLessThan(Buffer.byteLength(asset.body) / 2);
      }
    }
  });

  it('gives each coding its own strong ETag and answers 304 when the browser holds those bytes', async () => {
    const { script } = await page();
    const br = await get(script, { 'accept-encoding': 'br' });
    const gzip = await get(script, { 'accept-encoding': 'gzip' });
    const plain = await get(script);
    const tags = [br, gzip, plain].map((response) => response.headers.etag as string);
    expect(new Set(tags).size).toBe(3);
    for (const tag of tags) expect(tag).toMatch(/^"[0-9a-f]{12}(-br|-gzip)?"$/);

    const again = await get(script, { 'accept-encoding': 'br', 'if-none-match': tags[0]! });
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.byteLength).toBe(0);
    expect(again.headers.etag).toBe(tags[0]);
    expect(again.headers['cache-control']).toBe(IMMUTABLE);
    // Another coding's tag names other bytes.
    const other = await get(script, { 'accept-encoding': 'br', 'if-none-match': tags[1]! });
    expect(other.statusCode).toBe(200);
    expect(other.headers['content-encoding']).toBe('br');
  });

  it('still serves the unversioned URLs and another version, with a short cache life', async () => {
    const script = await cashierScript();
    const style = await cashierStyle();
    for (const [url, asset] of [
      ['/checkout/assets/cashier.js?v=0123456789ab', script],
      ['/checkout/assets/cashier.css', style],
      ['/checkout/assets/cashier.0123456789ab.js', script],
      ['/checkout/assets/cashier.0123456789ab.css', style],
    ] as const) {
      const response = await get(url, { 'accept-encoding': 'gzip' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('public, max-age=60');
      expect(decode('gzip', response.rawPayload)).toBe(asset.body);
    }
    for (const url of ['/checkout/assets/cashier.png', '/checkout/assets/cashier.nothex.js']) {
      const missing = await get(url);
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ code: 40005 });
    }
  });

  it('answers /favicon.ico and the versioned icon URL with the SVG icon', async () => {
    const icon = await cashierIcon();
    expect(icon.body).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const root = await get('/favicon.ico', { 'accept-encoding': 'br' });
    expect(root.statusCode).toBe(200);
    expect(root.headers['content-type']).toBe('image/svg+xml');
    expect(decode('br', root.rawPayload)).toBe(icon.body);
    const versioned = await get(`/checkout/assets/favicon.${icon.hash}.svg`);
    expect(versioned.statusCode).toBe(200);
    expect(versioned.headers['content-type']).toBe('image/svg+xml');
    expect(versioned.headers['cache-control']).toBe(IMMUTABLE);
    expect(versioned.body).toBe(icon.body);
    const { html } = await page();
    expect(html).toMatch(/<link rel="icon" type="image\/svg\+xml" href="[^"]+">/);
  });

  it('compresses the cashier page and its error pages, not the JSON API', async () => {
    const br = await page('gzip, deflate, br');
    expect(br.response.headers['content-encoding']).toBe('br');
    expect(br.response.headers.vary).toMatch(/accept-encoding/i);
    expect(br.response.headers['cache-control']).toBe('no-store');
    expect(br.html).toContain('袜子 socks');
    const gzip = await page('gzip');
    expect(gzip.response.headers['content-encoding']).toBe('gzip');
    expect(gzip.html).toContain('袜子 socks');
    const plain = await page('identity');
    expect(plain.response.headers['content-encoding']).toBeUndefined();
    expect(plain.html).toContain('袜子 socks');

    const invalid = await get('/checkout/not-a-token', { 'accept-encoding': 'br' });
    expect(invalid.statusCode).toBeGreaterThanOrEqual(400);
    expect(invalid.headers['content-encoding']).toBe('br');
    expect(decode('br', invalid.rawPayload)).toContain('data-testid="error-page"');

    const status = await get(`/checkout/${await checkoutToken()}/status`, { 'accept-encoding': 'br' });
    expect(status.statusCode).toBe(200);
    expect(status.headers['content-encoding']).toBeUndefined();
    expect(status.json()).toMatchObject({ code: 0 });
  });

  it('keeps a first visit (page, script, stylesheet, icon) within 25 KB compressed', async () => {
    const { response, script, style } = await page();
    const icon = await cashierIcon();
    let bytes = response.rawPayload.byteLength;
    for (const url of [script, style, `/checkout/assets/favicon.${icon.hash}.svg`]) {
      const asset = await get(url, { 'accept-encoding': 'gzip, deflate, br' });
      expect(asset.headers['content-encoding']).toBe('br');
      bytes += asset.rawPayload.byteLength;
    }
    expect(bytes).toBeLessThanOrEqual(FIRST_VISIT_BUDGET);
  });

  it('does not count the assets against the per-client limit', async () => {
    const token = await checkoutToken();
    const { script } = await page();
    for (let i = 0; i < 120; i++) {
      const url = i % 2 === 0 ? script : '/favicon.ico';
      const asset = await app.inject({ method: 'GET', url, remoteAddress: '198.51.100.40' });
      expect(asset.statusCode).toBe(200);
    }
    const status = await app.inject({
      method: 'GET',
      url: `/checkout/${token}/status`,
      remoteAddress: '198.51.100.40',
    });
    expect(status.statusCode).toBe(200);
    expect(status.headers['ratelimit-remaining']).toBe('99');
  });
});
