/**
 * The cashier popup's logic (components/vk-pay-cashier in uni_modules/vk-pay-client), kept out of
 * the Vue file so it can be tested: the methods this platform can pay with, the amount in yuan, the
 * countdown, and one flow from choosing a method to a final state (paid, failed, closed), each with
 * the ways forward the buyer has there. The component renders `state` and calls the actions.
 */
import type { ProviderName } from '../../core/validate.ts';
import { type BuyerSituation, buyerWords, describeForBuyer } from '../core/buyer.ts';
import type { SignalLike, WaitOptions } from '../core/client.ts';
import { type Failure, isSuccess, type Lang } from '../core/errors.ts';
import type { MiniPayRequest } from '../core/mini.ts';
import type { PayResult } from '../core/pay-result.ts';
import type { ProviderName as CheckoutProviderName, PaymentStatus } from '../core/types.ts';
import type { UniPayClient, UniPayOptions } from './index.ts';

/**
 * choose: the methods are offered; starting: the payment is being created and run; qr: a QR code to
 * scan (a browser on a PC); waiting: for the service's word; paid, failed, closed: final for this
 * attempt; cancelled: the buyer left the cashier.
 */
export type CashierPhase =
  | 'choose'
  | 'starting'
  | 'qr'
  | 'waiting'
  | 'paid'
  | 'failed'
  | 'closed'
  | 'cancelled';

/** retry: the same method again; otherMethod: back to the list; close: close the popup; cancel: stop paying. */
export type CashierAction = 'retry' | 'otherMethod' | 'close' | 'cancel';

export interface CashierMethod {
  provider: ProviderName;
  label: string;
}

export interface CashierState {
  phase: CashierPhase;
  methods: CashierMethod[];
  provider?: ProviderName;
  /** The QR code: the service's image (checkout) and the code's content. */
  qr?: { codeUrl: string; image?: string };
  /** The buyer's words for a result (paid, failed, closed) or the wait. */
  title?: string;
  text?: string;
  /** The unified error behind a failure, for support (e.g. 40007). */
  failure?: Failure;
  /** When the payment can no longer be made (epoch ms), once the service said. */
  expiresAt?: number;
  /** "mm:ss" left until expiresAt. */
  countdown?: string;
  actions: CashierAction[];
}

/** What the cashier pays: a checkout token, or a body for the merchant's backend. */
export type CashierTarget = { checkoutToken: string } | { body: Record<string, unknown> };

export type CashierEvent =
  | { type: 'success'; status: PaymentStatus }
  | { type: 'fail'; result: PayResult | null; failure?: Failure }
  | { type: 'cancel' }
  | { type: 'close' };

export interface CashierOptions {
  client: Pick<UniPayClient, 'pay' | 'waitForPayment' | 'providers'>;
  target: CashierTarget;
  lang?: Lang;
  /** Only these of the platform's methods (the merchant's choice), in this order. */
  methods?: ProviderName[];
  /** pay()'s options (returnUrl for WeChat H5 in a browser); `confirm` is the cashier's. */
  payOptions?: Omit<UniPayOptions, 'confirm'>;
  onChange(state: CashierState): void;
  onEvent(event: CashierEvent): void;
  /** How the cashier polls the service (default: every 1 s growing to 5 s, until the expiry). */
  wait?: Pick<WaitOptions, 'intervalMs' | 'maxIntervalMs' | 'factor' | 'timeoutMs'>;
  /** The clock for the countdown; Date.now by default. */
  now?: () => number;
}

export interface Cashier {
  readonly state: CashierState;
  choose(provider: ProviderName): Promise<void>;
  /** Runs one of state.actions. */
  act(action: CashierAction): Promise<void>;
  /** Recomputes the countdown (the component calls it every second). */
  tick(): void;
  /** Stops any wait (the popup is going away). */
  dispose(): void;
}

const TEXTS = {
  zh: {
    title: '收银台',
    amount: '支付金额',
    choose: '选择支付方式',
    noMethods: '当前环境没有可用的支付方式，请在其他设备或浏览器中打开。',
    scanWxpay: '请使用微信扫一扫完成支付',
    scanAlipay: '请使用支付宝扫一扫完成支付',
    scanOther: '请扫码完成支付',
    starting: '正在发起支付…',
    waiting: '等待支付结果…',
    expiresIn: '剩余支付时间',
    code: '代码',
    retry: '重新支付',
    otherMethod: '更换支付方式',
    close: '关闭',
    cancel: '取消支付',
  },
  en: {
    title: 'Checkout',
    amount: 'Amount',
    choose: 'Choose a payment method',
    noMethods: 'No payment method works here; please open this page on another device or browser.',
    scanWxpay: 'Scan with WeChat to pay',
    scanAlipay: 'Scan with Alipay to pay',
    scanOther: 'Scan the code to pay',
    starting: 'Starting the payment…',
    waiting: 'Waiting for the payment…',
    expiresIn: 'Time left to pay',
    code: 'Code',
    retry: 'Try again',
    otherMethod: 'Choose another method',
    close: 'Close',
    cancel: 'Cancel payment',
  },
};

export type CashierTexts = (typeof TEXTS)['zh'];

/** The cashier's labels in the buyer's language. */
export function cashierTexts(lang: Lang = 'zh'): CashierTexts {
  return lang === 'en' ? TEXTS.en : TEXTS.zh;
}

const METHOD_LABELS: Record<Lang, Partial<Record<ProviderName, string>>> = {
  zh: {
    wxpay: '微信支付',
    alipay: '支付宝',
    'wxpay-virtual': '微信虚拟支付',
    douyin: '抖音支付',
    appleiap: 'Apple 应用内购买',
  },
  en: {
    wxpay: 'WeChat Pay',
    alipay: 'Alipay',
    'wxpay-virtual': 'WeChat virtual payment',
    douyin: 'Douyin Pay',
    appleiap: 'In-App Purchase',
  },
};

/** The platform's methods the merchant allows (all of them when `allowed` is absent), labelled. */
export function cashierMethods(
  available: ProviderName[],
  lang: Lang = 'zh',
  allowed?: ProviderName[],
): CashierMethod[] {
  const chosen = allowed ? allowed.filter((provider) => available.includes(provider)) : available;
  return chosen.map((provider) => ({ provider, label: METHOD_LABELS[lang][provider] ?? provider }));
}

/** Integer fen as yuan with two decimals: 1990 -> "19.90". */
export function yuan(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < 0) return '';
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

/** Time left as "mm:ss" (hours count as minutes), never below 00:00. */
export function countdown(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

const FINAL: ReadonlySet<CashierPhase> = new Set(['paid', 'failed', 'closed', 'cancelled']);

const CHECKOUT_PROVIDERS: readonly ProviderName[] = ['wxpay', 'alipay'];

/** Situations where the same method again may work. */
const RETRYABLE: ReadonlySet<BuyerSituation> = new Set([
  'cancelled',
  'failed',
  'timeout',
  'offline',
  'busy',
  'rateLimited',
  'pending',
  'balance',
  'error',
]);

/** A cancellation signal that works where there is no AbortController (mini programs). */
function signal(): SignalLike & { abort(): void } {
  const listeners = new Set<() => void>();
  const self = {
    aborted: false,
    addEventListener(_type: 'abort', listener: () => void) {
      listeners.add(listener);
    },
    removeEventListener(_type: 'abort', listener: () => void) {
      listeners.delete(listener);
    },
    abort() {
      self.aborted = true;
      for (const listener of [...listeners]) listener();
    },
  };
  return self;
}

export function createCashier(options: CashierOptions): Cashier {
  const lang = options.lang ?? 'zh';
  const texts = cashierTexts(lang);
  const now = options.now ?? Date.now;
  // A checkout token pays with the hosted cashier's providers only.
  const available = options.client
    .providers()
    .filter((provider) => !('checkoutToken' in options.target) || CHECKOUT_PROVIDERS.includes(provider));
  const methods = cashierMethods(available, lang, options.methods);
  let state: CashierState = { phase: 'choose', methods, actions: ['cancel'] };
  let wait: ReturnType<typeof signal> | undefined;
  // Each attempt has a number: the answers of an attempt the buyer left are ignored.
  let attempt = 0;

  function set(next: Partial<CashierState>) {
    state = { ...state, ...next };
    // The countdown runs while the buyer can still pay; a result has none.
    if (state.expiresAt !== undefined && !FINAL.has(state.phase))
      state.countdown = countdown(state.expiresAt - now());
    else delete state.countdown;
    options.onChange(state);
  }

  function stopWaiting() {
    wait?.abort();
    wait = undefined;
  }

  function failed(title: string, text: string, retry: boolean, failure?: Failure) {
    const { failure: _previous, ...rest } = state;
    state = rest as CashierState;
    set({
      phase: 'failed',
      title,
      text,
      ...(failure ? { failure } : {}),
      actions: [
        ...(retry ? (['retry'] as const) : []),
        ...(methods.length > 1 ? (['otherMethod'] as const) : []),
        'close',
      ],
    });
  }

  async function choose(provider: ProviderName): Promise<void> {
    stopWaiting();
    const mine = ++attempt;
    const { qr: _qr, failure: _failure, title: _title, text: _text, ...rest } = state;
    state = rest as CashierState;
    set({ phase: 'starting', provider, text: texts.starting, actions: ['cancel'] });
    const target = options.target;
    const request: MiniPayRequest =
      'checkoutToken' in target
        ? { checkoutToken: target.checkoutToken, provider: provider as CheckoutProviderName }
        : { body: { ...target.body, provider } };
    const result = await options.client.pay(request, options.payOptions ?? {});
    if (mine !== attempt) return;
    const retry = RETRYABLE.has(result.situation);
    if (result.outcome === 'cancelled' || result.outcome === 'failed') {
      // An order paid before (40006) is paid: the service's word settles it below.
      if (result.situation !== 'alreadyPaid') {
        failed(result.title, result.text, retry, result.failure);
        options.onEvent({ type: 'fail', result, ...(result.failure ? { failure: result.failure } : {}) });
        return;
      }
    }
    const next = result.next;
    if (next?.kind === 'qr') {
      const scan =
        provider === 'wxpay' ? texts.scanWxpay : provider === 'alipay' ? texts.scanAlipay : texts.scanOther;
      set({
        phase: 'qr',
        qr: next.image ? { codeUrl: next.codeUrl, image: next.image } : { codeUrl: next.codeUrl },
        text: scan,
        actions: methods.length > 1 ? ['otherMethod', 'cancel'] : ['cancel'],
      });
    } else {
      set({ phase: 'waiting', text: texts.waiting, actions: ['cancel'] });
    }
    await waitForService(mine, result);
  }

  async function waitForService(mine: number, result: PayResult | null) {
    const target =
      'checkoutToken' in options.target
        ? { checkoutToken: options.target.checkoutToken }
        : typeof options.target.body.out_trade_no === 'string'
          ? { outTradeNo: options.target.body.out_trade_no }
          : undefined;
    if (!target) {
      // Nothing to ask the service about: the platform's word is the last one.
      if (result?.outcome === 'paid') {
        const status: PaymentStatus = { outTradeNo: '', status: 'SUCCESS', outcome: 'paid', failure: null };
        set({ phase: 'paid', title: result.title, text: result.text, actions: ['close'] });
        options.onEvent({ type: 'success', status });
      } else {
        // Not known yet, and no order number to ask about: the buyer's words for it, and the way on.
        failed(result?.title ?? '', result?.text ?? '', true);
        options.onEvent({ type: 'fail', result });
      }
      return;
    }
    wait = signal();
    const answer = await options.client.waitForPayment(target, {
      ...options.wait,
      signal: wait,
      onStatus: (status) => {
        if (mine !== attempt || !status.expiresAt) return;
        const expiresAt = Date.parse(status.expiresAt);
        if (Number.isFinite(expiresAt) && expiresAt !== state.expiresAt) set({ expiresAt });
      },
    });
    if (mine !== attempt) return;
    wait = undefined;
    if (!isSuccess(answer)) {
      const words = describeForBuyer(answer, lang);
      failed(words.title, words.text, RETRYABLE.has(words.situation), answer);
      options.onEvent({ type: 'fail', result, failure: answer });
      return;
    }
    const status = answer.data;
    switch (status.outcome) {
      case 'cancelled':
        return;
      case 'paid': {
        const words = buyerWords('paid', lang);
        set({ phase: 'paid', title: words.title, text: words.text, actions: ['close'] });
        options.onEvent({ type: 'success', status });
        return;
      }
      case 'closed':
      case 'expired': {
        const words = buyerWords(status.outcome, lang);
        set({ phase: 'closed', title: words.title, text: words.text, actions: ['close'] });
        options.onEvent({ type: 'fail', result });
        return;
      }
      case 'failed': {
        const failure = status.failure ? { ...status.failure } : undefined;
        const words = failure ? describeForBuyer(failure, lang) : buyerWords('failed', lang);
        // The gateway ended this attempt: another method (or a new order) is the way on.
        failed(words.title, words.text, false, failure);
        options.onEvent({ type: 'fail', result, ...(failure ? { failure } : {}) });
        return;
      }
      default: {
        // Still unpaid when the wait ran out.
        const words = buyerWords('timeout', lang);
        failed(words.title, words.text, true);
        options.onEvent({ type: 'fail', result });
      }
    }
  }

  async function act(action: CashierAction): Promise<void> {
    switch (action) {
      case 'retry':
        if (state.provider) await choose(state.provider);
        return;
      case 'otherMethod': {
        stopWaiting();
        attempt += 1;
        const {
          qr: _qr,
          failure: _failure,
          title: _title,
          text: _text,
          provider: _provider,
          ...rest
        } = state;
        state = rest as CashierState;
        set({ phase: 'choose', actions: ['cancel'] });
        return;
      }
      case 'cancel':
        stopWaiting();
        attempt += 1;
        set({ phase: 'cancelled', actions: [] });
        options.onEvent({ type: 'cancel' });
        options.onEvent({ type: 'close' });
        return;
      case 'close':
        stopWaiting();
        attempt += 1;
        options.onEvent({ type: 'close' });
        return;
    }
  }

  return {
    get state() {
      return state;
    },
    choose,
    act,
    tick() {
      if (state.expiresAt !== undefined) set({});
    },
    dispose() {
      stopWaiting();
      attempt += 1;
    },
  };
}
