/**
 * The buyer changes their mind in the cashier: after choosing WeChat Pay, "pay with Alipay instead"
 * closes the WeChat attempt and takes the buyer on to Alipay; Back from Alipay, WeChat is no longer
 * offered (its trade is closed) and the page says to finish with Alipay. Desktop, zh and en.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, DESKTOP, hasChromium, launchChromium, skipReason } from './chromium.ts';
import { type CashierHarness, MERCHANT, startCashierHarness } from './harness.ts';

if (!hasChromium) console.warn(skipReason);

describe.skipIf(!hasChromium)('switching payment method in the cashier', () => {
  let harness: CashierHarness;
  let browser: Browser;

  beforeAll(async () => {
    harness = await startCashierHarness();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
  });

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `switch-${name}.png`), fullPage: true });

  for (const [locale, instead, insteadWechat] of [
    ['zh-CN', '改用支付宝支付', '改用微信支付支付'],
    ['en-US', 'Pay with Alipay instead', 'Pay with WeChat Pay instead'],
  ] as const) {
    it(`desktop ${locale}: WeChat QR, then Alipay instead; WeChat is closed and no longer offered`, async () => {
      const checkout = await harness.checkout({
        subject: '年度会员',
        return_url: 'https://shop.example/o/2',
      });
      const context = await browser.newContext({ ...DESKTOP, locale });
      const page = await context.newPage();
      await page.goto(checkout.url);
      await page.getByTestId('provider-wxpay').click();
      await page.getByTestId('qr').waitFor();
      const other = page.getByTestId('switch-alipay');
      expect(await other.textContent()).toBe(instead);
      await shot(page, `qr-with-switch-${locale}`);

      await other.click();
      // Alipay's cashier page (the emulator's) opens in this tab.
      await page.waitForURL((url) => url.href.startsWith(harness.alipay.emulator.url));
      const status = (await (await fetch(`${checkout.url}/status`)).json()) as {
        data: { outTradeNo: string; provider: string; closedProviders: string[] };
      };
      expect(status.data).toMatchObject({ provider: 'alipay', closedProviders: ['wxpay'] });
      const order = await harness.vkPay.getOrder(MERCHANT, status.data.outTradeNo);
      const wechat = await harness.wxpay.control('GET', `/trades/${harness.wxpay.mchId}/${order.outTradeNo}`);
      expect(wechat.json.transaction.trade_state).toBe('CLOSED');

      // Back to the cashier: Alipay is the method; WeChat, closed, is not offered again.
      await page.goBack();
      await page.waitForURL((url) => url.href.startsWith(checkout.url));
      await page.locator('#cashier[data-view="away"]').waitFor();
      expect(await page.getByTestId('chosen').textContent()).toContain(
        locale === 'zh-CN' ? '支付宝' : 'Alipay',
      );
      expect(await page.getByTestId('pay-again').count()).toBe(1);
      expect(await page.getByText(insteadWechat).count()).toBe(0);
      await shot(page, `back-from-alipay-${locale}`);
      await context.close();
    });
  }
});
