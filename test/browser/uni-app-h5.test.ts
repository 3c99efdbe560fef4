/**
 * The example uni-app project (examples/uni-app) built for H5 with uni-app's own compiler against a
 * service on 127.0.0.1, served from another origin the service lists for the merchant, and paid in
 * Chromium through the cashier popup: the shop's backend (the example's shop-backend.mjs) issues a
 * checkout token, the popup offers the methods, shows WeChat Pay's QR code on a PC, and the buyer
 * pays by scanning it at the emulator.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configureCheckoutMerchants } from '../../src/http/checkout-merchants.ts';
import { API_APP } from '../e2e/harness.ts';
import { buildExample, EXAMPLE, type ExampleBuild } from '../support/uni-app-example.ts';
import { ARTIFACTS, DESKTOP, hasChromium, launchChromium, skipReason } from './chromium.ts';
import { type CashierHarness, startCashierHarness } from './harness.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The built dist as a static site. */
function staticSite(root: string): Server {
  return createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    let file = join(root, path === '/' ? 'index.html' : path);
    if (!file.startsWith(root)) return response.writeHead(403).end();
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      response.end(readFileSync(file));
    } catch {
      response.writeHead(404).end();
    }
  });
}

if (!hasChromium) console.warn(skipReason);

describe.skipIf(!hasChromium)(
  'the example uni-app H5 build pays through the cashier popup (Chromium)',
  () => {
    let harness: CashierHarness;
    let browser: Browser;
    let build: ExampleBuild;
    let shop: Server;
    let site: Server;
    let siteUrl: string;
    const contexts: BrowserContext[] = [];

    beforeAll(async () => {
      harness = await startCashierHarness();
      // The example's own backend, signing with the merchant's API app (its secret stays on the server).
      const backend = (await import(join(EXAMPLE, 'shop-backend.mjs'))) as {
        createShopBackend(options: { vkPayUrl: string; appId: string; secret: string }): Server;
      };
      shop = backend.createShopBackend({
        vkPayUrl: harness.url,
        appId: API_APP.appId,
        secret: API_APP.secret,
      });
      const shopUrl = await listen(shop);
      build = await buildExample('h5', { VITE_VKPAY_URL: harness.url, VITE_SHOP_URL: shopUrl });
      console.log(`H5 build: ${build.ms} ms`);
      site = staticSite(build.outDir);
      siteUrl = await listen(site);
      // The merchant lists the site's origin, so its pages may call the checkout's status and pay.
      configureCheckoutMerchants(harness.vkPay, [{ ...API_APP, corsOrigins: [siteUrl] }]);
      browser = await launchChromium();
    }, 180_000);
    afterEach(async () => {
      for (const context of contexts.splice(0)) await context.close().catch(() => {});
    });
    afterAll(async () => {
      await browser?.close();
      await harness?.close();
      await new Promise((resolve) => shop?.close(resolve));
      await new Promise((resolve) => site?.close(resolve));
      if (build) rmSync(build.outDir, { recursive: true, force: true });
    });

    const shot = (page: Page, name: string) =>
      page.screenshot({ path: join(ARTIFACTS, `uni-app-h5-${name}.png`), fullPage: true });

    async function orderStatus(outTradeNo: string): Promise<string> {
      const answer = await harness.api('GET', `/api/payments/${outTradeNo}`);
      return answer.json.data.order.status;
    }

    /** Opens the example on a desktop, enters the order and opens the popup at WeChat Pay's QR code. */
    async function payWithWxpayQr(amount: string, subject: string) {
      const context = await browser.newContext({ ...DESKTOP, locale: 'zh-CN' });
      contexts.push(context);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${siteUrl}/`);
      await page.locator('.demo__amount input').fill(amount);
      await page.locator('.demo__subject input').fill(subject);
      const issued = page.waitForResponse((response) => response.url().endsWith('/checkout'));
      await page.locator('.demo__pay').click();
      const { token } = (await (await issued).json()) as { token: string };
      const outTradeNo = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).o as string;

      // The popup: the amount in yuan, the subject, and the methods of a browser on a PC.
      await page.locator('.vkpay-cashier__method--wxpay').waitFor();
      expect(await page.locator('.vkpay-cashier__title').textContent()).toBe('收银台');
      expect(await page.locator('.vkpay-cashier__subject').textContent()).toBe(subject);
      expect(await page.locator('.vkpay-cashier__method--wxpay').textContent()).toBe('微信支付');
      expect(await page.locator('.vkpay-cashier__method--alipay').textContent()).toBe('支付宝');
      await shot(page, `choose-${outTradeNo.slice(-4)}`);

      // WeChat Pay on a PC is a QR code, drawn by the service; the code's content comes with it.
      const paid = page.waitForResponse((response) => response.url().endsWith(`/checkout/${token}/pay`));
      await page.locator('.vkpay-cashier__method--wxpay').click();
      const started = (await (await paid).json()) as { code: number; data: { payment: { codeUrl: string } } };
      expect(started.code).toBe(0);
      const codeUrl = started.data.payment.codeUrl;
      expect(codeUrl).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
      const qr = page.locator('.vkpay-cashier__qr-image img');
      await qr.waitFor({ state: 'attached' });
      expect(await qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
      expect(await page.locator('.vkpay-cashier__qr .vkpay-cashier__hint').textContent()).toBe(
        '请使用微信扫一扫完成支付',
      );
      // The countdown runs from the checkout's expiry (15 minutes by default).
      await expect
        .poll(() => page.locator('.vkpay-cashier__countdown').textContent())
        .toMatch(/剩余支付时间 1[45]:\d\d/);
      return { page, outTradeNo, codeUrl, errors };
    }

    it('a buyer on a PC pays with WeChat Pay by scanning the QR code, and the popup shows success', async () => {
      const { page, outTradeNo, codeUrl, errors } = await payWithWxpayQr('19.90', '年度会员');
      expect(await page.locator('.vkpay-cashier__amount').textContent()).toBe('¥19.90');
      await shot(page, 'wxpay-qr');

      // The buyer scans: WeChat opens the payer page for the code, and the buyer pays there.
      const phone = await page.context().newPage();
      await phone.goto(`${harness.wxpay.emulator.url}/sandbox/payer?code_url=${encodeURIComponent(codeUrl)}`);
      await phone.getByTestId('pay').click();
      await phone.getByTestId('notice').waitFor();
      await phone.close();

      await page.locator('.vkpay-cashier__result--paid').waitFor({ timeout: 20_000 });
      expect(await page.locator('.vkpay-cashier__result-title').textContent()).toBe('支付成功');
      // The page heard the success event; the way on is closing the popup.
      expect(await page.locator('.demo__status').textContent()).toBe(`已支付: ${outTradeNo}`);
      expect(await page.locator('.vkpay-cashier__action').allTextContents()).toEqual(['关闭']);
      await shot(page, 'wxpay-success');
      expect(await orderStatus(outTradeNo)).toBe('SUCCESS');

      await page.locator('.vkpay-cashier__action--close').click();
      await page.locator('.vkpay-cashier').waitFor({ state: 'detached' });
      expect(errors).toEqual([]);
    });

    it("an insufficient balance ends on the failure state in the buyer's words, with 40007 and the way on", async () => {
      const { page, outTradeNo } = await payWithWxpayQr('100', '充值 100 元');
      const failed = await harness.wxpay.control(
        'POST',
        `/trades/${harness.wxpay.mchId}/${outTradeNo}/fail`,
        {
          code: 'NOT_ENOUGH',
          final: true,
        },
      );
      expect(failed.status).toBe(200);

      await page.locator('.vkpay-cashier__result--failed').waitFor({ timeout: 20_000 });
      expect(await page.locator('.vkpay-cashier__result-title').textContent()).toBe('余额不足');
      expect(await page.locator('.vkpay-cashier__code').textContent()).toBe('代码 40007');
      // WeChat ended this attempt: another method, or close.
      expect(await page.locator('.vkpay-cashier__action').allTextContents()).toEqual([
        '更换支付方式',
        '关闭',
      ]);
      expect(await page.locator('.demo__status').textContent()).toMatch(/^40007 /);
      await shot(page, 'wxpay-insufficient-balance');
      expect(await orderStatus(outTradeNo)).toBe('FAILED');

      await page.locator('.vkpay-cashier__action--otherMethod').click();
      await page.locator('.vkpay-cashier__method--alipay').waitFor();
    });

    it('cancelling at the QR code closes the popup, and the page hears cancel', async () => {
      const { page, outTradeNo } = await payWithWxpayQr('0.01', '测试');
      await page.locator('.vkpay-cashier__action--cancel').click();
      await page.locator('.vkpay-cashier').waitFor({ state: 'detached' });
      expect(await page.locator('.demo__status').textContent()).toBe('已取消');
      await shot(page, 'cancelled');
      // Nothing was paid; the order stays open for the shop to close or pay later.
      expect(await orderStatus(outTradeNo)).toBe('NOTPAY');
    });
  },
);
