/**
 * The browser client: create a payment (through the merchant's backend, or a checkout token),
 * query it, and wait for it with backoff. Every call resolves to the unified envelope; transport
 * failures become 40004 so a page has one thing to show.
 */
import { failureOf, isSuccess, type Lang, type Result } from './errors.ts';
import {
  type ClientPayParams,
  type OrderStatus,
  outcomeOf,
  type PaymentStart,
  type PaymentStatus,
  type ProviderName,
  type Scene,
} from './types.ts';

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Base URL of the VK-Pay service for checkout-token calls; default: this page's origin. */
  baseUrl?: string;
  /** The merchant backend's own endpoints, which call VK-Pay's signed API for the browser. */
  backend?: {
    /** POST here with the payment request; answers VK-Pay's createPayment envelope. */
    createPayment?: string;
    /** GET here; `:outTradeNo` is replaced. Answers VK-Pay's queryPayment envelope. */
    queryPayment?: string;
    headers?: Record<string, string>;
    credentials?: 'omit' | 'same-origin' | 'include';
  };
  lang?: Lang;
  fetch?: FetchLike;
}

/** Pay through a checkout token with the provider the buyer chose. */
export interface CheckoutPayRequest {
  checkoutToken: string;
  provider: ProviderName;
}

/** Pay through the merchant backend: the body is the merchant's own. */
export interface BackendPayRequest {
  body: Record<string, unknown>;
}

export type PaymentTarget = { checkoutToken: string } | { outTradeNo: string };

export interface WaitOptions {
  /** First gap between polls, ms (default 1000), growing by `factor` (1.5) up to `maxIntervalMs` (5000). */
  intervalMs?: number;
  maxIntervalMs?: number;
  factor?: number;
  /** Give up after this long (default 15 minutes): the result is the last status, outcome pending. */
  timeoutMs?: number;
  signal?: AbortSignal;
  onStatus?: (status: PaymentStatus) => void;
}

export interface VkPayClient {
  readonly lang: Lang;
  createPayment(request: CheckoutPayRequest | BackendPayRequest): Promise<Result<PaymentStart>>;
  queryPayment(target: PaymentTarget): Promise<Result<PaymentStatus>>;
  /** Polls until paid, closed, expired, failed or cancelled (signal), or the timeout. */
  waitForPayment(target: PaymentTarget, options?: WaitOptions): Promise<Result<PaymentStatus>>;
}

interface BackendOrder {
  out_trade_no: string;
  status: OrderStatus;
}

export function createClient(options: ClientOptions = {}): VkPayClient {
  const lang = options.lang ?? 'zh';
  const doFetch: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const base = (options.baseUrl ?? '').replace(/\/+$/, '');
  const checkoutUrl = (token: string, path: string) => `${base}/checkout/${encodeURIComponent(token)}${path}`;

  async function call<T>(url: string, init: RequestInit = {}): Promise<Result<T>> {
    let response: Response;
    try {
      response = await doFetch(url, {
        ...init,
        headers: {
          accept: 'application/json',
          'accept-language': lang === 'en' ? 'en' : 'zh-CN',
          ...(init.body ? { 'content-type': 'application/json' } : {}),
          ...options.backend?.headers,
        },
      });
    } catch (error) {
      return failureOf(40004, lang, error instanceof Error ? error.message : String(error));
    }
    try {
      const body = (await response.json()) as Result<T>;
      if (typeof body?.code === 'number') return body;
    } catch {
      // fall through: not the envelope
    }
    return failureOf(response.status === 429 ? 40008 : response.status >= 500 ? 40010 : 50000, lang);
  }

  async function createPayment(
    request: CheckoutPayRequest | BackendPayRequest,
  ): Promise<Result<PaymentStart>> {
    if ('checkoutToken' in request) {
      return call<PaymentStart>(checkoutUrl(request.checkoutToken, '/pay'), {
        method: 'POST',
        body: JSON.stringify({ provider: request.provider }),
      });
    }
    const url = options.backend?.createPayment;
    if (!url) return failureOf(40001, lang, 'backend.createPayment is not configured');
    const answer = await call<{ scene: Scene; payment: ClientPayParams }>(url, {
      method: 'POST',
      body: JSON.stringify(request.body),
      ...(options.backend?.credentials ? { credentials: options.backend.credentials } : {}),
    });
    if (!isSuccess(answer)) return answer;
    return { ...answer, data: { scene: answer.data.scene, payment: answer.data.payment } };
  }

  async function queryPayment(target: PaymentTarget): Promise<Result<PaymentStatus>> {
    if ('checkoutToken' in target) return call<PaymentStatus>(checkoutUrl(target.checkoutToken, '/status'));
    const url = options.backend?.queryPayment;
    if (!url) return failureOf(40001, lang, 'backend.queryPayment is not configured');
    const answer = await call<{ order: BackendOrder }>(
      url.replace(':outTradeNo', encodeURIComponent(target.outTradeNo)),
      options.backend?.credentials ? { credentials: options.backend.credentials } : {},
    );
    if (!isSuccess(answer)) return answer;
    const { order } = answer.data;
    return {
      ...answer,
      data: {
        outTradeNo: order.out_trade_no,
        status: order.status,
        outcome: outcomeOf(order.status),
        failure: null,
      },
    };
  }

  async function waitForPayment(
    target: PaymentTarget,
    wait: WaitOptions = {},
  ): Promise<Result<PaymentStatus>> {
    const factor = wait.factor ?? 1.5;
    const maxInterval = wait.maxIntervalMs ?? 5_000;
    const deadline = Date.now() + (wait.timeoutMs ?? 15 * 60_000);
    let interval = wait.intervalMs ?? 1_000;
    let last: Result<PaymentStatus> = failureOf(40010, lang);
    for (;;) {
      if (wait.signal?.aborted) return cancelled(last);
      last = await queryPayment(target);
      if (isSuccess(last)) {
        wait.onStatus?.(last.data);
        if (last.data.outcome !== 'pending') return last;
      } else if (!transient(last.code)) {
        return last;
      }
      if (Date.now() + interval > deadline) return last;
      await sleep(interval, wait.signal);
      interval = Math.min(interval * factor, maxInterval);
    }
  }

  function cancelled(last: Result<PaymentStatus>): Result<PaymentStatus> {
    const data: PaymentStatus = isSuccess(last)
      ? { ...last.data, outcome: 'cancelled' }
      : { outTradeNo: '', status: 'NOTPAY', outcome: 'cancelled', failure: null };
    return { code: 0, msg: 'ok', data };
  }

  return { lang, createPayment, queryPayment, waitForPayment };
}

/** Network trouble, rate limits and a busy gateway pass; keep polling through them. */
function transient(code: number): boolean {
  return code === 40004 || code === 40008 || code === 40010;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
