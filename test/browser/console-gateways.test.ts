/**
 * The console's Reconciliation, Merchants and gateways and Routes pages in Chromium, on the
 * emulators: an operator reaches them by the navigation, runs a day's reconciliation from the page
 * by keyboard, reads the accounts, and rolls a route back after the page's confirmation; axe-core
 * finds no WCAG 2.1 AA violation on any of them, under the console's own CSP.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { createWxpayProvider } from '../../src/providers/wxpay/index.ts';
import { TestCertificateAuthority } from '../../src/sandbox/wxpay/gateway-keys.ts';
import { bucketOf, type Route } from '../../src/service/routing.ts';
import { addUser, PASSWORD } from '../console/client.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { ARTIFACTS, DESKTOP, hasChromium, launchChromium, skipReason } from './chromium.ts';

if (!hasChromium) console.warn(skipReason);

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not in this project's lib.
declare const window: any, document: any;

async function violations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map(
      (violation: { id: string; nodes: Array<{ target: unknown }> }) =>
        `${violation.id} (${violation.nodes.length}) ${JSON.stringify(violation.nodes[0]?.target)}`,
    );
  });
}

const tradeNo = tradeNumbers('CBR');
const ROUTE: Route = {
  id: 'wx-canary',
  match: { provider: 'wxpay' },
  stable: 'default',
  canary: 'canary',
  share: 50,
};
function stableUser(): string {
  for (let i = 0; ; i++)
    if (bucketOf(ROUTE.id, `user:browser-${i}`) >= ROUTE.share * 100) return `browser-${i}`;
}
const pastDay = () => new Date(Date.now() + 8 * 3600_000 - 2 * 86_400_000).toISOString().slice(0, 10);

describe.skipIf(!hasChromium)('the console reconciliation, merchants and routes pages in Chromium', () => {
  let h: WxpayHarness;
  let browser: Browser;
  let url: string;
  const date = pastDay();

  beforeAll(async () => {
    h = await startWxpayHarness(backends[backends.length - 1]!, {
      wxpayAccounts: ['canary'],
      vkPay: { routes: { [MERCHANT]: [ROUTE] } },
    });
    h.vkPay.onPaid('goods', () => {});
    url = h.vkPay.context.publicUrl;
    await addUser(h.vkPay, 'olga', 'operator', [MERCHANT]);
    // A payment on a past day at the gateway, to be reconciled from the page.
    await h.control('POST', '/clock', { at: `${date}T12:00:00+08:00` });
    try {
      const no = tradeNo();
      await h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: no,
        total_fee: 2500,
        subject: 'browser',
        type: 'goods',
        // On the stable side: in the default account's bill (the canary account's day has none).
        user_id: stableUser(),
      });
      await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
      await eventually(
        async () => (await h.vkPay.getOrder(MERCHANT, no)).status,
        (status) => status === 'SUCCESS',
      );
    } finally {
      await h.control('POST', '/clock', { offsetMs: 0 });
    }
    // Unpaid orders on both sides of the route.
    for (let i = 0; i < 6; i++)
      await h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: tradeNo(),
        total_fee: 100,
        subject: 'browser',
        type: 'goods',
        user_id: `browser-${i}`,
      });
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('runs a reconciliation now from the page and rolls a route back, by keyboard', {
    timeout: 180_000,
  }, async () => {
    const context = await browser.newContext({ ...DESKTOP, locale: 'en-US' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('response', (response) => {
      const path = new URL(response.url()).pathname;
      if (response.status() >= 400 && path !== '/favicon.ico') errors.push(`${response.status()} ${path}`);
    });
    await page.goto(`${url}/console/login`);
    await page.fill('#name', 'olga');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${url}/console`), page.press('#password', 'Enter')]);

    // Reconciliation: reached from the navigation, nothing reconciled yet.
    await Promise.all([
      page.waitForURL(/\/console\/reconciliation$/),
      page.click('nav a[href="/console/reconciliation"]'),
    ]);
    expect(await page.textContent('h1')).toBe('Reconciliation');
    expect(await page.getAttribute('nav a[href="/console/reconciliation"]', 'aria-current')).toBe('page');
    expect(await page.locator('[data-testid="day-row"]').count()).toBe(0);
    expect(await violations(page)).toEqual([]);
    // The run form by keyboard: each field has its label; Enter on the button submits.
    expect(await page.textContent('label[for="run-date"]')).toBe('Bill date (China time)');
    await page.focus('#run-merchant');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('run-provider');
    await page.selectOption('#run-provider', 'wxpay');
    await page.fill('#run-date', date);
    await page.focus('form.run button[type="submit"]');
    await Promise.all([page.waitForURL(/ran=/), page.keyboard.press('Enter')]);
    expect(await page.textContent('[data-testid="ran"]')).toBe(
      `The wxpay bill of ${date} is reconciled: 1 matched, 0 healed, 0 mismatches.`,
    );
    // Every account of the merchant was reconciled: a row each, the payment in default's bill.
    expect(await page.locator('[data-testid="day-row"]').count()).toBe(2);
    expect(await page.locator('[data-testid="day-row"][data-account="default"]').textContent()).toContain(
      '¥25.00',
    );
    expect(await page.locator('[data-testid="day-row"][data-account="canary"] td').nth(2).textContent()).toBe(
      'canary',
    );
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-reconciliation.png'), fullPage: true });

    // Merchants and gateways: the accounts as in force.
    await page.click('nav a[href="/console/merchants"]');
    expect(await page.textContent('h1')).toBe('Merchants and gateways');
    expect(await page.locator('[data-testid="account"]').count()).toBe(3);
    expect(await page.locator('[data-testid="key-mode"]').first().textContent()).toBe(
      'WeChat Pay public key',
    );
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-merchants.png'), fullPage: true });

    // Routes: the share in force, then a rollback after the page's confirmation.
    await page.click('nav a[href="/console/routes"]');
    expect(await page.textContent('h1')).toBe('Routes');
    expect(await page.textContent('[data-testid="share"]')).toBe('50');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-routes.png'), fullPage: true });
    const questions: string[] = [];
    page.on('dialog', async (dialog) => {
      questions.push(dialog.message());
      await dialog.accept();
    });
    await page.focus('[data-testid="rollback"]');
    await Promise.all([page.waitForSelector('[data-testid="notice"]'), page.keyboard.press('Enter')]);
    expect(questions).toEqual([
      'Roll back wx-canary? Every new payment goes to the stable account and unpaid canary orders are closed.',
    ]);
    expect(await page.textContent('[data-testid="notice"]')).toMatch(
      /^wx-canary is rolled back: \d+ closed, 0 found paid, 0 sent to review\.$/,
    );
    expect(await page.textContent('[data-testid="share"]')).toBe('0');
    expect((await h.vkPay.listRoutes(MERCHANT))[0]).toMatchObject({ effectiveShare: 0 });
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-routes-rolled-back.png'), fullPage: true });

    // The same pages in Chinese.
    await page.goto(`${url}/console/reconciliation?lang=zh`);
    expect(await page.textContent('h1')).toBe('对账');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-reconciliation-zh.png'), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  });

  it('marks certificates near their end with a warning and expired ones as errors', {
    timeout: 120_000,
  }, async () => {
    const now = new Date();
    const random = (size: number) => randomBytes(size);
    const ca = await TestCertificateAuthority.create(random, now);
    const pems = [
      (await ca.issuePlatformCertificate(random, now, 365)).certificatePem,
      (await ca.issuePlatformCertificate(random, now, 12)).certificatePem,
      (await ca.issuePlatformCertificate(random, new Date(now.getTime() - 400 * 86_400_000), 100))
        .certificatePem,
    ];
    const vkPay = await backends[backends.length - 1]!.open({
      providers: [
        createWxpayProvider({
          merchants: [
            {
              merchantId: 'shop9',
              mchId: '1900000109',
              appId: 'wx1111111111111111',
              serialNo: 'AB'.repeat(20),
              privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
              apiV3Key: randomBytes(16).toString('hex'),
              platformCertificates: { pems, download: false },
            },
          ],
        }),
      ],
    });
    const app = await buildApp({ vkPay, docs: false });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      await addUser(vkPay, 'vic', 'viewer', ['shop9']);
      const context = await browser.newContext({ ...DESKTOP, locale: 'zh-CN' });
      const page = await context.newPage();
      await page.goto(`${base}/console/login`);
      await page.fill('#name', 'vic');
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL(`${base}/console`), page.press('#password', 'Enter')]);
      await page.goto(`${base}/console/merchants`);
      expect(await page.textContent('h1')).toBe('商户与支付通道');
      const warnings = page.locator('[data-testid="cert-warning"]');
      expect(await warnings.count()).toBe(2);
      expect(await page.getAttribute('[data-testid="warnings"]', 'class')).toBe('attention bad');
      // The page keeps the focus where a reader starts, not on the warnings.
      expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('BODY');
      expect(
        await page
          .locator('[data-testid="certificate"]')
          .evaluateAll((rows) =>
            rows.map((row) => (row as unknown as { dataset: { state: string } }).dataset.state),
          ),
      ).toEqual(['unknown', 'valid', 'expiring', 'expired']);
      expect(await violations(page)).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, 'console-merchants-certificates.png'), fullPage: true });
      await context.close();
    } finally {
      await app.close();
      await vkPay.close();
    }
  });
});
