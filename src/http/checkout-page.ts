/**
 * The cashier's HTML: a small server-rendered shell (subject and amount readable before any script)
 * with the checkout's initial state as inert JSON; src/web/cashier renders the rest. Everything it
 * loads is on this origin.
 */
import type { Lang } from '../core/errors.ts';
import type { ProviderOffer } from './checkout-offers.ts';
import type { CheckoutStatus } from './checkout-status.ts';

/** What the page's script starts from. */
export interface CashierState {
  token: string;
  lang: Lang;
  subject: string;
  totalFen: number;
  /** The checkout's expiry, ms since the epoch; the server's clock is `now`. */
  expiresAt: number;
  now: number;
  offers: ProviderOffer[];
  status: CheckoutStatus;
  /** The merchant's page to go back to after the result. */
  returnUrl: string | null;
  /** This page's own URL, where gateway pages send the buyer back. */
  cashierUrl: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that cannot end the script element it sits in. */
function inertJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028|\u2029/g, '');
}

export function yuan(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

export function cashierPage(state: CashierState, assets: { script: string; style: string }): string {
  const title = state.lang === 'en' ? 'Checkout' : '收银台';
  return `<!doctype html>
<html lang="${state.lang === 'en' ? 'en' : 'zh-CN'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="/checkout/assets/cashier.css?v=${assets.style}">
</head><body>
<main class="cashier" id="cashier" data-lang="${state.lang}">
<header class="summary">
<p class="subject" data-testid="subject">${escapeHtml(state.subject)}</p>
<p class="amount" data-testid="amount">¥${yuan(state.totalFen)}</p>
</header>
<div id="app"><noscript>${state.lang === 'en' ? 'Please enable JavaScript to pay.' : '请启用 JavaScript 以完成支付。'}</noscript></div>
</main>
<script type="application/json" id="vkpay-checkout">${inertJson(state)}</script>
<script src="/checkout/assets/cashier.js?v=${assets.script}" defer></script>
</body></html>`;
}

/**
 * The page a buyer sees when their address has spent its request budget (429): in Chinese and
 * English, the buyer's language first, reloading itself when the window ends.
 */
export function cashierBusyPage(options: {
  lang: Lang;
  retryAfterSeconds: number;
  style: string;
  /** The page to load again: the one that was refused. */
  url: string;
}): string {
  const seconds = options.retryAfterSeconds;
  const zh = { title: '请求过于频繁', text: `请 ${seconds} 秒后再试，页面会自动刷新。`, again: '重试' };
  const en = {
    title: 'Too many requests',
    text: `Please try again in ${seconds} seconds; this page reloads by itself.`,
    again: 'Try again',
  };
  const [first, second] = options.lang === 'en' ? [en, zh] : [zh, en];
  const url = escapeHtml(options.url);
  return `<!doctype html>
<html lang="${options.lang === 'en' ? 'en' : 'zh-CN'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="${seconds};url=${url}">
<title>${first.title} · ${second.title}</title>
<link rel="stylesheet" href="/checkout/assets/cashier.css?v=${options.style}">
</head><body>
<main class="cashier"><section class="result failure" data-testid="rate-limited">
<div class="icon" aria-hidden="true">!</div>
<h2>${first.title}</h2><p>${first.text}</p>
<p lang="${options.lang === 'en' ? 'zh-CN' : 'en'}"><strong>${second.title}</strong> ${second.text}</p>
<a class="back" href="${url}">${first.again} · ${second.again}</a>
<p class="error-code">40008</p>
</section></main>
</body></html>`;
}
