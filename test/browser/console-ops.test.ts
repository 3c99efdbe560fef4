/**
 * The console's review queue, webhook deliveries and alert history in Chromium: an operator
 * resolves a case by keyboard and replays an exhausted delivery, under the console's CSP; axe-core
 * finds no WCAG 2.1 AA violation on any of the pages.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { recordAlert } from '../../src/service/alert-history.ts';
import { recordReview } from '../../src/service/reviews.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { addUser, PASSWORD } from '../console/client.ts';
import { backends } from '../support/backends.ts';
import { orderRequest } from '../support/orders.ts';
import { ARTIFACTS, DESKTOP, hasChromium, launchChromium, skipReason } from './chromium.ts';

if (!hasChromium) console.warn(skipReason);

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not in this project's lib.
declare const window: any, document: any;

async function violations(page: Page): Promise<string[]> {
  // Evaluated by the browser's debugger, outside the page's CSP, which refuses any injected script.
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map(
      (violation: { id: string; nodes: unknown[] }) => `${violation.id} (${violation.nodes.length})`,
    );
  });
}

describe.skipIf(!hasChromium)('the console’s reviews, deliveries and alerts in Chromium', () => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  let browser: Browser;
  let url: string;
  let reviewId: number;
  let deliveryId: number;

  beforeAll(async () => {
    vkPay = await backends[backends.length - 1]!.open();
    app = await buildApp({ vkPay, docs: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await addUser(vkPay, 'operator1', 'operator', ['shopA']);
    await vkPay.createWebhookEndpoint('shopA', { url: 'http://127.0.0.1:9/hook' });
    const request = orderRequest({ merchantId: 'shopA' });
    await vkPay.createOrder(request);
    reviewId = await recordReview(vkPay.context, {
      merchantId: 'shopA',
      kind: 'refund_abnormal',
      reference: 'RF-BROWSER-1',
      outTradeNo: String(request.out_trade_no),
      provider: 'wxpay',
      amountFen: 500,
      details: { gatewayCode: 'USER_ACCOUNT_ABNORMAL' },
    });
    // The review.opened event's delivery exhausted its retries against a broken endpoint.
    const delivery = await vkPay.store.db
      .updateTable('webhook_deliveries')
      .set({ status: 'FAILED', attempts: 1, last_status_code: 502, next_attempt_at: null })
      .where('merchant_id', '=', 'shopA')
      .returningAll()
      .executeTakeFirstOrThrow();
    deliveryId = Number(delivery.id);
    await vkPay.store.db
      .insertInto('webhook_attempts')
      .values({
        delivery_id: deliveryId,
        event_id: delivery.event_id,
        endpoint_id: delivery.endpoint_id,
        attempt: 1,
        ok: false,
        status_code: 502,
        latency_ms: 31,
        response_excerpt: 'Bad Gateway',
        error: null,
        started_at: new Date(),
        instance: 'browser-test',
      })
      .execute();
    const incident = new Date(Date.now() - 3_600_000);
    const alert = {
      alert: 'vkpay_error_rate',
      incident,
      errors: 12,
      events: 40,
      threshold: 0.1,
      windowMinutes: 5,
      byCode: [{ code: 40010, count: 12 }],
    };
    await recordAlert(vkPay.context, { ...alert, kind: 'firing', rate: 0.3, at: incident });
    await recordAlert(vkPay.context, { ...alert, kind: 'resolved', rate: 0.02, errors: 1, at: new Date() });
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await vkPay?.close();
  });

  it('resolves a review by keyboard and replays a delivery, every page passing axe', {
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
    const dialogs: string[] = [];
    page.on('dialog', async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.accept();
    });

    await page.goto(`${url}/console/login`);
    await page.fill('#name', 'operator1');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${url}/console`), page.press('#password', 'Enter')]);

    // The queue, from the navigation.
    await Promise.all([
      page.waitForURL(`${url}/console/reviews`),
      page.click('nav a[href="/console/reviews"]'),
    ]);
    expect(await page.textContent('h1')).toBe('Reviews');
    expect(await page.getAttribute('nav a[href="/console/reviews"]', 'aria-current')).toBe('page');
    expect(await page.locator('[data-testid="review-row"]').count()).toBe(1);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-reviews.png'), fullPage: true });

    // To the case and through its form by the keyboard alone.
    await page.focus(`a[href="/console/reviews/${reviewId}"]`);
    await Promise.all([page.waitForURL(`${url}/console/reviews/${reviewId}`), page.keyboard.press('Enter')]);
    expect(await page.textContent('h1')).toBe(`Review #${reviewId}`);
    expect(await page.textContent('[data-testid="review-order"]')).toContain('NOTPAY');
    expect(await violations(page)).toEqual([]);
    await page.focus('#note');
    await page.keyboard.type('x');
    await page.keyboard.press('Tab');
    await Promise.all([page.waitForLoadState('load'), page.keyboard.press('Enter')]);
    // A note too short: the browser's own check (minlength) keeps the form here, or the server
    // answers with the field marked; either way the case stays open.
    expect(await page.textContent('[data-testid="review-status"]')).toBe('Open');
    await page.fill('#note', 'refund paid by bank transfer, ticket 4471');
    await page.focus('#note');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Resolve');
    await Promise.all([page.waitForURL(/done=1/), page.keyboard.press('Enter')]);
    expect(await page.textContent('[data-testid="notice"]')).toBe(`Review #${reviewId} is resolved.`);
    expect(await page.textContent('[data-testid="review-status"]')).toBe('Resolved');
    expect(await page.textContent('[data-testid="review-note"]')).toBe(
      'refund paid by bank transfer, ticket 4471',
    );
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-review-resolved.png'), fullPage: true });

    // The exhausted delivery, replayed after the confirmation.
    await page.click('nav a[href="/console/deliveries"]');
    await page.waitForURL(`${url}/console/deliveries`);
    await page.selectOption('#f-status', 'failed');
    await Promise.all([page.waitForURL(/status=failed/), page.click('form.filters button[type="submit"]')]);
    expect(await page.locator('[data-testid="delivery-row"]').count()).toBe(1);
    expect(await page.textContent('[data-testid="delivery-row"]')).toContain('HTTP 502');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-deliveries.png'), fullPage: true });
    await Promise.all([
      page.waitForURL(`${url}/console/deliveries/${deliveryId}`),
      page.click(`a[href="/console/deliveries/${deliveryId}"]`),
    ]);
    expect(await page.textContent('[data-testid="delivery-status"]')).toBe('Failed');
    expect(await violations(page)).toEqual([]);
    await page.focus(`form[action="/console/deliveries/${deliveryId}/replay"] button`);
    await Promise.all([page.waitForURL(/done=1/), page.keyboard.press('Enter')]);
    expect(dialogs).toHaveLength(1);
    expect(dialogs[0]).toMatch(/^Replay event evt_/);
    expect(await page.textContent('[data-testid="notice"]')).toBe('The delivery is due again.');
    expect(await page.textContent('[data-testid="delivery-status"]')).toBe('Pending');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-delivery-replayed.png'), fullPage: true });

    // The alert history, in Chinese.
    await page.goto(`${url}/console/alerts?lang=zh`);
    expect(await page.textContent('h1')).toBe('告警历史');
    expect(await page.locator('[data-testid="alert-row"]').count()).toBe(2);
    expect(await page.getAttribute('[data-testid="alert-row"]', 'data-kind')).toBe('resolved');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-alerts-zh.png'), fullPage: true });

    const audit = await vkPay.store.db
      .selectFrom('console_audit')
      .select(['action', 'target'])
      .where('action', 'in', ['review.resolved', 'delivery.replayed'])
      .orderBy('id')
      .execute();
    expect(audit).toEqual([
      { action: 'review.resolved', target: `review:${reviewId}` },
      { action: 'delivery.replayed', target: `delivery:${deliveryId}` },
    ]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
