/**
 * The buyer's cashier against WCAG 2.1 AA, as axe-core checks it: every state of the page and
 * every error page, in Chinese and English, on a desktop, a phone and in the WeChat browser, under
 * the page's own Content-Security-Policy. Then what axe cannot see: focus after a change of state,
 * the live region's words, the keyboard and the visible focus ring.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { AxeResults, RunOptions } from 'axe-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import QRCode from 'qrcode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import { cashierStyle } from '../../src/http/checkout-assets.ts';
import { cashierBusyPage } from '../../src/http/checkout-page.ts';
import { checkoutRuntime, configureCheckout } from '../../src/http/checkout-token.ts';
import { ARTIFACTS, DESKTOP, hasChromium, launchChromium, PHONE, skipReason } from './chromium.ts';
import { type CashierHarness, startCashierHarness } from './harness.ts';

if (!hasChromium) console.warn(skipReason);

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

const WECHAT = { ...PHONE, userAgent: `${PHONE.userAgent} MicroMessenger/8.0.47` } as typeof PHONE;
const PROFILES = { desktop: DESKTOP, phone: PHONE, wechat: WECHAT } as const;
type Profile = keyof typeof PROFILES;
const LOCALES = { zh: 'zh-CN', en: 'en-US' } as const;
type Lang = keyof typeof LOCALES;

/** WeChat's bridge: the payment sheet answers with `window.__wxAnswer`. */
const BRIDGE = `
window.__wxAnswer = 'get_brand_wcpay_request:ok';
window.WeixinJSBridge = {
  invoke(name, params, callback) { setTimeout(() => callback({ err_msg: window.__wxAnswer }), 50); },
};`;

type AxeRun = (options: RunOptions) => Promise<AxeResults>;

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

const outTradeNoOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).o;

describe.skipIf(!hasChromium)('the cashier meets WCAG 2.1 AA in every state', () => {
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

  async function open(profile: Profile, lang: Lang, init?: string): Promise<Page> {
    const context = await browser.newContext({
      ...PROFILES[profile],
      locale: LOCALES[lang],
      reducedMotion: 'reduce',
    });
    contexts.push(context);
    if (init) await context.addInitScript(init);
    return context.newPage();
  }

  /** axe-core's WCAG 2.1 A and AA rules on the page as it is now (evaluated past the page's CSP). */
  async function axe(page: Page): Promise<Violation[]> {
    if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE_SOURCE);
    return page.evaluate(async (tags) => {
      const engine = (globalThis as unknown as { axe: { run: AxeRun } }).axe;
      const result = await engine.run({ runOnly: { type: 'tag', values: tags } });
      return result.violations.map((violation) => ({
        id: violation.id,
        impact: violation.impact ?? null,
        help: violation.help,
        nodes: violation.nodes.map(
          (node) => `${node.target.join(' ')}: ${node.failureSummary?.split('\n').slice(1).join(' ')}`,
        ),
      }));
    }, WCAG_TAGS);
  }

  /**
   * What axe leaves to best practice and the cashier holds to: a language and a title on every
   * page, one h1, one main landmark, and nothing moving by itself.
   */
  async function structure(page: Page): Promise<Violation[]> {
    const seen = (await page.evaluate(`({
      lang: document.documentElement.lang,
      title: document.title.trim(),
      h1: document.querySelectorAll('h1').length,
      main: document.querySelectorAll('main, [role="main"]').length,
      animations: document.getAnimations().length,
    })`)) as { lang: string; title: string; h1: number; main: number; animations: number };
    const problems = [
      ...(/^(zh-CN|en)$/.test(seen.lang) ? [] : [`html lang is "${seen.lang}"`]),
      ...(seen.title ? [] : ['no title']),
      ...(seen.h1 === 1 ? [] : [`${seen.h1} h1 elements`]),
      ...(seen.main === 1 ? [] : [`${seen.main} main landmarks`]),
      ...(seen.animations === 0 ? [] : [`${seen.animations} animations`]),
    ];
    return problems.length === 0
      ? []
      : [{ id: 'structure', impact: null, help: 'page structure', nodes: problems }];
  }

  /** Runs axe and screenshots one state; the violations are gathered under the state's name. */
  function auditor(profile: Profile, lang: Lang) {
    const found: Record<string, Violation[]> = {};
    const audited: string[] = [];
    const audit = async (page: Page, state: string) => {
      await page.screenshot({
        path: join(ARTIFACTS, `a11y-${profile}-${lang}-${state}.png`),
        fullPage: true,
      });
      const violations = [...(await axe(page)), ...(await structure(page))];
      audited.push(state);
      if (violations.length > 0) found[state] = violations;
    };
    return { audit, found, audited };
  }

  /** The order chosen with `provider` as this browser would, without leaving the page. */
  async function choose(page: Page, url: string, provider: 'wxpay' | 'alipay') {
    const code = await page.evaluate(
      async ({ url, provider }) => {
        const response = await fetch(`${url}/pay`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ provider }),
        });
        return ((await response.json()) as { code: number }).code;
      },
      { url, provider },
    );
    expect(code).toBe(0);
  }

  const wxpayTrade = (outTradeNo: string, action: 'pay' | 'fail') =>
    harness.wxpay.control(
      'POST',
      `/trades/${harness.wxpay.mchId}/${outTradeNo}/${action}`,
      action === 'fail' ? { code: 'NOT_ENOUGH', final: true } : {},
    );

  /** Holds the next /pay until the returned function is called: the "working" state stays. */
  async function holdPay(page: Page): Promise<() => Promise<void>> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let passed!: () => void;
    const gone = new Promise<void>((resolve) => {
      passed = resolve;
    });
    await page.route('**/pay', async (route) => {
      await released;
      await route.continue();
      passed();
    });
    return async () => {
      release();
      await gone;
      await page.unroute('**/pay');
    };
  }

  /** The Alipay QR view: no device is offered Alipay as a QR code, so the answer is made here. */
  async function alipayQr(page: Page) {
    const codeUrl = 'https://qr.alipay.com/bax08431ncmvbxtkzqhg0082';
    const svg = await QRCode.toString(codeUrl, { type: 'svg', margin: 1 });
    await page.route('**/pay', (route) =>
      route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({
          code: 0,
          msg: 'ok',
          data: {
            provider: 'alipay',
            scene: 'native',
            payment: { codeUrl },
            qrImage: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`,
          },
        }),
      }),
    );
  }

  /** The pages a buyer may land on without the cashier: the server's error pages. */
  async function errorPages(page: Page, lang: Lang, audit: (page: Page, state: string) => Promise<void>) {
    const checkout = await harness.checkout();
    const changed = `${checkout.url.slice(0, -3)}${checkout.url.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    expect((await page.goto(changed))!.status()).toBe(401);
    await audit(page, 'page-invalid-link');

    const claims = JSON.parse(Buffer.from(checkout.token.split('.')[1]!, 'base64url').toString());
    const old = checkoutRuntime(harness.vkPay).signer.sign({ ...claims, e: claims.i - 2 * 86_400 });
    expect((await page.goto(`${harness.url}/checkout/${old}`))!.status()).toBe(403);
    await audit(page, 'page-expired-link');

    expect((await page.goto(`${checkout.url}/foo`))!.status()).toBe(404);
    await audit(page, 'page-not-found');

    const style = (await cashierStyle()).hash;
    const busy = cashierBusyPage({ lang, retryAfterSeconds: 30, style, url: new URL(checkout.url).pathname });
    await page.route(checkout.url, (route) =>
      route.fulfill({ status: 429, contentType: 'text/html; charset=utf-8', body: busy }),
    );
    expect((await page.goto(checkout.url))!.status()).toBe(429);
    await audit(page, 'page-rate-limited');
    await page.unroute(checkout.url);

    const original = harness.vkPay.getOrder;
    harness.vkPay.getOrder = async () => {
      throw new PayError(40010, { message: 'store: connect ECONNREFUSED' });
    };
    try {
      expect((await page.goto(checkout.url))!.status()).toBe(503);
      await audit(page, 'page-unavailable');
    } finally {
      harness.vkPay.getOrder = original;
    }
  }

  for (const profile of Object.keys(PROFILES) as Profile[]) {
    for (const lang of Object.keys(LOCALES) as Lang[]) {
      it(`${profile}, ${lang}: axe finds no WCAG 2.1 AA violation in any state`, async () => {
        const { audit, found, audited } = auditor(profile, lang);
        const returnUrl = 'https://shop.example/orders/1';
        // Made first, so it has expired by the time it is opened.
        const expiring = await harness.checkout({ time_expire: 5, return_url: returnUrl });
        const expiresAt = Date.parse(expiring.expires_at);
        const page = await open(profile, lang, profile === 'wechat' ? BRIDGE : undefined);

        // choose, then the banners over it: offline, busy, rate limited.
        const first = await harness.checkout({ return_url: returnUrl });
        await page.goto(first.url);
        await page.getByTestId('provider-wxpay').waitFor();
        await audit(page, 'choose');
        await page.context().setOffline(true);
        await page.locator('[data-testid="banner"][data-situation="offline"]').waitFor();
        await audit(page, 'offline');
        await page.context().setOffline(false);
        await page.getByTestId('banner').waitFor({ state: 'hidden' });
        for (const [status, code, situation] of [
          [503, 40010, 'unavailable'],
          [429, 40008, 'rateLimited'],
        ] as const) {
          await page.route('**/status', (route) =>
            route.fulfill({
              status,
              contentType: 'application/json',
              body: JSON.stringify({ code, msg: 'busy' }),
            }),
          );
          await page
            .locator(`[data-testid="banner"][data-situation="${situation}"]`)
            .waitFor({ timeout: 10_000 });
          await audit(page, `banner-${situation}`);
          await page.unroute('**/status');
          await page.getByTestId('banner').waitFor({ state: 'hidden', timeout: 10_000 });
        }

        // working, then what choosing WeChat Pay leads to on this device.
        const release = await holdPay(page);
        await page.getByTestId('provider-wxpay').click();
        await page.getByTestId('working').waitFor();
        await audit(page, 'working');
        await release();
        const outTradeNo = outTradeNoOf(first.token);
        if (profile === 'phone') {
          // WeChat H5: the gateway's page, then Back to the cashier.
          await page.waitForURL(`${harness.wxpay.emulator.url}/**`);
          await page.goBack();
          await page.getByTestId('pay-again').waitFor();
          await audit(page, 'away');
        } else if (profile === 'wechat') {
          // A checkout without the payer's openid: the QR code to long-press.
          await page.getByTestId('qr').waitFor();
          await audit(page, 'qr-wxpay');
        } else {
          await page.getByTestId('qr').waitFor();
          await audit(page, 'qr-wxpay');
        }
        await page.getByTestId('check-now').click();
        await page
          .getByTestId('message')
          .or(page.getByTestId('waiting').filter({ hasText: /如果|If you/ }))
          .waitFor();
        await audit(page, 'not-paid-yet');
        await wxpayTrade(outTradeNo, 'pay');
        await page.getByTestId('result-success').waitFor({ timeout: 15_000 });
        await audit(page, 'success');
        await page.reload();
        await page.getByTestId('result-success').waitFor();
        await audit(page, 'paid-already');

        if (profile === 'wechat') {
          // With the payer's openid: WeChat's sheet; paid, the page waits for the result.
          const jsapi = await harness.checkout({
            openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
            return_url: returnUrl,
          });
          await page.goto(jsapi.url);
          await page.getByTestId('provider-wxpay').click();
          await page.getByTestId('waiting').waitFor();
          await audit(page, 'waiting');
          // Back later, the buyer pays again and cancels WeChat's sheet this time.
          await page.reload();
          await page.getByTestId('pay-again').waitFor();
          await page.evaluate(() => {
            (globalThis as unknown as { __wxAnswer: string }).__wxAnswer = 'get_brand_wcpay_request:cancel';
          });
          await page.getByTestId('pay-again').click();
          await page.locator('[data-situation="cancelled"]').waitFor();
          await audit(page, 'away');

          const alipayOnly = await harness.checkout({ providers: ['alipay'] });
          await page.goto(alipayOnly.url);
          await page.getByTestId('no-offers').waitFor();
          await audit(page, 'no-offers');
        } else {
          // Alipay: the gateway's page (desktop and phone alike), then Back: the away view.
          const alipay = await harness.checkout({ return_url: returnUrl });
          await page.goto(alipay.url);
          await page.getByTestId('provider-alipay').click();
          await page.waitForURL(`${harness.alipay.emulator.url}/**`);
          await page.goBack();
          await page.getByTestId('pay-again').waitFor();
          if (profile === 'desktop') await audit(page, 'away');
          else await audit(page, 'away-alipay');
        }

        // The Alipay QR code.
        const alipayQrCheckout = await harness.checkout({ alipay_in_wechat: true, return_url: returnUrl });
        await alipayQr(page);
        await page.goto(alipayQrCheckout.url);
        await page.getByTestId('provider-alipay').click();
        await page.getByTestId('qr').waitFor();
        expect(await page.getByTestId('qr').getAttribute('alt')).toBe(
          lang === 'en' ? 'Alipay QR code for ¥0.01' : '支付宝二维码，金额 ¥0.01',
        );
        await audit(page, 'qr-alipay');
        await page.unroute('**/pay');

        // failed: the gateway ends the order while the buyer looks at the page.
        const failing = await harness.checkout({ return_url: returnUrl });
        await page.goto(failing.url);
        await page.getByTestId('provider-wxpay').waitFor();
        await choose(page, failing.url, 'wxpay');
        await wxpayTrade(outTradeNoOf(failing.token), 'fail');
        await page.getByTestId('result-failed').waitFor({ timeout: 15_000 });
        await audit(page, 'failed');

        // closed by the merchant while the buyer chooses.
        const cancelling = await harness.checkout({ return_url: returnUrl });
        await page.goto(cancelling.url);
        await page.getByTestId('provider-wxpay').waitFor();
        expect(
          (await harness.api('POST', `/api/checkouts/${outTradeNoOf(cancelling.token)}/cancel`, {})).json
            .code,
        ).toBe(0);
        await page.locator('[data-testid="result-closed"]').waitFor({ timeout: 10_000 });
        await audit(page, 'closed-by-merchant');

        // expired.
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt + 500 - Date.now())));
        await page.goto(expiring.url);
        await page.getByTestId('result-closed').waitFor();
        await audit(page, 'expired');

        await errorPages(page, lang, audit);

        // Last, as it changes the key of every link: the page learns its link is no longer valid.
        const restarting = await harness.checkout({ return_url: returnUrl });
        await page.goto(restarting.url);
        await page.getByTestId('provider-wxpay').waitFor();
        configureCheckout(harness.vkPay, {});
        await page.locator('[data-situation="invalidLink"]').waitFor({ timeout: 15_000 });
        await audit(page, 'invalid-in-page');

        writeFileSync(
          join(ARTIFACTS, `a11y-${profile}-${lang}.json`),
          JSON.stringify({ audited, found }, null, 2),
        );
        expect(audited.length).toBeGreaterThanOrEqual(18);
        expect(found).toEqual({});
      }, 180_000);
    }
  }
  /** The focused element: what it is, its words, and the ring the keyboard sees around it. */
  const focused = (page: Page) =>
    page.evaluate(`(() => {
      const node = document.activeElement;
      const style = getComputedStyle(node);
      return {
        tag: node.tagName.toLowerCase(),
        testid: node.getAttribute('data-testid'),
        text: node.textContent.trim(),
        focusVisible: node.matches(':focus-visible'),
        outlineStyle: style.outlineStyle,
        outlineWidth: parseFloat(style.outlineWidth),
        outlineColor: style.outlineColor,
      };
    })()`) as Promise<{
      tag: string;
      testid: string | null;
      text: string;
      focusVisible: boolean;
      outlineStyle: string;
      outlineWidth: number;
      outlineColor: string;
    }>;

  /** WCAG's contrast ratio of an `rgb(r, g, b)` colour against white. */
  function contrastOnWhite(rgb: string): number {
    const [r, g, b] = rgb
      .match(/\d+/g)!
      .slice(0, 3)
      .map((part) => {
        const channel = Number(part) / 255;
        return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
      }) as [number, number, number];
    const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    return 1.05 / (luminance + 0.05);
  }

  /** Tab until the element with `testid` has focus; every stop on the way shows a ring of 3:1. */
  async function tabTo(page: Page, testid: string) {
    for (let stop = 0; stop < 12; stop += 1) {
      await page.keyboard.press('Tab');
      const now = await focused(page);
      expect(now.focusVisible, `${now.tag} ${now.testid}`).toBe(true);
      expect(now.outlineStyle).not.toBe('none');
      expect(now.outlineWidth).toBeGreaterThanOrEqual(2);
      expect(contrastOnWhite(now.outlineColor)).toBeGreaterThanOrEqual(3);
      if (now.testid === testid) return now;
    }
    throw new Error(`Tab never reached ${testid}`);
  }

  const said = (page: Page, politeness: 'polite' | 'assertive') =>
    page.getByTestId(`announce-${politeness}`).textContent();

  it('keyboard only (zh): Tab and Enter choose, focus lands on each new heading, the page says what it shows, a failure at once', async () => {
    const checkout = await harness.checkout({ total_fee: 1, return_url: 'https://shop.example/k' });
    const page = await open('desktop', 'zh');
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').waitFor();

    const provider = await tabTo(page, 'provider-wxpay');
    expect(provider.tag).toBe('button');
    await page.keyboard.press('Enter');
    await page.getByTestId('qr').waitFor();
    expect(await page.getByTestId('qr').getAttribute('alt')).toBe('微信支付二维码，金额 ¥0.01');
    await expect.poll(async () => (await focused(page)).testid).toBe('chosen');
    expect((await focused(page)).tag).toBe('h2');
    await expect.poll(() => said(page, 'polite')).toBe('已选择 微信支付。请使用微信扫一扫完成支付');

    // Space presses "I have paid"; the answer is said, the QR code stays.
    const checkNow = await tabTo(page, 'check-now');
    expect(checkNow.tag).toBe('button');
    await page.keyboard.press(' ');
    await expect.poll(() => said(page, 'polite')).toContain('如果您已经付款');
    expect(await page.locator('#cashier').getAttribute('data-view')).toBe('qr');
    const back = await tabTo(page, 'back');
    expect(back.tag).toBe('a');

    await harness.wxpay.control(
      'POST',
      `/trades/${harness.wxpay.mchId}/${outTradeNoOf(checkout.token)}/fail`,
      {
        code: 'NOT_ENOUGH',
        final: true,
      },
    );
    await page.getByTestId('result-failed').waitFor({ timeout: 15_000 });
    await expect.poll(async () => (await focused(page)).testid).toBe('message-title');
    await expect.poll(() => said(page, 'assertive')).toContain('余额不足');
    expect(await said(page, 'polite')).toBe('');
    await page.screenshot({ path: join(ARTIFACTS, 'a11y-keyboard-failed-zh.png'), fullPage: true });
  });

  it('keyboard only (en, phone): the way through Alipay and back, then success is said and focused', async () => {
    const checkout = await harness.checkout({ total_fee: 1, return_url: 'https://shop.example/k' });
    const page = await open('phone', 'en');
    await page.goto(checkout.url);
    await page.getByTestId('provider-alipay').waitFor();
    await tabTo(page, 'provider-alipay');
    await page.keyboard.press(' ');
    await page.waitForURL(`${harness.alipay.emulator.url}/**`);
    await page.goBack();
    await page.getByTestId('pay-again').waitFor();
    const again = await tabTo(page, 'pay-again');
    expect(again.text).toBe('Pay again · Alipay');

    const outTradeNo = outTradeNoOf(checkout.token);
    await harness.alipay.control('POST', `/trades/${harness.alipay.appId}/${outTradeNo}/scan`);
    await harness.alipay.control('POST', `/trades/${harness.alipay.appId}/${outTradeNo}/pay`);
    await page.getByTestId('result-success').waitFor({ timeout: 15_000 });
    await expect.poll(async () => (await focused(page)).text).toBe('Payment successful');
    await expect.poll(() => said(page, 'polite')).toBe('Payment successful. Your order is paid. Thank you.');
    await tabTo(page, 'back');
  });

  it('the QR code of WeChat Pay is described in English too, never by the link inside it', async () => {
    const checkout = await harness.checkout({ total_fee: 1990 });
    const page = await open('desktop', 'en');
    await page.goto(checkout.url);
    await page.getByTestId('provider-wxpay').click();
    await page.getByTestId('qr').waitFor();
    expect(await page.getByTestId('qr').getAttribute('alt')).toBe('WeChat Pay QR code for ¥19.90');
  });
});
