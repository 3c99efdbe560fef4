/**
 * The console's overview in Chromium, on a seeded year of orders rolled up by the job's code: the
 * page signs in, shows the totals, the four uPlot charts drawn on canvas and the tables; a change
 * of range redraws everything from the page's JSON without a reload; a scoped operator's page names
 * only their merchant; axe-core finds no WCAG 2.1 AA violation; screenshots under test-artifacts/.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConsoleData } from '../../bench/console-queries.ts';
import { buildApp } from '../../src/http/app.ts';
import { rollUpJournal } from '../../src/service/journal-rollup.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { addUser, PASSWORD } from '../console/client.ts';
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
      (violation: { id: string; nodes: unknown[] }) => `${violation.id} (${violation.nodes.length})`,
    );
  });
}

async function signIn(page: Page, url: string, name: string, target: string): Promise<void> {
  await page.goto(`${url}/console/login`);
  await page.fill('#name', name);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${url}/console`), page.press('#password', 'Enter')]);
  await page.goto(`${url}${target}`);
}

describe.skipIf(!hasChromium)('the console overview in Chromium', () => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    vkPay = await backends[backends.length - 1]!.open();
    await loadConsoleData(vkPay.store.db, 20_000);
    await rollUpJournal(vkPay.store.db, new Date(), {
      graceMs: 300_000,
      batchHours: 24 * 30,
      maxBatches: 100,
    });
    app = await buildApp({ vkPay, docs: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await addUser(vkPay, 'viewer1', 'viewer');
    await addUser(vkPay, 'scoped1', 'operator', ['m3']);
    browser = await launchChromium();
  }, 600_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await vkPay?.close();
  });

  it('shows the charts and tables, and changes the range without a reload', {
    timeout: 180_000,
  }, async () => {
    const context = await browser.newContext({ ...DESKTOP, locale: 'en-US' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await signIn(page, url, 'viewer1', '/console?range=30d');
    expect(await page.textContent('h1')).toBe('Overview');
    expect(await page.inputValue('#overview-range')).toBe('30d');
    // uPlot draws each chart on a canvas inside its labelled area.
    await page.waitForSelector('#chart-latency canvas');
    expect(await page.locator('[data-chart] canvas').count()).toBe(4);
    expect(await page.locator('[data-chart] .u-legend').count()).toBe(4);
    const thirtyDays = await page.locator('#overview-buckets tbody tr').count();
    expect(thirtyDays).toBeGreaterThanOrEqual(120);
    expect(await page.locator('#overview-latency tbody tr').count()).toBeGreaterThan(0);
    expect(Number((await page.textContent('[data-figure="created"]'))!.replace(/,/g, ''))).toBeGreaterThan(
      1000,
    );
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-overview-30d.png'), fullPage: true });

    // By keyboard: the range select, then the next option; the figures follow without a reload.
    await page.evaluate(() => {
      window.notReloaded = true;
    });
    const answer = page.waitForResponse((response) => response.url().includes('range=7d'));
    await page.focus('#overview-range');
    await page.selectOption('#overview-range', '7d');
    await answer;
    await page.waitForFunction(() => document.querySelectorAll('#overview-buckets tbody tr').length < 170);
    expect(await page.evaluate(() => window.notReloaded)).toBe(true);
    expect(new URL(page.url()).searchParams.get('range')).toBe('7d');
    const sevenDays = await page.locator('#overview-buckets tbody tr').count();
    expect(sevenDays).toBeGreaterThanOrEqual(168);
    expect(sevenDays).toBeLessThanOrEqual(169);
    expect(await page.locator('[data-chart] canvas').count()).toBe(4);
    expect(await page.textContent('#overview-status')).toMatch(/refreshed every 10 seconds/);
    expect(await page.textContent('#buckets-note')).toBe('One row per hour.');
    await page.screenshot({ path: join(ARTIFACTS, 'console-overview-7d.png'), fullPage: true });

    // The page itself without the script: the same figures in the tables (the form still works).
    const plain = await browser.newContext({ ...DESKTOP, locale: 'zh-CN', javaScriptEnabled: false });
    await plain.addCookies(await context.cookies());
    const noScript = await plain.newPage();
    await noScript.goto(`${url}/console?range=24h&merchant=m1`);
    expect(await noScript.textContent('h1')).toBe('概览');
    expect(await noScript.locator('#overview-buckets tbody tr').count()).toBeGreaterThanOrEqual(96);
    // No empty chart frames without the script that draws them.
    expect(await noScript.isVisible('#overview-charts')).toBe(false);
    await noScript.screenshot({ path: join(ARTIFACTS, 'console-overview-noscript-zh.png'), fullPage: true });
    await plain.close();
    expect(errors).toEqual([]);
    await context.close();
  });

  it('names only the scoped operator’s merchant', { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ ...DESKTOP, locale: 'en-US' });
    const page = await context.newPage();
    await signIn(page, url, 'scoped1', '/console?range=7d');
    await page.waitForSelector('#chart-payments canvas');
    const options = await page.locator('#overview-merchant option').allTextContents();
    expect(options).toEqual(['m3']);
    await context.close();
  });
});
