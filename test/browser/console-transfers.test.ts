/**
 * The console's transfers in Chromium, against the WeChat Pay emulator: a second operator opens
 * the waiting-for-approval view, approves one transfer (it is sent, and its page shows the
 * gateway's answer) and rejects another; the operator who asked for a transfer is shown why they
 * cannot decide it, and a forged form of theirs is refused on the page, not with a 5xx. Every page
 * passes axe-core's WCAG 2.1 AA checks.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addUser, PASSWORD } from '../console/client.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
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

const transferNo = tradeNumbers('TC');

describe.skipIf(!hasChromium)('the console’s transfers in Chromium', () => {
  let h: WxpayHarness;
  let browser: Browser;
  let url: string;
  const contexts: BrowserContext[] = [];

  const pending = async (amountFen: number) => {
    const openid = `o${randomBytes(12).toString('hex')}`;
    const payee = await h.control('POST', '/transfers/payees', { openid, status: 'NORMAL', confirm: 'none' });
    expect(payee.status).toBe(200);
    const no = transferNo();
    const { transfer } = await h.vkPay.transfer({
      merchantId: MERCHANT,
      provider: 'wxpay',
      outTransferNo: no,
      amountFen,
      payee: { identityType: 'OPENID', identity: openid },
      remark: '注册奖励',
      requestedBy: 'alice',
      sceneReportInfos: [
        { infoType: '活动名称', infoContent: '新会员有礼' },
        { infoType: '奖励说明', infoContent: '注册奖励' },
      ],
    });
    expect(transfer.status).toBe('PENDING_APPROVAL');
    return { no, openid };
  };

  /** A browser page signed in as `name`, collecting script errors and 5xx answers. */
  const signedIn = async (name: string) => {
    const context = await browser.newContext({ ...DESKTOP, locale: 'en-US' });
    contexts.push(context);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('response', (response) => {
      if (response.status() >= 500) problems.push(`${response.status()} ${response.url()}`);
    });
    page.on('dialog', (dialog) => dialog.accept());
    await page.goto(`${url}/console/login?lang=en`);
    await page.fill('#name', name);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(/\/console(\?lang=en)?$/), page.press('#password', 'Enter')]);
    return { page, problems };
  };

  beforeAll(async () => {
    h = await startWxpayHarness(backends[backends.length - 1]!, {
      vkPay: {
        sealing: { keys: { k1: randomBytes(32) }, activeKeyId: 'k1', fields: ['user_info'] },
        transfers: { perTransferMaxFen: 100_000, dailyMaxFen: 1_000_000, approvalThresholdFen: 50_000 },
      },
    });
    url = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`;
    await addUser(h.vkPay, 'alice', 'operator', [MERCHANT]);
    await addUser(h.vkPay, 'bob', 'operator', [MERCHANT]);
    browser = await launchChromium();
  }, 300_000);
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('a second operator approves one and rejects another from the waiting view', {
    timeout: 180_000,
  }, async () => {
    const first = await pending(80_000);
    const second = await pending(65_432);
    const { page, problems } = await signedIn('bob');

    await Promise.all([
      page.waitForURL(/\/console\/transfers/),
      page.click('nav a[href^="/console/transfers"]'),
    ]);
    await Promise.all([
      page.waitForURL(/status=PENDING_APPROVAL/),
      page.click('[data-testid="view-waiting"]'),
    ]);
    expect(await page.textContent('h1')).toBe('Transfers waiting for approval');
    expect(await page.locator('[data-testid="transfer-row"]').count()).toBe(2);
    const listed = await page.textContent('table');
    expect(listed).toContain('800.00');
    expect(listed).toContain('654.32');
    expect(listed).not.toContain(first.openid);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-transfers-waiting.png'), fullPage: true });

    // Approve the first, with a note: it is sent to the gateway at once.
    await Promise.all([
      page.waitForURL(new RegExp(`/console/transfers/${MERCHANT}/${first.no}`)),
      page.click(`a[aria-label="View transfer ${first.no}"]`),
    ]);
    expect(await page.textContent('[data-testid="transfer-status"]')).toBe('PENDING_APPROVAL');
    expect(await violations(page)).toEqual([]);
    await page.fill('#decision-note', 'ticket 5120 checked');
    await page.screenshot({ path: join(ARTIFACTS, 'console-transfer-pending.png'), fullPage: true });
    await Promise.all([page.waitForURL(/done=approved/), page.click('[data-testid="approve"]')]);
    expect(await page.textContent('[data-testid="notice"]')).toContain(`Transfer ${first.no} is approved`);
    expect(await page.locator('[data-testid="approve"]').count()).toBe(0);
    expect(await page.textContent('[data-testid="decision"]')).toContain('Approved by bob');
    await eventually(
      () => h.vkPay.queryTransfer(MERCHANT, first.no).then((answer) => answer.transfer.status),
      (status) => status === 'SUCCESS',
    );
    await page.reload();
    // Reloading the page after the redirect sends nothing again.
    expect(await page.textContent('[data-testid="transfer-status"]')).toBe('SUCCESS');
    const timeline = await page.textContent('[data-testid="timeline"]');
    expect(timeline).toContain('Created');
    expect(timeline).toContain('Approved');
    expect(timeline).toContain('ticket 5120 checked');
    expect(timeline).toContain('transfer.succeeded');
    expect(await page.textContent('[data-testid="transfer-facts"]')).not.toContain(first.openid);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-transfer-approved.png'), fullPage: true });

    // Reject the second, from the waiting view, which now holds it alone.
    await page.goto(`${url}/console/transfers?status=PENDING_APPROVAL&lang=zh`);
    expect(await page.textContent('h1')).toBe('待审批的转账');
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-transfers-waiting-zh.png'), fullPage: true });
    await page.goto(`${url}/console/transfers?status=PENDING_APPROVAL&lang=en`);
    expect(await page.locator('[data-testid="transfer-row"]').count()).toBe(1);
    await Promise.all([
      page.waitForURL(new RegExp(`/console/transfers/${MERCHANT}/${second.no}`)),
      page.click(`a[aria-label="View transfer ${second.no}"]`),
    ]);
    await Promise.all([page.waitForURL(/done=rejected/), page.click('[data-testid="reject"]')]);
    expect(await page.textContent('[data-testid="transfer-status"]')).toBe('REJECTED');
    expect(await page.textContent('[data-testid="decision"]')).toContain('Rejected by bob');
    await page.screenshot({ path: join(ARTIFACTS, 'console-transfer-rejected.png'), fullPage: true });

    const audit = await h.vkPay.store.db
      .selectFrom('console_audit')
      .select(['action', 'actor_name', 'target'])
      .where('action', 'in', ['transfer.approved', 'transfer.rejected'])
      .orderBy('id')
      .execute();
    expect(audit).toEqual([
      { action: 'transfer.approved', actor_name: 'bob', target: `${MERCHANT}/${first.no}` },
      { action: 'transfer.rejected', actor_name: 'bob', target: `${MERCHANT}/${second.no}` },
    ]);
    expect(problems).toEqual([]);
  });

  it('the requester sees why not, and a form forged anyway is refused on the page', {
    timeout: 120_000,
  }, async () => {
    const own = await pending(70_000);
    const { page, problems } = await signedIn('alice');
    await page.goto(`${url}/console/transfers/${MERCHANT}/${own.no}?lang=en`);
    expect(await page.locator('[data-testid="approve"]').count()).toBe(0);
    expect(await page.textContent('[data-testid="own-transfer"]')).toContain(
      'You (alice) asked for this transfer',
    );
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'console-transfer-own.png'), fullPage: true });

    // The form the page does not show, posted anyway with the page's CSRF token.
    await Promise.all([
      page.waitForLoadState('load'),
      page.evaluate((action: string) => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = action;
        const token = document.createElement('input');
        token.type = 'hidden';
        token.name = '_csrf';
        token.value = document.querySelector('input[name="_csrf"]').value;
        form.appendChild(token);
        document.body.appendChild(form);
        form.submit();
      }, `/console/transfers/${MERCHANT}/${own.no}/approve?lang=en`),
    ]);
    await page.waitForSelector('[data-testid="error"]');
    expect(await page.textContent('[data-testid="error"]')).toContain(
      'You (alice) asked for this transfer: another operator must approve or reject it.',
    );
    expect(await page.textContent('[data-testid="transfer-status"]')).toBe('PENDING_APPROVAL');
    await page.screenshot({ path: join(ARTIFACTS, 'console-transfer-own-refused.png'), fullPage: true });
    expect((await h.vkPay.queryTransfer(MERCHANT, own.no)).transfer.status).toBe('PENDING_APPROVAL');
    expect(problems).toEqual([]);
  });
});
