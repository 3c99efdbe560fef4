/**
 * The cashier's HTML: a small server-rendered shell (subject and amount readable before any script)
 * with the checkout's initial state as inert JSON; src/web/cashier renders the rest. Everything it
 * loads is on this origin.
 */
import type { Lang } from '../core/errors.ts';
import { buyerMessage, LABELS, rateLimitedText, type Situation } from '../web/cashier/messages.ts';
import type { Device, ProviderOffer } from './checkout-offers.ts';
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
  /** The buyer's device, from the User-Agent: how a QR code is used and which hint fits. */
  device: Device;
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

export function cashierPage(
  state: CashierState,
  assets: { script: string; style: string; icon?: string },
): string {
  const title = state.lang === 'en' ? 'Checkout' : '收银台';
  return `<!doctype html>
<html lang="${htmlLang(state.lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="/checkout/assets/cashier.${assets.style}.css">
<link rel="icon" type="image/svg+xml" href="${assets.icon ? `/checkout/assets/favicon.${assets.icon}.svg` : '/favicon.ico'}">
</head><body>
<div class="cashier" id="cashier" data-lang="${state.lang}">
<header class="summary">
${payeeLine(state)}<h1 class="subject" data-testid="subject">${escapeHtml(state.subject)}</h1>
<p class="amount" data-testid="amount">¥${yuan(state.totalFen)}</p>
${orderNumberLine(state)}
</header>
<main id="main">
<div id="app"><noscript>${state.lang === 'en' ? 'Please enable JavaScript to pay.' : '请启用 JavaScript 以完成支付。'}</noscript></div>
</main>
</div>
<script type="application/json" id="vkpay-checkout">${inertJson(state)}</script>
<script src="/checkout/assets/cashier.${assets.script}.js" defer></script>
</body></html>`;
}

/** Who the buyer pays, from the merchant's configuration (`apps[].payee`); nothing when unset. */
function payeeLine(state: CashierState): string {
  const payee = state.status.payee;
  if (!payee) return '';
  const label = state.lang === 'en' ? 'Payee: ' : '收款方：';
  // The name says who it is; the logo beside it is decoration.
  const logo = payee.logoUrl
    ? `<img class="payee-logo" src="${escapeHtml(payee.logoUrl)}" alt="" width="24" height="24">`
    : '';
  return `<p class="payee" data-testid="payee">${logo}${label}${escapeHtml(payee.name)}</p>\n`;
}

/** The merchant's order number, for the buyer to quote to the shop or to support. */
function orderNumberLine(state: CashierState): string {
  const label = state.lang === 'en' ? 'Order no.: ' : '订单号：';
  return `<p class="order-no" data-testid="order-no">${label}${escapeHtml(state.status.outTradeNo)}</p>`;
}

/** The page's `lang` attribute. */
function htmlLang(lang: Lang): string {
  return lang === 'en' ? 'en' : 'zh-CN';
}

/**
 * A page for a buyer who cannot go on here: an invalid or expired link, a route that is not there,
 * an address over its request budget. The buyer's language first, the other below it, the code in
 * small print for support, and a way forward: a retry or a link back, or in words where no link
 * can know the way (a link that is not valid does not say which shop it came from).
 *
 * The page does not reload itself: a timed refresh takes the page from under a buyer who is still
 * reading it (WCAG 2.2.1). It says when to try again, beside a link that does.
 */
export function cashierErrorPage(options: {
  lang: Lang;
  situation: Situation;
  code: number;
  style: string;
  /** A link forward (back to the checkout, or the same page to retry), if there is one. */
  link?: { href: string; label: 'again' | 'cashier' | 'back' };
  /** When trying again may work, in seconds; the words and the link say so, nothing reloads. */
  refreshSeconds?: number;
  /** Replaces the message's text in both languages (the rate-limited seconds). */
  text?: Record<Lang, string>;
}): string {
  const other: Lang = options.lang === 'en' ? 'zh' : 'en';
  const first = buyerMessage(options.situation, options.lang);
  const second = buyerMessage(options.situation, other);
  const firstText = options.text?.[options.lang] ?? first.text;
  const secondText = options.text?.[other] ?? second.text;
  const labels = LABELS[options.lang];
  const link = options.link ? escapeHtml(options.link.href) : null;
  return `<!doctype html>
<html lang="${htmlLang(options.lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(first.title)} · ${escapeHtml(second.title)}</title>
<link rel="stylesheet" href="/checkout/assets/cashier.${options.style}.css">
<link rel="icon" type="image/svg+xml" href="/favicon.ico">
</head><body>
<main class="cashier"><section class="result failure" data-testid="error-page" data-situation="${options.situation}">
<div class="icon" aria-hidden="true">!</div>
<h1 data-testid="error-title">${escapeHtml(first.title)}</h1><p data-testid="error-text">${escapeHtml(firstText)}</p>
<p class="other-lang" lang="${htmlLang(other)}"><strong>${escapeHtml(second.title)}</strong><br>${escapeHtml(secondText)}</p>
${link ? `<a class="back" data-testid="error-link" href="${link}">${labels[options.link!.label]} · ${LABELS[other][options.link!.label]}</a>\n` : ''}<p class="error-code" data-testid="error-code">${labels.code} ${options.code}</p>
</section></main>
</body></html>`;
}

/**
 * The page a buyer sees when their address has spent its request budget (429): in Chinese and
 * English, the buyer's language first, saying when to try again beside the link that does.
 */
export function cashierBusyPage(options: {
  lang: Lang;
  retryAfterSeconds: number;
  style: string;
  /** The page to load again: the one that was refused. */
  url: string;
}): string {
  const seconds = options.retryAfterSeconds;
  return cashierErrorPage({
    lang: options.lang,
    situation: 'rateLimited',
    code: 40008,
    style: options.style,
    link: { href: options.url, label: 'again' },
    text: { zh: rateLimitedText('zh', seconds), en: rateLimitedText('en', seconds) },
  });
}
