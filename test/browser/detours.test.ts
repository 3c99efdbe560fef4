/**
 * The detours a buyer takes in the cashier, each ending in a view with a way forward: a reload or
 * the language link after choosing, Back from the gateway's page, giving up there, cancelling
 * WeChat's sheet, a second tab switching to the other method, a click just after expiry, a link that
 * is no longer valid, offline and a busy service. Desktop, phone and the WeChat browser.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import { cashierStyle } from '../../src/http/checkout-assets.ts';
import { cashierBusyPage } from '../../src/http/checkout-page.ts';
import { checkoutRuntime, configureCheckout } from '../../src/http/checkout-token.ts';
import { ARTIFACTS, DESKTOP, hasChromium, launchChromium, PHONE, skipReason } from './chromium.ts';
import { type CashierHarness, startCashierHarness } from './harness.ts';

if (!hasChromium) console.warn(skipReason);

const WECHAT = { ...PHONE, userAgent: `${PHONE.userAgent} MicroMessenger/8.0.47` } as typeof PHONE;
type Device = typeof DESKTOP | typeof PHONE;

/** WeChat's bridge as the WeChat browser gives it: the sheet answers with `window.__wxAnswer`. */
const FAKE_BRIDGE = `
window.__wxInvocations = 0;
window.__wxAnswer = 'get_brand_wcpay_request:cancel';
window.WeixinJSBridge = {
  invoke(name, params, callback) {
    window.__wxInvocations += 1;
    setTimeout(() => callback({ err_msg: window.__wxAnswer }), 50);
  },
};`;

describe.skipIf(!hasChromium)('cashier detours, each ending with a way forward', () => {
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

  async function open(device: Device, locale: string, init?: string): Promise<Page> {
    const context = await browser.newContext({ ...device, locale });
    contexts.push(context);
    if (init) await context.addInitScript(init);
    return context.newPage();
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `detour-${name}.png`), fullPage: true });

  /** What the buyer sees (textContent would include the page's inert JSON state). */
  const visibleText = (page: Page) =>
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText is the rendered text
    page.locator('body').innerText();

  const viewOf = (page: Page) => page.locator('#cashier').getAttribute('data-view');

  /** Nothing on the page is wider than the viewport. */
  async function expectNoOverflow(page: Page) {
    const widths = await page.evaluate(() => {
      const win = globalThis as unknown as {
        innerWidth: number;
        document: { documentElement: { scrollWidth: number } };
      };
      return [win.document.documentElement.scrollWidth, win.innerWidth];
    });
    expect(widths[0]).toBeLessThanOrEqual(widths[1]!);
  }

  /** A way forward is on screen: a button to pay or check, or the link back to the shop. */
  async function expectWayForward(page: Page) {
    const ways = page.locator(
      '[data-testid="pay-again"], [data-testid="check-now"], [data-testid="retry"], [data-testid^="provider-"], [data-testid="back"], [data-testid="error-link"]',
    );
    expect(await ways.count()).toBeGreaterThan(0);
  }

  it('desktop: a reload after choosing WeChat Pay shows the QR code again, and so does the English link', async () => {
    const checkout = await harness.checkout({ subject: '年度会员', return_url: 'https://shop.example/o/1' });
    const page = await open(DESKTOP, 'zh-CN');
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').click();
    await page.getByTestId('qr').waitFor();
    const first = await page.getByTestId('qr').getAttribute('data-content');

    await page.reload();
    await page.getByTestId('qr').waitFor();
    expect(await page.getByTestId('qr').getAttribute('data-content')).toBe(first);
    expect(await page.getByTestId('chosen').textContent()).toContain('微信支付');
    await shot(page, 'desktop-reload-qr-zh');

    await page.getByTestId('lang-switch').click();
    await page.waitForURL(/lang=en/);
    await page.getByTestId('qr').waitFor();
    expect(await page.getByTestId('hint').textContent()).toBe('Scan with WeChat to pay');
    expect(await page.getByTestId('back').getAttribute('href')).toBe('https://shop.example/o/1');
    await shot(page, 'desktop-lang-qr-en');

    // "放弃支付" on the payer's phone changes nothing at WeChat: the QR code still pays.
    const phone = await page.context().newPage();
    await phone.goto(`${harness.wxpay.emulator.url}/sandbox/payer?code_url=${encodeURIComponent(first!)}`);
    await phone.getByTestId('abandon').click();
    await phone.getByTestId('notice').waitFor();
    await page.getByTestId('check-now').click();
    await page.getByTestId('waiting').filter({ hasText: 'If you have paid' }).waitFor();
    expect(await viewOf(page)).toBe('qr');
    await phone.goto(`${harness.wxpay.emulator.url}/sandbox/payer?code_url=${encodeURIComponent(first!)}`);
    await phone.getByTestId('pay').click();
    await page.getByTestId('result-success').waitFor({ timeout: 15_000 });
  });

  it('phone: Back from Alipay’s WAP page offers to pay again, and paying again succeeds (zh)', async () => {
    const checkout = await harness.checkout({ subject: '咖啡豆 500g', total_fee: 4500 });
    const page = await open(PHONE, 'zh-CN');
    await page.goto(checkout.url);
    await page.getByTestId('provider-alipay').click();
    await page.waitForURL(`${harness.alipay.emulator.url}/**`);
    await page.goBack();
    await page.getByTestId('pay-again').waitFor();
    expect(await page.getByTestId('message-title').textContent()).toBe('支付尚未完成');
    await expectWayForward(page);
    await expectNoOverflow(page);
    await shot(page, 'phone-back-from-alipay-zh');

    await page.getByTestId('pay-again').click();
    await page.waitForURL(`${harness.alipay.emulator.url}/**`);
    await page.locator('button[data-action="pay"]').click();
    await page.waitForURL(`${checkout.url}?*`);
    await page.getByTestId('result-success').waitFor({ timeout: 15_000 });
  });

  it('phone: "放弃" on Alipay’s WAP page comes back to the cashier (quit_url), not to a dead end', async () => {
    const checkout = await harness.checkout({ subject: 'Coffee', return_url: 'https://shop.example/cart' });
    const page = await open(PHONE, 'en-US');
    await page.goto(checkout.url);
    await page.getByTestId('provider-alipay').click();
    await page.waitForURL(`${harness.alipay.emulator.url}/**`);
    await page.locator('button[data-action="abandon"]').click();
    await page.waitForURL(`${checkout.url}**`);
    await page.locator('#cashier[data-view="result"], #cashier[data-view="away"]').waitFor();
    await expectWayForward(page);
    expect(await page.getByTestId('back').getAttribute('href')).toBe('https://shop.example/cart');
    await shot(page, 'phone-alipay-quit-en');
  });

  it('phone: Back from the WeChat H5 page and "放弃支付" there both leave a way to pay again', async () => {
    const checkout = await harness.checkout({ subject: '月卡' });
    const page = await open(PHONE, 'zh-CN');
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').click();
    await page.waitForURL(`${harness.wxpay.emulator.url}/**`);
    await page.goBack();
    await page.getByTestId('pay-again').waitFor();
    expect(await page.getByTestId('pay-again').textContent()).toContain('微信支付');

    await page.getByTestId('pay-again').click();
    await page.waitForURL(`${harness.wxpay.emulator.url}/**`);
    await page.getByTestId('abandon').click();
    // WeChat's H5 page sends the buyer to redirect_url: the cashier.
    await page.waitForURL(`${checkout.url}**`);
    await page.getByTestId('pay-again').waitFor();
    await shot(page, 'phone-wechat-h5-abandon-zh');

    await page.getByTestId('pay-again').click();
    await page.waitForURL(`${harness.wxpay.emulator.url}/**`);
    await page.getByTestId('pay').click();
    await page.waitForURL(`${checkout.url}**`);
    await page.getByTestId('result-success').waitFor({ timeout: 15_000 });
  });

  it('WeChat browser: cancelling the payment sheet says so in words and pays again, also after a reload', async () => {
    const checkout = await harness.checkout({ subject: '会员', openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' });
    const page = await open(WECHAT, 'zh-CN', FAKE_BRIDGE);
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').click();
    await page.getByTestId('pay-again').waitFor();
    expect(await page.getByTestId('message-title').textContent()).toBe('您已取消支付');
    expect(await visibleText(page)).not.toContain('get_brand_wcpay_request');
    await expectNoOverflow(page);
    await shot(page, 'wechat-jsapi-cancel-zh');

    await page.reload();
    await page.getByTestId('pay-again').waitFor();
    await page.evaluate(() => {
      (globalThis as unknown as { __wxAnswer: string }).__wxAnswer = 'get_brand_wcpay_request:fail';
    });
    await page.getByTestId('pay-again').click();
    await page.getByTestId('message').filter({ hasText: '支付尚未完成' }).waitFor();
    expect(
      await page.evaluate(() => (globalThis as unknown as { __wxInvocations: number }).__wxInvocations),
    ).toBe(1);
    expect(await visibleText(page)).not.toContain('get_brand_wcpay_request');
  });

  it('WeChat browser without an openid: a QR code to long-press, never only "请使用微信扫一扫"', async () => {
    const checkout = await harness.checkout({ subject: '会员' });
    const page = await open(WECHAT, 'zh-CN');
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').click();
    await page.getByTestId('qr').waitFor();
    expect(await page.getByTestId('hint').textContent()).toContain('长按二维码');
    expect(await page.getByTestId('hint-alternative').isVisible()).toBe(true);
    expect(await visibleText(page)).not.toContain('请使用微信扫一扫');
    await expectNoOverflow(page);
    await shot(page, 'wechat-no-openid-qr-zh');
  });

  it('a second tab sees the method chosen in the first; switching there moves the first tab on too', async () => {
    const checkout = await harness.checkout({ subject: 'Two tabs' });
    const first = await open(DESKTOP, 'zh-CN');
    const second = await first.context().newPage();
    await first.goto(checkout.url);
    await second.goto(checkout.url);
    await first.getByTestId('provider-wxpay').click();
    await first.getByTestId('qr').waitFor();

    // The second tab notices the choice by itself (it polls): finish with WeChat Pay, or switch.
    await second.locator('[data-situation="otherMethod"]').waitFor();
    expect(await visibleText(second)).not.toContain('参数错误');
    expect(await second.getByTestId('pay-again').textContent()).toBe('重新显示二维码');
    expect(await second.getByTestId('switch-alipay').textContent()).toBe('改用支付宝支付');
    await shot(second, 'second-tab-other-method-zh');

    // Switching there closes the WeChat QR code: the first tab stops showing it and says so.
    await second.getByTestId('switch-alipay').click();
    await second.waitForURL((url) => url.href.startsWith(harness.alipay.emulator.url));
    await first.locator('[data-situation="otherMethod"]').waitFor();
    expect(await first.getByTestId('qr').count()).toBe(0);
    expect(await first.getByTestId('chosen').textContent()).toContain('支付宝');
    expect(await first.getByTestId('switch-wxpay').count()).toBe(0);
    await shot(first, 'first-tab-after-switch-zh');
  });

  it('a click just after expiry shows the order expired, not "权限不足"', async () => {
    const page = await open(DESKTOP, 'en-US');
    await page.clock.install();
    const checkout = await harness.checkout({
      subject: '限时',
      time_expire: 5,
      return_url: 'https://shop.example/',
    });
    await page.goto(checkout.url);
    // The page's clock stops (a laptop lid closed); the checkout expires meanwhile.
    await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1_000);
    await page.getByTestId('provider-wxpay').waitFor();
    const wait = Date.parse(checkout.expires_at) + 500 - Date.now();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    // A paused clock stops animation frames too, which a normal click waits for.
    await page.getByTestId('provider-wxpay').dispatchEvent('click');
    await page.getByTestId('result-closed').waitFor();
    const text = await page.getByTestId('result-closed').textContent();
    expect(text).toContain('The order expired');
    expect(text).not.toContain('Permission');
    await expectWayForward(page);
    await shot(page, 'expired-click-en');
  });

  it('a changed link and a wrong path are HTML pages for buyers, in zh and en', async () => {
    const checkout = await harness.checkout();
    const page = await open(PHONE, 'zh-CN');
    const changed = `${checkout.url.slice(0, -3)}${checkout.url.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    const answer = await page.goto(changed);
    expect(answer!.status()).toBe(401);
    expect(await page.getByTestId('error-title').textContent()).toBe('支付链接无效');
    const body = await visibleText(page);
    expect(body).not.toContain('签名');
    expect(body).not.toContain('API');
    expect(await page.getByTestId('error-code').textContent()).toContain('40002');
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    expect(await page.title()).toContain('支付链接无效');
    await shot(page, 'invalid-link-zh');

    await page.goto(`${changed}?lang=en`);
    expect(await page.getByTestId('error-title').textContent()).toBe('This payment link is not valid');

    // Past the 24 hours a link may still show its outcome.
    const claims = JSON.parse(Buffer.from(checkout.token.split('.')[1]!, 'base64url').toString());
    const old = checkoutRuntime(harness.vkPay).signer.sign({ ...claims, e: claims.i - 2 * 86_400 });
    const gone = await page.goto(`${harness.url}/checkout/${old}`);
    expect(gone!.status()).toBe(403);
    expect(await page.getByTestId('error-title').textContent()).toBe('支付链接已过期');
    expect(await visibleText(page)).not.toContain('权限');

    const missing = await page.goto(`${checkout.url}/foo`);
    expect(missing!.status()).toBe(404);
    expect(missing!.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.getByTestId('error-title').textContent()).toBe('页面不存在');
    await shot(page, 'not-found-zh');
    await page.getByTestId('error-link').click();
    await page.getByTestId('provider-wxpay').waitFor();
  });

  it('the page itself while the store is down is an HTML page that retries', async () => {
    const checkout = await harness.checkout();
    const page = await open(DESKTOP, 'en-US');
    const original = harness.vkPay.getOrder;
    harness.vkPay.getOrder = async () => {
      throw new PayError(40010, { message: 'store: connect ECONNREFUSED' });
    };
    try {
      const answer = await page.goto(checkout.url);
      expect(answer!.status()).toBe(503);
      expect(await page.getByTestId('error-title').textContent()).toBe('Service temporarily unavailable');
      expect(await visibleText(page)).not.toContain('ECONNREFUSED');
      await shot(page, 'unavailable-page-en');
    } finally {
      harness.vkPay.getOrder = original;
    }
    await page.getByTestId('error-link').click();
    await page.getByTestId('provider-wxpay').waitFor();
  });

  it('an insufficient balance ends the order with the way back to the shop (zh)', async () => {
    const checkout = await harness.checkout({
      subject: '充值',
      total_fee: 10_000,
      return_url: 'https://shop.example/',
    });
    const outTradeNo = JSON.parse(Buffer.from(checkout.token.split('.')[1]!, 'base64url').toString()).o;
    const page = await open(PHONE, 'zh-CN');
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').waitFor();
    // A phone pays WeChat through H5; the payer's balance is short and WeChat ends the order.
    await page.getByTestId('provider-wxpay').click();
    await page.waitForURL(`${harness.wxpay.emulator.url}/**`);
    await harness.wxpay.control('POST', `/trades/${harness.wxpay.mchId}/${outTradeNo}/fail`, {
      code: 'NOT_ENOUGH',
      final: true,
    });
    await page.goBack();
    await page.getByTestId('result-failed').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('message-title').textContent()).toBe('余额不足');
    expect(await visibleText(page)).not.toContain('提示用户充值');
    expect(await page.getByTestId('back').getAttribute('href')).toBe('https://shop.example/');
    await expectNoOverflow(page);
    await shot(page, 'phone-balance-zh');
  });

  it('the rate-limited page is HTML with a retry', async () => {
    const checkout = await harness.checkout();
    const page = await open(DESKTOP, 'zh-CN');
    const style = (await cashierStyle()).hash;
    await page.route(checkout.url, (route) =>
      route.fulfill({
        status: 429,
        contentType: 'text/html; charset=utf-8',
        body: cashierBusyPage({
          lang: 'zh',
          retryAfterSeconds: 30,
          style,
          url: new URL(checkout.url).pathname,
        }),
      }),
    );
    await page.goto(checkout.url);
    expect(await page.getByTestId('error-title').textContent()).toBe('请求过于频繁');
    expect(await page.getByTestId('error-link').getAttribute('href')).toBe(new URL(checkout.url).pathname);
    await shot(page, 'rate-limited-zh');
  });

  it('after a restart with a new key, the page says the link is no longer valid instead of keeping a stale QR', async () => {
    const checkout = await harness.checkout({ return_url: 'https://shop.example/back' });
    const page = await open(DESKTOP, 'zh-CN');
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').click();
    await page.getByTestId('qr').waitFor();
    // A development restart: the checkout key is random per process.
    configureCheckout(harness.vkPay, {});
    await page.locator('[data-situation="invalidLink"]').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('qr').count()).toBe(0);
    expect(await page.getByTestId('back').getAttribute('href')).toBe('https://shop.example/back');
    await shot(page, 'restart-invalid-zh');
  });

  it('phone: a long subject without spaces and a long Chinese subject stay inside 390 px and clear of the language link', async () => {
    const page = await open(PHONE, 'zh-CN');
    for (const subject of [
      'X'.repeat(120),
      '北京市朝阳区某某科技有限公司年度企业会员服务费（含技术支持与培训）',
    ]) {
      const checkout = await harness.checkout({ subject });
      await page.goto(checkout.url);
      await page.getByTestId('provider-wxpay').waitFor();
      await expectNoOverflow(page);
      const [subjectBox, langBox] = await Promise.all([
        page.getByTestId('subject').boundingBox(),
        page.getByTestId('lang-switch').boundingBox(),
      ]);
      const overlaps =
        subjectBox!.x < langBox!.x + langBox!.width &&
        langBox!.x < subjectBox!.x + subjectBox!.width &&
        subjectBox!.y < langBox!.y + langBox!.height &&
        langBox!.y < subjectBox!.y + subjectBox!.height;
      expect(overlaps).toBe(false);
    }
    await shot(page, 'phone-long-subject-zh');
  });

  it('a checkout the merchant cancels before the buyer chooses says so, with the way back', async () => {
    const checkout = await harness.checkout({ subject: '取消测试', return_url: 'https://shop.example/c' });
    const outTradeNo = JSON.parse(Buffer.from(checkout.token.split('.')[1]!, 'base64url').toString()).o;
    const page = await open(PHONE, 'zh-CN');
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').waitFor();
    const cancelled = await harness.api('POST', `/api/checkouts/${outTradeNo}/cancel`, {});
    expect(cancelled.json.code).toBe(0);
    await page.getByTestId('result-closed').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('result-closed').textContent()).toContain('订单已被商户取消');
    expect(await page.getByTestId('back').getAttribute('href')).toBe('https://shop.example/c');
    await shot(page, 'cancelled-by-merchant-zh');
  });

  it('offline and a busy service: a banner while it lasts, and choosing works again after', async () => {
    const checkout = await harness.checkout({ subject: 'Offline test' });
    const page = await open(PHONE, 'en-US');
    await page.goto(checkout.url);
    await page.getByTestId('provider-alipay').waitFor();
    await page.context().setOffline(true);
    await page.locator('[data-testid="banner"][data-situation="offline"]').waitFor();
    await page.getByTestId('provider-alipay').click();
    await page.getByTestId('provider-alipay').waitFor();
    expect(await page.locator('[data-testid="banner"][data-situation="offline"]').isVisible()).toBe(true);
    await shot(page, 'offline-en');
    await page.context().setOffline(false);
    await page.getByTestId('banner').waitFor({ state: 'hidden' });

    await page.route('**/status', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ code: 40010, msg: 'Payment system busy', action: 'Retry later' }),
      }),
    );
    await page.locator('[data-testid="banner"][data-situation="unavailable"]').waitFor({ timeout: 10_000 });
    await shot(page, 'unavailable-en');
    await page.unroute('**/status');
    await page.getByTestId('banner').waitFor({ state: 'hidden', timeout: 10_000 });
    await page.getByTestId('provider-alipay').click();
    await page.waitForURL(`${harness.alipay.emulator.url}/**`);
  });
});
