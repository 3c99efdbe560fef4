/**
 * The operator console in Chromium: the sign-in page by keyboard, a wrong password refused on the
 * page itself, then the overview shell with the operator and role; axe-core finds no WCAG 2.1 AA
 * violation on either page, under the console's own CSP (script-src 'self').
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { addUser, PASSWORD } from '../console/client.ts';
import { backends } from '../support/backends.ts';
import { ARTIFACTS, DESKTOP, hasChromium, launchChromium, skipReason } from './chromium.ts';

if (!hasChromium) console.warn(skipReason);

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The page's globals, as the scripts evaluated in it see them. */
// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not in this project's lib.
declare const window: any, document: any, getComputedStyle: any;

/** WCAG 2.1 A and AA violations on the page, run from outside the page's CSP. */
async function violations(page: Page): Promise<string[]> {
  // Evaluated by the browser's debugger, outside the page's CSP, which refuses any injected script.
  await page.evaluate(AXE_SOURCE);
  const found = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            context: unknown,
            options: unknown,
          ): Promise<{ violations: Array<{ id: string; nodes: unknown[] }> }>;
        };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((violation) => `${violation.id} (${violation.nodes.length})`);
  });
  return found;
}

describe.skipIf(!hasChromium)('the console in Chromium', () => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    vkPay = await backends[backends.length - 1]!.open();
    app = await buildApp({ vkPay, docs: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await addUser(vkPay, 'operator1', 'operator', ['shopA']);
    await addUser(vkPay, 'admin1', 'admin');
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await vkPay?.close();
  });

  it('signs in by keyboard, is refused a wrong password, and shows the overview shell', {
    timeout: 120_000,
  }, async () => {
    const context = await browser.newContext({ ...DESKTOP, locale: 'zh-CN' });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    // Every asset loads; the only refusals are the wrong password's page (401) and the mistyped new
    // password's (400). Chromium asks for a favicon of its own accord.
    const refusals = new Set(['/favicon.ico', '/console/login', '/console/password']);
    page.on('response', (response) => {
      const path = new URL(response.url()).pathname;
      if (response.status() >= 400 && !refusals.has(path)) errors.push(`${response.status()} ${path}`);
    });

    await page.goto(`${url}/console?lang=en`);
    expect(new URL(page.url()).pathname).toBe('/console/login');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.title()).toContain('Sign in');
    expect(await page.textContent('h1')).toBe('Sign in');
    expect(await violations(page)).toEqual([]);

    // The keyboard alone: the skip link first, then the fields in order, Enter submits.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('skip');
    await page.focus('#name');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await page.keyboard.type('operator1');
    await page.keyboard.press('Tab');
    await page.keyboard.type('a wrong password');
    await page.screenshot({ path: join(ARTIFACTS, 'console-login.png') });
    await Promise.all([page.waitForLoadState('load'), page.keyboard.press('Enter')]);
    await page.waitForSelector('[data-testid="error"]');
    expect(await page.textContent('[data-testid="error"]')).toBe('Wrong user name or password.');
    // The script moved the focus to the field in error, so it is announced first.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('name');
    await page.screenshot({ path: join(ARTIFACTS, 'console-login-wrong-password.png') });

    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${url}/console?lang=en`), page.press('#password', 'Enter')]);
    expect(await page.textContent('h1')).toBe('Overview');
    expect(await page.textContent('[data-testid="who"]')).toContain('operator1');
    expect(await page.textContent('[data-testid="overview-role"]')).toBe('Operator');
    expect(await page.textContent('[data-testid="overview-user"]')).toContain('shopA');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-overview.png'), fullPage: true });

    // The same shell in Chinese, by the browser's language.
    await page.goto(`${url}/console`);
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    expect(await page.textContent('h1')).toBe('概览');
    await page.screenshot({ path: join(ARTIFACTS, 'console-overview-zh.png'), fullPage: true });

    // Changing one's own password by keyboard: a mistyped repeat is shown at its field, then done.
    await Promise.all([page.waitForURL(/\/console\/password/), page.click('a.account-link')]);
    expect(await page.textContent('h1')).toBe('修改密码');
    await page.fill('#current-password', PASSWORD);
    await page.fill('#new-password', 'another long passphrase');
    await page.fill('#repeat-password', 'another long passphrase!');
    await page.press('#repeat-password', 'Enter');
    await page.locator('[data-testid="error"]').waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('repeat-password');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-password-zh.png'), fullPage: true });
    await page.fill('#current-password', PASSWORD);
    await page.fill('#new-password', 'another long passphrase');
    await page.fill('#repeat-password', 'another long passphrase');
    await page.press('#repeat-password', 'Enter');
    await page.locator('[data-testid="notice"]').waitFor();
    expect(await page.textContent('[data-testid="who"]')).toContain('operator1');

    // Sign out is a form with its CSRF token: back to the sign-in page.
    await Promise.all([page.waitForURL(/\/console\/login/), page.click('form.logout button')]);
    expect(await page.textContent('h1')).toBe('登录');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('lets an admin create a user by the form and read the audit log', { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ ...DESKTOP, locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(`${url}/console/login`);
    await page.fill('#name', 'admin1');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${url}/console`), page.press('#password', 'Enter')]);
    await page.click('nav a[href="/console/users"]');
    await page.fill('#new-name', 'viewer2');
    await page.selectOption('#new-role', 'viewer');
    await page.fill('#new-merchants', 'shopA shopB');
    await Promise.all([page.waitForLoadState('load'), page.click('form.card button[type="submit"]')]);
    expect(await page.textContent('[data-testid="created"]')).toContain('viewer2');
    expect(await page.textContent('[data-testid="created-password"]')).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(await page.locator('[data-testid="user-row"]').count()).toBe(3);
    // Two rows with actions: an admin's own account is not changed here.
    expect(await page.locator('button.danger').count()).toBe(2);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-users.png'), fullPage: true });

    await page.click('nav a[href="/console/audit"]');
    expect(await page.textContent('h1')).toBe('Audit log');
    expect(await page.locator('[data-testid="audit-row"]').count()).toBeGreaterThanOrEqual(3);
    expect(await page.textContent('main')).toContain('user.created');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-audit.png'), fullPage: true });
    await context.close();
  });
});
