import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE } from '../../src/core/errors.ts';
import { ARTIFACTS, DESKTOP, hasChromium, launchChromium, PHONE, skipReason } from './chromium.ts';
import { type CashierHarness, startCashierHarness } from './harness.ts';

if (!hasChromium) console.warn(skipReason);

describe.skipIf(!hasChromium)('the cashier in Chromium, against the emulators', () => {
  let harness: CashierHarness;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    harness = await startCashierHarness();
    browser = await launchChromium();
  });
  // A test's pages close with it: pages left open keep polling, and together they would spend the
  // per-IP budget (every page here comes from 127.0.0.1) that the later tests need.
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close().catch(() => {});
  });
  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await harness?.close();
  });

  /** A page that records every URL the cashier's origin asks for. */
  async function open(device: typeof DESKTOP | typeof PHONE, locale: string) {
    const context = await browser.newContext({ ...device, locale });
    contexts.push(context);
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (request) => {
      const frameUrl = request.frame().url();
      // Only what the cashier itself loads: gateway pages the buyer is sent to are the gateway's.
      if (frameUrl.startsWith(harness.url) || request.isNavigationRequest()) requests.push(request.url());
    });
    return { page, requests };
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  /** Every request made from the cashier went to the service itself (or is inline data). */
  function expectNoThirdParty(requests: string[], allowed: string[] = []) {
    const foreign = requests.filter(
      (url) =>
        !url.startsWith('data:') && ![harness.url, ...allowed].some((origin) => url.startsWith(origin)),
    );
    expect(foreign).toEqual([]);
  }

  async function orderStatus(outTradeNo: string): Promise<string> {
    const answer = await harness.api('GET', `/api/payments/${outTradeNo}`);
    return answer.json.data.order.status;
  }

  it('a buyer on a desktop pays with WeChat Pay by scanning the QR code, and sees success', async () => {
    const checkout = await harness.checkout({ subject: '年度会员', total_fee: 1990 });
    const outTradeNo = JSON.parse(Buffer.from(checkout.token.split('.')[1]!, 'base64url').toString()).o;
    const { page, requests } = await open(DESKTOP, 'zh-CN');
    await page.goto(checkout.url);
    await expect.poll(() => page.getByTestId('amount').textContent()).toBe('¥19.90');
    expect(await page.getByTestId('subject').textContent()).toBe('年度会员');
    expect(await page.getByTestId('provider-wxpay').textContent()).toBe('微信支付');
    // A desktop gets both providers; WeChat Pay as a QR code, so no WeChat H5 here.
    expect(await page.getByTestId('provider-alipay').isVisible()).toBe(true);
    expect(await page.getByTestId('countdown').textContent()).toMatch(/^1[45]:\d\d$/);

    await page.getByTestId('provider-wxpay').click();
    const qr = page.getByTestId('qr');
    await qr.waitFor({ state: 'visible' });
    const content = await qr.getAttribute('data-content');
    expect(content).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/);
    expect((await qr.boundingBox())!.width).toBeGreaterThan(150);
    await shot(page, 'wxpay-desktop-qr');

    // The buyer scans: WeChat opens the payer page for the code_url, and the buyer pays there.
    const phone = await page.context().newPage();
    await phone.goto(`${harness.wxpay.emulator.url}/sandbox/payer?code_url=${encodeURIComponent(content!)}`);
    await phone.getByTestId('pay').click();
    await phone.getByTestId('notice').waitFor();

    await page.getByTestId('result-success').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('result-success').textContent()).toContain('支付成功');
    await shot(page, 'wxpay-desktop-success');
    expect(await orderStatus(outTradeNo)).toBe('SUCCESS');

    // The desktop card is centred and narrow; the page loaded nothing from anywhere else.
    const card = (await page.locator('#cashier').boundingBox())!;
    expect(card.width).toBeLessThanOrEqual(480);
    expect(card.x).toBeGreaterThan(300);
    expectNoThirdParty(requests);
  });

  it('a buyer on a phone pays with Alipay through the WAP cashier and comes back to success (English)', async () => {
    const checkout = await harness.checkout({
      subject: 'Coffee beans',
      total_fee: 4500,
      return_url: 'https://shop.example/orders',
    });
    const { page, requests } = await open(PHONE, 'en-US');
    await page.goto(checkout.url);
    expect(await page.getByTestId('amount').textContent()).toBe('¥45.00');
    expect(await page.getByTestId('provider-alipay').textContent()).toBe('Alipay');
    // The phone layout fills the screen.
    expect((await page.locator('#cashier').boundingBox())!.width).toBe(390);
    await shot(page, 'alipay-phone-choose');

    await page.getByTestId('provider-alipay').click();
    // Alipay's signed form is submitted to the gateway, which shows its WAP cashier.
    await page.waitForURL(`${harness.alipay.emulator.url}/**`);
    expect(await page.locator('[data-trade-status]').textContent()).toBe('WAIT_BUYER_PAY');
    await page.locator('button[data-action="pay"]').click();

    // The gateway returns the buyer to the cashier, which confirms the payment by polling.
    await page.waitForURL(`${checkout.url}?*`);
    await page.getByTestId('result-success').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('result-success').textContent()).toContain('Payment successful');
    expect(await page.getByTestId('back').getAttribute('href')).toBe('https://shop.example/orders');
    await shot(page, 'alipay-phone-success');
    // The only other origin is the gateway the buyer was sent to pay at.
    expectNoThirdParty(requests, [harness.alipay.emulator.url]);
  });

  it("an insufficient balance ends on the failure page in the buyer's words, with 40007 for support and the way on", async () => {
    const checkout = await harness.checkout({ subject: '充值 100 元', total_fee: 10000 });
    const outTradeNo = JSON.parse(Buffer.from(checkout.token.split('.')[1]!, 'base64url').toString()).o;
    const { page, requests } = await open(DESKTOP, 'zh-CN');
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').click();
    await page.getByTestId('qr').waitFor();

    // The payer's card is short of money and WeChat fails the payment.
    const failed = await harness.wxpay.control('POST', `/trades/${harness.wxpay.mchId}/${outTradeNo}/fail`, {
      code: 'NOT_ENOUGH',
      final: true,
    });
    expect(failed.status).toBe(200);

    await page.getByTestId('result-failed').waitFor({ timeout: 15_000 });
    // Words for the buyer, not the developers' table's advice to the merchant; the code for support.
    expect(await page.getByTestId('message-title').textContent()).toBe('余额不足');
    expect(await page.getByTestId('result-failed').textContent()).not.toContain(ERROR_TABLE[40007].actionZh);
    expect(await page.getByTestId('error-code').textContent()).toContain('40007');
    // WeChat's PAYERROR ends the order: the way on is the shop, not a button that fails again.
    expect(await page.getByTestId('message-text').textContent()).toContain('回到商户重新下单');
    await shot(page, 'wxpay-insufficient-balance');
    expect(await orderStatus(outTradeNo)).toBe('FAILED');
    expectNoThirdParty(requests);
  });

  it('an order that expires while the buyer waits shows that it is closed', async () => {
    const checkout = await harness.checkout({ subject: '限时订单', time_expire: 6 });
    const outTradeNo = JSON.parse(Buffer.from(checkout.token.split('.')[1]!, 'base64url').toString()).o;
    const { page } = await open(DESKTOP, 'zh-CN');
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').click();
    await page.getByTestId('qr').waitFor();

    await page.getByTestId('result-closed').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('result-closed').textContent()).toContain('订单已超时关闭');
    await shot(page, 'expired-closed');
    expect(await orderStatus(outTradeNo)).toBe('CLOSED');

    // Opening the link again later still tells the buyer, but paying is refused.
    await page.reload();
    await page.getByTestId('result-closed').waitFor();
    const refused = (await page.evaluate(async (url) => {
      const response = await fetch(`${url}/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ provider: 'wxpay' }),
      });
      return response.json();
    }, checkout.url)) as { code: number };
    expect(refused.code).toBe(40009);
  });

  it('offers no Alipay inside the WeChat browser unless the merchant allows it', async () => {
    const checkout = await harness.checkout();
    const wechat = await open(
      { ...PHONE, userAgent: `${PHONE.userAgent} MicroMessenger/8.0.47` } as typeof PHONE,
      'zh-CN',
    );
    await wechat.page.goto(checkout.url);
    await wechat.page.getByTestId('provider-wxpay').waitFor();
    expect(await wechat.page.getByTestId('provider-alipay').count()).toBe(0);

    const allowed = await harness.checkout({ alipay_in_wechat: true });
    await wechat.page.goto(allowed.url);
    await wechat.page.getByTestId('provider-alipay').waitFor();
    await shot(wechat.page, 'wechat-browser-choose');
  });
});
