/// <reference lib="dom" />
/**
 * The cashier page's script. Every view has a way forward:
 *
 * - choose: the providers that fit this device;
 * - qr: the QR code, "I have paid", back to the shop;
 * - away: the buyer chose a method and came back (a reload, the language link, Back from the
 *   gateway's page, giving up there, cancelling WeChat's sheet): pay again or show the QR again,
 *   "I have paid", back to the shop;
 * - result: paid, failed (pay again), closed or expired (back to the shop);
 * - invalid: the link is no longer valid (back to the shop).
 *
 * The server knows the chosen provider and scene, so a reload or a language switch renders the same
 * view (the QR code is asked for again). Problems are told in the buyer's words (messages.ts) with
 * the unified code in small print; a banner says when the buyer is offline or the service is busy.
 *
 * For screen readers and the keyboard: each new view moves focus to its heading, and its words are
 * said through a live region (an assertive one when a payment fails or the link is dead).
 */
import { createClient } from '../client.ts';
import { isSuccess } from '../errors.ts';
import { proceed } from '../next-step.ts';
import type { PaymentStatus, ProviderName } from '../types.ts';
import { qrCodeAlt, type Words, wordsFor } from './i18n.ts';
import {
  type BuyerMessage,
  buyerMessage,
  LABELS,
  type Lang,
  type Situation,
  situationOf,
} from './messages.ts';

interface Offer {
  provider: ProviderName;
  scene: string;
}

type Status = PaymentStatus & {
  provider: ProviderName | null;
  scene: string | null;
  /** Methods closed at their gateway when the buyer switched away: not offered again. */
  closedProviders?: ProviderName[];
  closedBy?: 'merchant';
};

interface CashierState {
  token: string;
  lang: Lang;
  subject: string;
  totalFen: number;
  expiresAt: number;
  now: number;
  offers: Offer[];
  device: 'wechat' | 'alipay' | 'mobile' | 'desktop';
  status: Status;
  returnUrl: string | null;
  cashierUrl: string;
}

type View = 'choose' | 'working' | 'qr' | 'away' | 'result' | 'invalid';

const state = JSON.parse(document.getElementById('vkpay-checkout')!.textContent!) as CashierState;
const words: Words = wordsFor(state.lang);
const client = createClient({ lang: state.lang });
const root = document.getElementById('cashier')!;
const app = document.getElementById('app')!;
const target = { checkoutToken: state.token };
/** The server's clock minus ours, so the countdown agrees with the server about expiry. */
const skew = state.now - Date.now();
let view: View = 'choose';
/** Nothing more can happen to this order here: no polling, no countdown. */
let finished = false;
let pollRound = 0;

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

function button(label: string, testid: string, onClick: () => void, primary = false): HTMLButtonElement {
  const node = el(
    'button',
    { type: 'button', class: primary ? 'action primary' : 'action', 'data-testid': testid },
    label,
  );
  node.addEventListener('click', onClick);
  return node;
}

let shown = false;
function show(name: View, ...children: Node[]): void {
  view = name;
  root.dataset.view = name;
  app.replaceChildren(...children);
  // After the first view, move focus to the new view's heading so it is read out.
  const heading = app.querySelector<HTMLElement>('h2');
  if (shown && heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
  shown = true;
}

function providerName(provider: ProviderName): string {
  return words[provider];
}

/** A buyer message: title, text, what can be done, and the code in small print. */
function messageBox(
  situation: Situation,
  code: number | null,
  actions: Node[] = [],
  detail?: string,
): HTMLElement {
  const message = buyerMessage(situation, state.lang);
  return el(
    'section',
    {
      class: 'message',
      'data-testid': 'message',
      'data-situation': situation,
      ...(detail ? { 'data-detail': detail } : {}),
    },
    el('h2', { 'data-testid': 'message-title' }, message.title),
    el('p', { 'data-testid': 'message-text' }, message.text),
    ...(actions.length > 0 ? [el('div', { class: 'actions' }, ...actions)] : []),
    ...(code === null
      ? []
      : [
          el('p', { class: 'error-code', 'data-testid': 'error-code' }, `${LABELS[state.lang].code} ${code}`),
        ]),
  );
}

function backLink(): HTMLElement[] {
  return state.returnUrl
    ? [el('a', { class: 'back', href: state.returnUrl, 'data-testid': 'back' }, words.back)]
    : [];
}

// --- what is said to screen readers ------------------------------------------------------------

const liveRegion = (politeness: 'polite' | 'assertive') =>
  el('div', {
    class: 'visually-hidden',
    'aria-live': politeness,
    'aria-atomic': 'true',
    'data-testid': `announce-${politeness}`,
  });
const politeRegion = liveRegion('polite');
const urgentRegion = liveRegion('assertive');
app.after(politeRegion, urgentRegion);
let announcement = 0;

/** Says `text` once, politely or (a failure, a dead link) at once. */
function announce(text: string, urgent = false): void {
  const [region, other] = urgent ? [urgentRegion, politeRegion] : [politeRegion, urgentRegion];
  other.textContent = '';
  region.textContent = '';
  const current = ++announcement;
  // Emptied first and filled a moment later, so the same words twice are said twice.
  setTimeout(() => {
    if (current === announcement) region.textContent = text;
  }, 100);
}

function sentences(message: BuyerMessage): string {
  return state.lang === 'en' ? `${message.title}. ${message.text}` : `${message.title}。${message.text}`;
}

// --- the banner: offline, busy, rate limited --------------------------------------------------

const banner = el('div', { class: 'banner', 'data-testid': 'banner', hidden: '' });
app.before(banner);

function setBanner(situation: Situation | null, code?: number): void {
  if (!situation) {
    banner.hidden = true;
    banner.replaceChildren();
    delete banner.dataset.situation;
    return;
  }
  const message = buyerMessage(situation, state.lang);
  if (banner.dataset.situation !== situation) announce(sentences(message));
  banner.dataset.situation = situation;
  banner.replaceChildren(
    el('strong', {}, message.title),
    ' ',
    message.text,
    ...(code ? [el('span', { class: 'error-code' }, ` ${LABELS[state.lang].code} ${code}`)] : []),
    ' ',
    button(words.dismiss, 'banner-retry', () => void refresh()),
  );
  banner.hidden = false;
}

window.addEventListener('offline', () => setBanner('offline', 40004));
window.addEventListener('online', () => {
  setBanner(null);
  void refresh();
});

// --- the summary: countdown and language ------------------------------------------------------

function languageSwitch(): HTMLElement {
  const url = new URL(location.href);
  url.searchParams.set('lang', state.lang === 'en' ? 'zh' : 'en');
  return el(
    'a',
    {
      class: 'lang',
      href: url.toString(),
      'data-testid': 'lang-switch',
      lang: state.lang === 'en' ? 'zh-CN' : 'en',
    },
    words.switchLang,
  );
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
      void refresh();
    }
  };
  const timer = setInterval(tick, 1000);
  tick();
  return line;
}

// --- views ------------------------------------------------------------------------------------

function chooser(message?: HTMLElement): void {
  if (state.offers.length === 0) {
    show(
      'choose',
      el('h2', {}, words.noOffersTitle),
      el('p', { class: 'notice', 'data-testid': 'no-offers' }, words.noOffers),
      ...backLink(),
    );
    return;
  }
  const buttons = state.offers.map((offer) => {
    const node = el(
      'button',
      { type: 'button', class: `provider ${offer.provider}`, 'data-testid': `provider-${offer.provider}` },
      words[offer.provider],
    );
    node.addEventListener('click', () => void pay(offer.provider));
    return node;
  });
  show(
    'choose',
    el('h2', {}, words.choose),
    ...(message ? [message] : []),
    el('div', { class: 'providers' }, ...buttons),
    ...backLink(),
  );
}

/**
 * Paying another way: a button for each other method still open to this order (choosing one closes
 * the first attempt at its gateway), or, when none is, the advice to order again at the shop.
 */
function otherMethods(provider: ProviderName): Node[] {
  const closed = state.status.closedProviders ?? [];
  const others = state.offers.filter(
    (offer) => offer.provider !== provider && !closed.includes(offer.provider),
  );
  if (others.length === 0) return [el('p', { class: 'note' }, words.chooseAnother)];
  return [
    el(
      'div',
      { class: 'actions others' },
      ...others.map((offer) =>
        button(
          `${words.insteadBefore}${providerName(offer.provider)}${words.insteadAfter}`,
          `switch-${offer.provider}`,
          () => void pay(offer.provider),
        ),
      ),
    ),
  ];
}

function offerFor(provider: ProviderName): Offer | undefined {
  return state.offers.find((offer) => offer.provider === provider);
}

function qrView(provider: ProviderName, content: string, image: string): void {
  const inWechat = state.device === 'wechat';
  const hint =
    provider === 'wxpay' ? (inWechat ? words.scanWxpayInWechat : words.scanWxpay) : words.scanAlipay;
  show(
    'qr',
    el('h2', { class: 'chosen', 'data-testid': 'chosen' }, `${words.chosenWith} ${providerName(provider)}`),
    el(
      'div',
      { class: 'qr-box' },
      el('img', {
        class: 'qr',
        alt: qrCodeAlt(state.lang, providerName(provider), amount()),
        'data-testid': 'qr',
        'data-content': content,
        src: image,
      }),
    ),
    el('p', { class: 'hint', 'data-testid': 'hint' }, hint),
    ...(inWechat
      ? [el('p', { class: 'hint small', 'data-testid': 'hint-alternative' }, words.scanAlternative)]
      : []),
    el('p', { class: 'waiting', 'data-testid': 'waiting' }, words.waiting),
    el(
      'div',
      { class: 'actions' },
      button(words.checkNow, 'check-now', () => void refresh(true)),
    ),
    ...otherMethods(provider),
    ...backLink(),
  );
  announce(`${words.chosenWith} ${providerName(provider)}${state.lang === 'en' ? '. ' : '。'}${hint}`);
}

/** The amount as the page shows it: ¥ and yuan with two decimals. */
function amount(): string {
  return `¥${Math.floor(state.totalFen / 100)}.${String(state.totalFen % 100).padStart(2, '0')}`;
}

/** A view that says what is happening while the page waits: a heading, so focus has a place. */
function working(text: string, testid: 'working' | 'waiting'): void {
  const said = view === 'working' && app.textContent === text;
  show('working', el('h2', { class: 'waiting', 'data-testid': testid }, text));
  if (!said) announce(text);
}

/** The buyer chose `provider` earlier and is here again: pay again, check, or go back. */
function awayView(
  provider: ProviderName,
  situation: Situation,
  code: number | null = null,
  detail?: string,
): void {
  const offer = offerFor(provider);
  const actions: Node[] = [];
  if (offer && situation !== 'notOffered') {
    actions.push(
      button(
        offer.scene === 'native' ? words.showQrAgain : `${words.payAgain} · ${providerName(provider)}`,
        'pay-again',
        () => void pay(provider),
        true,
      ),
    );
  }
  actions.push(button(words.checkNow, 'check-now', () => void refresh(true)));
  show(
    'away',
    messageBox(situation, code, actions, detail),
    el('p', { class: 'chosen', 'data-testid': 'chosen' }, `${words.chosenWith} ${providerName(provider)}`),
    ...otherMethods(provider),
    ...backLink(),
  );
  announce(sentences(buyerMessage(situation, state.lang)));
}

function invalidView(code: number): void {
  stop();
  show('invalid', messageBox('invalidLink', code), ...backLink());
  announce(sentences(buyerMessage('invalidLink', state.lang)), true);
}

function stop(): void {
  finished = true;
  pollRound += 1;
  document.querySelector('.expiry')?.remove();
}

function render(status: Status): void {
  if (status.outcome === 'pending' || status.outcome === 'cancelled') return;
  // Polling a failed order finds it failed again: the view is already there.
  if (view === 'result' && root.dataset.outcome === status.outcome) return;
  const order = el('p', { class: 'order' }, `${words.order} ${status.outTradeNo}`);
  root.dataset.outcome = status.outcome;
  if (status.outcome === 'failed') {
    // The gateway ended this order (WeChat's PAYERROR is final): a new order at the shop is the way on.
    stop();
    const code = status.failure?.code ?? 50000;
    const situation = code === 40007 ? 'balance' : 'failed';
    show(
      'result',
      el(
        'section',
        { class: 'result failure', 'data-testid': 'result-failed' },
        el('div', { class: 'icon', 'aria-hidden': 'true' }, '!'),
        messageBox(situation, code),
        order,
        ...backLink(),
      ),
    );
    announce(sentences(buyerMessage(situation, state.lang)), true);
    return;
  }
  stop();
  if (status.outcome === 'paid') {
    show(
      'result',
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
    announce(`${words.paid}${state.lang === 'en' ? '. ' : '。'}${words.paidHint}`);
    return;
  }
  const message = buyerMessage(
    status.outcome === 'expired' ? 'expired' : status.closedBy === 'merchant' ? 'closedByMerchant' : 'closed',
    state.lang,
  );
  show(
    'result',
    el(
      'section',
      { class: 'result closed', 'data-testid': 'result-closed' },
      el('div', { class: 'icon', 'aria-hidden': 'true' }, '×'),
      el('h2', {}, message.title),
      el('p', {}, message.text),
      order,
      ...backLink(),
    ),
  );
  announce(sentences(message));
}

/** The view for a status read from the server: the one the buyer left, or the result. */
function restore(status: Status, situation: Situation = 'notCompleted'): void {
  if (status.outcome !== 'pending') {
    render(status);
    return;
  }
  if (!status.provider) {
    chooser();
    return;
  }
  const offer = offerFor(status.provider);
  if (!offer || (status.scene && offer.scene !== status.scene)) awayView(status.provider, 'notOffered');
  else if (offer.scene === 'native' && situation === 'notCompleted') void pay(status.provider);
  else awayView(status.provider, situation);
}

// --- paying and polling -----------------------------------------------------------------------

async function pay(provider: ProviderName): Promise<void> {
  working(words.redirecting, 'working');
  const started = await client.createPayment({ checkoutToken: state.token, provider });
  if (!isSuccess(started)) {
    await payRefused(provider, started.code);
    return;
  }
  setBanner(null);
  state.status = { ...state.status, provider, scene: started.data.scene };
  if ('paySign' in started.data.payment) await bridgeReady();
  const step = await proceed(started.data, { returnUrl: state.cashierUrl });
  if (step.kind === 'qr') {
    qrView(provider, step.content, step.image ?? '');
  } else if (step.kind === 'jsapi') {
    if (step.ok) working(words.checking, 'waiting');
    // WeChat's own codes (get_brand_wcpay_request:cancel) are for support, not for the buyer.
    else awayView(provider, /:cancel$/.test(step.message) ? 'cancelled' : 'notCompleted', null, step.message);
  } else {
    working(words.redirecting, 'waiting');
  }
  startPolling();
}

/** WeChat's bridge may arrive after the page: wait for it a little (WeixinJSBridgeReady). */
function bridgeReady(): Promise<void> {
  if ((window as { WeixinJSBridge?: unknown }).WeixinJSBridge) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000);
    document.addEventListener(
      'WeixinJSBridgeReady',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

async function payRefused(provider: ProviderName, code: number): Promise<void> {
  if (code === 40002) return invalidView(code);
  if (code === 40009) return render({ ...state.status, status: 'CLOSED', outcome: 'expired' });
  if (code === 40006 || code === 40001 || code === 40005) {
    // Paid already, or another page chose another method: show what the order is now.
    const answer = await client.queryPayment(target);
    if (isSuccess(answer)) {
      const status = answer.data as Status;
      state.status = { ...state.status, closedProviders: status.closedProviders ?? [] };
      if (status.outcome !== 'pending') return render(status);
      if (status.provider && status.provider !== provider) {
        awayView(status.provider, 'otherMethod', code);
        startPolling();
        return;
      }
    }
  }
  const situation = situationOf(code);
  const passing = situation === 'offline' || situation === 'unavailable' || situation === 'rateLimited';
  if (passing) setBanner(situation, code);
  // Nothing chosen yet: the banner says what is wrong and the methods stay there to try again.
  if (passing && !state.status.provider) {
    chooser();
    announce(sentences(buyerMessage(situation, state.lang)), true);
    return;
  }
  const retry = button(words.dismiss, 'retry', () => void pay(provider), true);
  const message = messageBox(situation, code, [retry]);
  if (state.status.provider) show('away', message, ...backLink());
  else chooser(message);
  announce(sentences(buyerMessage(situation, state.lang)), true);
}

function startPolling(): void {
  if (finished) return;
  const round = ++pollRound;
  let interval = 1000;
  const loop = async () => {
    if (round !== pollRound || finished) return;
    await refresh();
    interval = Math.min(interval * 1.5, 3000);
    setTimeout(loop, interval);
  };
  setTimeout(loop, interval);
}

/** Asks the status once and shows what changed. `asked`: the buyer pressed "I have paid". */
async function refresh(asked = false): Promise<void> {
  if (finished) return;
  if (!navigator.onLine) {
    setBanner('offline', 40004);
    return;
  }
  const answer = await client.queryPayment(target);
  if (finished) return;
  if (isSuccess(answer)) {
    setBanner(null);
    const status = answer.data as Status;
    state.status = { ...state.status, closedProviders: status.closedProviders ?? [] };
    if (status.outcome !== 'pending') {
      render(status);
    } else if (
      status.provider &&
      (view === 'choose' || (state.status.provider !== null && status.provider !== state.status.provider))
    ) {
      // Another page chose a method meanwhile, or switched to the other one: this page's QR code or
      // step was for a method the order has left.
      state.status = status;
      awayView(status.provider, 'otherMethod');
    } else if (asked && view === 'qr') {
      // Not paid yet: say so beside the QR code, which stays.
      const waiting = app.querySelector('[data-testid="waiting"]');
      const text = buyerMessage('notCompleted', state.lang).text;
      if (waiting) waiting.textContent = text;
      announce(text);
    } else if (asked && status.provider) {
      awayView(status.provider, 'notCompleted');
    }
    return;
  }
  if (answer.code === 40002) invalidView(answer.code);
  else if (answer.code === 40009) render({ ...state.status, status: 'CLOSED', outcome: 'expired' });
  else setBanner(situationOf(answer.code), answer.code);
}

// Back from a gateway's page: the browser may show this page from its cache as it was left.
window.addEventListener('pageshow', (event) => {
  if (!event.persisted || finished) return;
  void client.queryPayment(target).then((answer) => {
    if (isSuccess(answer)) restore(answer.data as Status);
    else if (answer.code === 40002) invalidView(answer.code);
  });
});

document.querySelector('.summary')!.append(countdown(), languageSwitch());
if (!navigator.onLine) setBanner('offline', 40004);
restore(state.status);
startPolling();
