/// <reference lib="dom" />
/**
 * The cashier page's script: offers the providers that fit this device, starts the payment the
 * buyer picks (QR code, redirect or Alipay's form), counts down to expiry, polls the status, and
 * ends on the success, failure or closed page with the error table's message and action.
 */
import { createClient } from '../client.ts';
import { describeError, isSuccess, type Lang } from '../errors.ts';
import { proceed } from '../next-step.ts';
import type { PaymentStatus, ProviderName } from '../types.ts';
import { type Words, wordsFor } from './i18n.ts';

interface Offer {
  provider: ProviderName;
  scene: string;
}

interface CashierState {
  token: string;
  lang: Lang;
  subject: string;
  totalFen: number;
  expiresAt: number;
  now: number;
  offers: Offer[];
  status: PaymentStatus & { provider: ProviderName | null };
  returnUrl: string | null;
  cashierUrl: string;
}

const state = JSON.parse(document.getElementById('vkpay-checkout')!.textContent!) as CashierState;
const words: Words = wordsFor(state.lang);
const client = createClient({ lang: state.lang });
const app = document.getElementById('app')!;
const target = { checkoutToken: state.token };
/** The server's clock minus ours, so the countdown agrees with the server about expiry. */
const skew = state.now - Date.now();
let polling: AbortController | null = null;
let finished = false;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function show(...children: Node[]): void {
  app.replaceChildren(...children);
}

function languageSwitch(): HTMLElement {
  const url = new URL(location.href);
  url.searchParams.set('lang', state.lang === 'en' ? 'zh' : 'en');
  return el('a', { class: 'lang', href: url.toString(), 'data-testid': 'lang-switch' }, words.switchLang);
}

function countdown(): HTMLElement {
  const label = el('span', { class: 'countdown', 'data-testid': 'countdown' });
  const line = el('p', { class: 'expiry' }, `${words.expiresIn} `, label);
  const tick = () => {
    if (finished) return;
    const left = Math.max(0, Math.ceil((state.expiresAt - (Date.now() + skew)) / 1000));
    label.textContent = `${String(Math.floor(left / 60)).padStart(2, '0')}:${String(left % 60).padStart(2, '0')}`;
    if (left === 0) {
      clearInterval(timer);
      void checkOnce();
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
  return line;
}

function chooser(message?: HTMLElement): void {
  if (state.offers.length === 0) {
    show(el('p', { class: 'notice', 'data-testid': 'no-offers' }, words.noOffers));
    return;
  }
  const buttons = state.offers.map((offer) => {
    const button = el(
      'button',
      { type: 'button', class: `provider ${offer.provider}`, 'data-testid': `provider-${offer.provider}` },
      words[offer.provider],
    );
    button.addEventListener('click', () => void pay(offer.provider));
    return button;
  });
  show(
    el('h2', {}, words.choose),
    ...(message ? [message] : []),
    el('div', { class: 'providers' }, ...buttons),
  );
}

function errorBox(code: number, testid: string): HTMLElement {
  const { msg, action } = describeError(code, state.lang);
  return el(
    'div',
    { class: 'error', role: 'alert', 'data-testid': testid },
    el('p', { class: 'error-msg', 'data-testid': 'error-msg' }, msg),
    el('p', { class: 'error-action', 'data-testid': 'error-action' }, `${words.action}: ${action}`),
    el('p', { class: 'error-code', 'data-testid': 'error-code' }, `${words.code} ${code}`),
  );
}

async function pay(provider: ProviderName): Promise<void> {
  show(el('p', { class: 'waiting' }, words.redirecting));
  const started = await client.createPayment({ checkoutToken: state.token, provider });
  if (!isSuccess(started)) {
    chooser(errorBox(started.code, 'pay-error'));
    return;
  }
  const step = await proceed(started.data, { returnUrl: state.cashierUrl });
  if (step.kind === 'qr') {
    const image = el('img', {
      class: 'qr',
      alt: step.content,
      'data-testid': 'qr',
      'data-content': step.content,
      src: step.image ?? '',
    });
    show(
      el('div', { class: 'qr-box' }, image),
      el('p', { class: 'hint' }, provider === 'wxpay' ? words.scanWxpay : words.scanAlipay),
      el('p', { class: 'waiting', 'data-testid': 'waiting' }, words.waiting),
    );
  } else if (step.kind === 'jsapi' && !step.ok) {
    chooser(el('p', { class: 'notice' }, `${words.jsapiFailed} (${step.message})`));
  } else {
    show(el('p', { class: 'waiting', 'data-testid': 'waiting' }, words.redirecting));
  }
  void poll();
}

async function poll(): Promise<void> {
  polling?.abort();
  polling = new AbortController();
  const answer = await client.waitForPayment(target, {
    intervalMs: 1000,
    maxIntervalMs: 3000,
    signal: polling.signal,
  });
  if (isSuccess(answer)) render(answer.data);
  else if (answer.code === 40009) render({ ...state.status, status: 'CLOSED', outcome: 'expired' });
}

async function checkOnce(): Promise<void> {
  const answer = await client.queryPayment(target);
  if (isSuccess(answer) && answer.data.outcome !== 'pending') {
    polling?.abort();
    render(answer.data);
  } else if (!polling) {
    void poll();
  }
}

function backLink(): HTMLElement[] {
  return state.returnUrl
    ? [el('a', { class: 'back', href: state.returnUrl, 'data-testid': 'back' }, words.back)]
    : [];
}

function render(status: PaymentStatus): void {
  if (status.outcome === 'pending' || status.outcome === 'cancelled') return;
  finished = true;
  document.querySelector('.expiry')?.remove();
  const order = el('p', { class: 'order' }, `${words.order} ${status.outTradeNo}`);
  if (status.outcome === 'paid') {
    show(
      el(
        'section',
        { class: 'result success', 'data-testid': 'result-success' },
        el('div', { class: 'icon', 'aria-hidden': 'true' }, '✓'),
        el('h2', {}, words.paid),
        el('p', {}, words.paidHint),
        order,
        ...backLink(),
      ),
    );
  } else if (status.outcome === 'failed') {
    show(
      el(
        'section',
        { class: 'result failure', 'data-testid': 'result-failed' },
        el('div', { class: 'icon', 'aria-hidden': 'true' }, '!'),
        el('h2', {}, words.failed),
        errorBox(status.failure?.code ?? 50000, 'failure'),
        order,
        ...backLink(),
      ),
    );
  } else {
    show(
      el(
        'section',
        { class: 'result closed', 'data-testid': 'result-closed' },
        el('div', { class: 'icon', 'aria-hidden': 'true' }, '×'),
        el('h2', {}, status.outcome === 'expired' ? words.expired : words.closed),
        el('p', {}, words.closedHint),
        order,
        ...backLink(),
      ),
    );
  }
  document.getElementById('cashier')!.dataset.outcome = status.outcome;
}

document.querySelector('.summary')!.append(countdown(), languageSwitch());
if (state.status.outcome !== 'pending') {
  render(state.status);
} else if (state.status.provider) {
  show(el('p', { class: 'waiting', 'data-testid': 'waiting' }, words.waiting));
  void poll();
} else {
  chooser();
}
