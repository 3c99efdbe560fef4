/**
 * The console's order pages in Chromium, against the WeChat Pay emulator with seeded orders: an
 * operator searches by keyboard, opens an order, refunds part of it through the confirmation
 * step, closes an unpaid one, asks the gateway about one whose callback was lost, and downloads
 * the search as CSV, and reads a split order's profit sharing. axe-core finds no WCAG 2.1 AA
 * violation on any of the pages, in English and Chinese.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, PASSWORD } from '../console/client.ts';
import {
  eventually,
  MERCHANT,
  paidOrder,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { ARTIFACTS, DESKTOP, hasChromium, launchChromium, skipReason } from './chromium.ts';

if (!hasChromium) console.warn(skipReason);

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const tradeNo = tradeNumbers('BO');

// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not in this project's lib.
declare const window: any, document: any, getComputedStyle: any;

/** WCAG 2.1 A and AA violations on the page, run from outside the page's CSP. */
async function violations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map(
      (violation: { id: string; nodes: Array<{ target: string[] }> }) =>
        `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
    );
  });
}

describe.skipIf(!hasChromium)('the console order pages in Chromium', () => {
  let h: WxpayHarness;
  let browser: Browser;
  let url: string;
  const paid: string[] = [];
  let unpaid: string;
  let lost: string;

  beforeAll(async () => {
    // Sealing keys: a profit-sharing receiver's name is stored sealed only.
    h = await startWxpayHarness(backends[backends.length - 1]!, {
      vkPay: { sealing: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1', fields: ['user_info'] } },
    });
    url = h.vkPay.context.publicUrl;
    for (const fen of [1990, 2990, 12_800])
      paid.push(await paidOrder(h, tradeNo(), fen, { subject: '会员月卡' }));
    unpaid = tradeNo();
    lost = tradeNo();
    for (const no of [unpaid, lost])
      await h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: no,
        total_fee: 990,
        subject: '咖啡豆 500g',
        type: 'goods',
        user_id: 'buyer-7',
      });
    // Paid at the gateway, its callback lost: only a query finds out.
    await h.control('POST', '/faults', { channel: 'notify', kind: 'drop', times: 'always' });
    await h.control('POST', `/trades/${h.mchId}/${lost}/pay`);
    await h.control('DELETE', '/faults');
    await addUser(h.vkPay, 'oper', 'operator', [MERCHANT]);
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  async function signIn(page: Page, lang: 'en' | 'zh') {
    await page.goto(`${url}/console/login?lang=${lang}`);
    await page.focus('#name');
    await page.keyboard.type('oper');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await Promise.all([page.waitForURL(/\/console(\?lang=..)?$/), page.keyboard.press('Enter')]);
  }

  /** Submits the focused form by keyboard and waits for the page it leads to. */
  async function enter(page: Page, selector: string) {
    await page.focus(selector);
    await Promise.all([
      page.waitForLoadState('load'),
      page.waitForNavigation(),
      page.keyboard.press('Enter'),
    ]);
  }

  it('searches, refunds in part with confirmation, closes, queries now and exports CSV', {
    timeout: 180_000,
  }, async () => {
    const context = await browser.newContext({ ...DESKTOP, locale: 'en-US', acceptDownloads: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('response', (response) => {
      const path = new URL(response.url()).pathname;
      if (response.status() >= 400 && path !== '/favicon.ico') errors.push(`${response.status()} ${path}`);
    });
    await signIn(page, 'en');

    // The search page from the navigation, every order of the merchant, newest first.
    await Promise.all([
      page.waitForURL(/\/console\/orders/),
      page.click('nav a[href="/console/orders?lang=en"]'),
    ]);
    expect(await page.textContent('h1')).toBe('Orders');
    expect(await page.locator('[data-testid="order-row"]').count()).toBe(5);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-orders-search.png'), fullPage: true });

    // By keyboard: an amount range in yuan and a status, Enter submits.
    await page.focus('#o-min');
    await page.keyboard.type('20');
    await page.keyboard.press('Tab');
    await page.keyboard.type('200');
    await page.selectOption('#o-status', 'SUCCESS');
    await enter(page, '#o-max');
    const amounts = await page.locator('[data-testid="order-row"] td.num:nth-of-type(4)').allTextContents();
    expect(amounts.sort()).toEqual(['128.00', '29.90']);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-orders-filtered.png'), fullPage: true });

    // The CSV of this search: the same two orders.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-testid="export-csv"]'),
    ]);
    expect(download.suggestedFilename()).toMatch(/^vkpay-orders-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = readFileSync((await download.path())!, 'utf8').replace(/^\uFEFF/, '');
    const lines = csv.trim().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(
      lines
        .slice(1)
        .map((line) => line.split(',')[7])
        .sort(),
    ).toEqual(['12800', '2990']);

    // Open an order by its number, then refund 10.00 of its 29.90 through the confirmation step.
    await page.fill('#o-min', '');
    await page.fill('#o-max', '');
    await page.selectOption('#o-status', '');
    await page.fill('#o-out-trade-no', paid[1]!);
    await enter(page, '#o-out-trade-no');
    expect(await page.locator('[data-testid="order-row"]').count()).toBe(1);
    await Promise.all([page.waitForNavigation(), page.click(`a:text("${paid[1]}")`)]);
    expect(await page.textContent('h1')).toBe(`Order ${paid[1]}`);
    expect(await page.textContent('[data-testid="order-refundable"]')).toBe('¥29.90');
    expect(await page.locator('[data-testid="timeline-entry"]').count()).toBeGreaterThanOrEqual(4);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-order.png'), fullPage: true });

    await page.focus('#refund-amount');
    await page.keyboard.type('10');
    await page.keyboard.press('Tab');
    await page.keyboard.type('partial refund');
    await enter(page, '#refund-reason');
    expect(await page.textContent('h1')).toBe('Confirm the refund');
    expect(await page.textContent('[data-testid="confirm-text"]')).toContain(
      '¥19.90 will still be refundable',
    );
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-order-refund-confirm.png'), fullPage: true });
    expect(await h.vkPay.listRefunds(MERCHANT, paid[1]!)).toEqual([]);
    await page.focus('[data-testid="refund-confirm"]');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    expect(outline).not.toBe('none');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    expect(await page.textContent('[data-testid="notice"]')).toMatch(/Refund C\w+ sent: ¥10\.00/);
    const [refund] = await h.vkPay.listRefunds(MERCHANT, paid[1]!);
    expect(refund).toMatchObject({ refundFen: 1000, reason: 'partial refund' });
    const atGateway = await h.control('GET', `/refunds/${h.mchId}/${refund!.outRefundNo}`);
    expect(atGateway.json).toMatchObject({ amount: { refund: 1000 } });
    await h.control('POST', `/refunds/${h.mchId}/${refund!.outRefundNo}/succeed`);
    await eventually(
      () => h.vkPay.getOrder(MERCHANT, paid[1]!),
      (order) => order.refundedFen === 1000,
    );
    await page.reload();
    expect(await page.textContent('[data-testid="order-status"]')).toBe('PARTIAL_REFUNDED');
    expect(await page.textContent('[data-testid="order-refundable"]')).toBe('¥19.90');
    expect(await page.locator('[data-testid="refund-row"]').count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'console-order-refunded.png'), fullPage: true });

    // Close the unpaid order: the script asks first.
    page.once('dialog', (dialog) => dialog.accept());
    await page.goto(`${url}/console/orders/${MERCHANT}/${unpaid}?lang=en`);
    await Promise.all([page.waitForNavigation(), page.click('[data-testid="close"]')]);
    expect(await page.textContent('[data-testid="notice"]')).toBe('The order is closed.');
    expect(await page.textContent('[data-testid="order-status"]')).toBe('CLOSED');
    expect((await h.control('GET', `/trades/${h.mchId}/${unpaid}`)).json.transaction.trade_state).toBe(
      'CLOSED',
    );

    // Query now: the payment whose callback was lost.
    await page.goto(`${url}/console/orders/${MERCHANT}/${lost}?lang=en`);
    expect(await page.textContent('[data-testid="order-status"]')).toBe('NOTPAY');
    await enter(page, '[data-testid="query"]');
    expect(await page.textContent('[data-testid="notice"]')).toContain(
      'The gateway was asked: status SUCCESS',
    );
    expect(await page.textContent('[data-testid="order-status"]')).toBe('SUCCESS');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-order-queried.png'), fullPage: true });

    const actions = await h.vkPay.store.db
      .selectFrom('console_audit')
      .select('action')
      .where('actor_name', '=', 'oper')
      .orderBy('id')
      .execute();
    expect(actions.map((row) => row.action)).toEqual([
      'login',
      'orders.exported',
      'refund.created',
      'order.closed',
      'order.queried',
    ]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('shows the search and an order in Chinese without a violation, a refused refund on the page', {
    timeout: 120_000,
  }, async () => {
    const context = await browser.newContext({ ...DESKTOP, locale: 'zh-CN' });
    const page = await context.newPage();
    await signIn(page, 'zh');
    await page.goto(`${url}/console/orders`);
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    expect(await page.textContent('h1')).toBe('订单');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-orders-search-zh.png'), fullPage: true });

    await page.goto(`${url}/console/orders/${MERCHANT}/${paid[0]}`);
    await page.fill('#refund-amount', '99');
    await enter(page, '#refund-amount');
    const error = await page.textContent('[data-testid="error"]');
    expect(error).toContain('参数错误，请检查输入');
    expect(error).toContain('退款金额 ¥99.00 超过可退金额 ¥19.90');
    // The script moved the focus to the field in error.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('refund-amount');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-order-zh-refused.png'), fullPage: true });
    expect(await h.vkPay.listRefunds(MERCHANT, paid[0]!)).toEqual([]);
    await context.close();
  });
  it('shows a split order’s profit sharing: the splittable amount, the split’s lines, in both languages', {
    timeout: 120_000,
  }, async () => {
    const STORE = '1900007501';
    expect(
      (
        await h.control('POST', `/profitsharing/merchants/${h.mchId}`, {
          notifyUrl: `${url}/notify-profit-sharing/wxpay/${MERCHANT}`,
          maxRatio: 1,
        })
      ).status,
    ).toBe(200);
    await h.vkPay.addSplitReceiver({
      merchantId: MERCHANT,
      provider: 'wxpay',
      receiver: { type: 'MERCHANT_ID', account: STORE, name: '示例门店有限公司', relationType: 'STORE' },
    });
    const no = tradeNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 5000,
      subject: '分账订单',
      type: 'goods',
      profitSharing: true,
    });
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    await eventually(
      () => h.vkPay.getOrder(MERCHANT, no),
      (order) => order.status === 'SUCCESS',
    );
    const outSplitNo = `SP${no}`;
    await h.vkPay.splitOrder({
      merchantId: MERCHANT,
      outTradeNo: no,
      outSplitNo,
      lines: [{ type: 'MERCHANT_ID', account: STORE, amountFen: 1250, description: '门店分成' }],
    });
    await eventually(
      () => h.vkPay.querySplit(MERCHANT, outSplitNo),
      (found) => found.split.status === 'FINISHED',
    );

    for (const lang of ['en', 'zh'] as const) {
      const context = await browser.newContext({ ...DESKTOP, locale: lang === 'en' ? 'en-US' : 'zh-CN' });
      const page = await context.newPage();
      await signIn(page, lang);
      await page.goto(`${url}/console/orders/${MERCHANT}/${no}?lang=${lang}`);
      const section = page.locator('[data-testid="profit-sharing"]');
      expect(await section.locator('h2').textContent()).toBe(lang === 'en' ? 'Profit sharing' : '分账');
      expect(await page.textContent('[data-testid="splittable"]')).toContain('¥37.50');
      const line = section.locator('[data-testid="split-line"]');
      expect(await line.count()).toBe(1);
      expect(await line.textContent()).toContain(STORE);
      expect(await line.textContent()).toContain('12.50');
      expect(await line.textContent()).toContain('SUCCESS');
      expect(await page.locator('[data-kind="split"]').count()).toBe(1);
      expect(await page.content()).not.toContain('示例门店有限公司');
      expect(await violations(page)).toEqual([]);
      await section.screenshot({ path: join(ARTIFACTS, `console-order-profit-sharing-${lang}.png`) });
      if (lang === 'en')
        await page.screenshot({
          path: join(ARTIFACTS, 'console-order-profit-sharing-page.png'),
          fullPage: true,
        });
      await context.close();
    }
  });
});
