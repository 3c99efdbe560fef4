/**
 * The HTML the buyer sees: the cashier of page/wap pay, the payer page behind QR codes and app
 * order strings, and result and error pages. Plain server-rendered forms, so a person or a test
 * with a form POST can pay, fail for lack of balance, or give up.
 */
import { fenToYuan } from '../../core/money.ts';
import type { Trade } from './trades.ts';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function layout(title: string, content: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.2rem;color:#1677ff}.amount{font-size:2rem;margin:.5rem 0}dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}
dt{color:#666}form{display:inline}button{margin:.25rem .25rem .25rem 0;padding:.5rem 1rem;font-size:1rem}
.note{color:#888;font-size:.85rem}</style></head>
<body>${content}<p class="note">VK-Pay Alipay sandbox: no real money moves.</p></body></html>`;
}

const PRODUCT_NAMES: Record<Trade['product'], string> = {
  page: '电脑网站支付 (alipay.trade.page.pay)',
  wap: '手机网站支付 (alipay.trade.wap.pay)',
  app: 'APP支付 (alipay.trade.app.pay)',
  precreate: '当面付扫码 (alipay.trade.precreate)',
  create: '小程序支付 (alipay.trade.create)',
  barcode: '当面付付款码 (alipay.trade.pay)',
};

/** `actionBase` is the URL the three buttons post to, followed by /pay, /insufficient or /abandon. */
export function payerPage(trade: Trade, actionBase: string): string {
  const waiting = trade.status === 'WAIT_BUYER_PAY';
  const button = (action: string, label: string) =>
    `<form method="post" action="${escapeHtml(`${actionBase}/${action}`)}"><button type="submit" name="action" value="${action}" data-action="${action}">${label}</button></form>`;
  const failure = trade.lastFailure
    ? `<p role="alert" data-failure="${escapeHtml(trade.lastFailure)}">支付失败：余额不足 (${escapeHtml(trade.lastFailure)})</p>`
    : '';
  return layout(
    '支付宝收银台 (sandbox)',
    `<h1>支付宝收银台 · Sandbox cashier</h1>
<p>${escapeHtml(trade.subject)}</p><p class="amount" data-total-amount="${fenToYuan(trade.totalFen)}">¥${fenToYuan(trade.totalFen)}</p>
<dl><dt>out_trade_no</dt><dd>${escapeHtml(trade.outTradeNo)}</dd><dt>trade_no</dt><dd>${escapeHtml(trade.tradeNo)}</dd>
<dt>product</dt><dd>${escapeHtml(PRODUCT_NAMES[trade.product])}</dd><dt>trade_status</dt><dd data-trade-status="${trade.status}">${trade.status}</dd></dl>
${failure}
${waiting ? `${button('pay', '确认付款 Pay')}${button('insufficient', '余额不足 Insufficient balance')}${button('abandon', '放弃 Give up')}` : ''}`,
  );
}

export function resultPage(title: string, trade: Trade): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(trade.subject)} · ¥${fenToYuan(trade.totalFen)}</p>
<p data-trade-status="${trade.status}">trade_status: ${trade.status}</p>`,
  );
}

/** What Alipay shows instead of the cashier when a page request is rejected. */
export function errorPage(response: Record<string, unknown>): string {
  const field = (name: string) => escapeHtml(String(response[name] ?? ''));
  return layout(
    '支付宝 - 错误',
    `<h1>抱歉，页面请求出错</h1><dl data-error-code="${field('code')}" data-sub-code="${field('sub_code')}">
<dt>code</dt><dd>${field('code')}</dd><dt>sub_code</dt><dd>${field('sub_code')}</dd><dt>sub_msg</dt><dd>${field('sub_msg')}</dd></dl>`,
  );
}

/** Stands in for the Alipay app: paste the order string a merchant server signed with sdkExecute. */
export function appOrderForm(action: string): string {
  return layout(
    'Alipay app (sandbox)',
    `<h1>打开APP支付订单串 · Open an app order string</h1>
<form method="post" action="${escapeHtml(action)}"><textarea name="order_string" rows="8" cols="40" required></textarea><br>
<button type="submit">打开 Open</button></form>`,
  );
}
