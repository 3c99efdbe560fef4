/**
 * The client SDK in Chromium on a merchant page of another origin (a second port): the service lets
 * a listed origin read the checkout's status and pay, refuses any other, and the SDK tells that
 * refusal from a network failure.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureCheckoutMerchants } from '../../src/http/checkout-merchants.ts';
import { API_APP } from '../e2e/harness.ts';
import { DESKTOP, hasChromium, launchChromium, skipReason } from './chromium.ts';
import { type CashierHarness, startCashierHarness } from './harness.ts';

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Shop</h1><script type="module">import * as sdk from '/sdk.js'; window.sdk = sdk; window.ready = true;</script></body></html>`;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

if (!hasChromium) console.warn(skipReason);

describe.skipIf(!hasChromium)('the client SDK from a merchant page on another origin (Chromium)', () => {
  let harness: CashierHarness;
  let browser: Browser;
  let shop: Server;
  let shopPort: number;
  let closedPort: number;

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [join(process.cwd(), 'src/web/index.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      write: false,
      logLevel: 'silent',
    });
    const sdk = bundle.outputFiles[0]!.text;
    shop = createServer((request, response) => {
      if (request.url === '/sdk.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(sdk);
      } else {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
      }
    });
    shopPort = await listen(shop);
    const gone = createServer();
    closedPort = await listen(gone);
    await new Promise((resolve) => gone.close(resolve));
    harness = await startCashierHarness();
    // Only the shop's 127.0.0.1 origin is listed; the same page on localhost is another origin.
    configureCheckoutMerchants(harness.vkPay, [
      { ...API_APP, corsOrigins: [`http://127.0.0.1:${shopPort}`] },
    ]);
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    await new Promise((resolve) => shop?.close(resolve));
  });

  async function fromShop(shopOrigin: string, baseUrl: string, token: string) {
    const context = await browser.newContext(DESKTOP);
    const page = await context.newPage();
    try {
      await page.goto(`${shopOrigin}/`);
      await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
      return await page.evaluate(
        async ({ base, checkoutToken }) => {
          // biome-ignore lint/suspicious/noExplicitAny: the bundle's exports, in the page
          const client = (globalThis as any).sdk.createClient({ baseUrl: base, lang: 'en' });
          const status = await client.queryPayment({ checkoutToken });
          const pay = await client.createPayment({ checkoutToken, provider: 'wxpay' });
          const waited = await client.waitForPayment({ checkoutToken }, { intervalMs: 50, timeoutMs: 200 });
          return { status, pay, waited };
        },
        { base: baseUrl, checkoutToken: token },
      );
    } finally {
      await context.close();
    }
  }

  it('a listed origin reads the status and pays (through the preflight)', async () => {
    const { token } = await harness.checkout();
    const answer = await fromShop(`http://127.0.0.1:${shopPort}`, harness.url, token);
    expect(answer.status).toMatchObject({
      code: 0,
      data: { outcome: 'pending', expiresAt: expect.any(String) },
    });
    expect(answer.pay).toMatchObject({
      code: 0,
      data: { provider: 'wxpay', scene: 'native', payment: { codeUrl: expect.stringMatching(/^weixin:/) } },
    });
    expect(answer.waited).toMatchObject({ code: 0, data: { outcome: 'pending' } });
  });

  it('another origin is refused: 40009, kind origin, and the wait ends at once', async () => {
    const { token } = await harness.checkout();
    const answer = await fromShop(`http://localhost:${shopPort}`, harness.url, token);
    for (const result of [answer.status, answer.pay, answer.waited])
      expect(result).toMatchObject({ code: 40009, kind: 'origin', msg: 'Permission denied' });
    // The refused preflight kept the POST from being sent: no order was made.
    const order = await harness.api(
      'GET',
      `/api/payments/${JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).o}`,
    );
    expect(order.json.code).toBe(40005);
  });

  it('an unreachable service is a network failure: 40004, kind network', async () => {
    const { token } = await harness.checkout();
    const answer = await fromShop(`http://127.0.0.1:${shopPort}`, `http://127.0.0.1:${closedPort}`, token);
    expect(answer.status).toMatchObject({ code: 40004, kind: 'network' });
    expect(answer.pay).toMatchObject({ code: 40004, kind: 'network' });
  });
});
