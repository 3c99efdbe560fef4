/**
 * The platform-independent client: create a payment (through the merchant's backend, or a
 * checkout token), query it, wait for it with backoff until a final state or the payment's expiry,
 * and hand an App Store purchase back. It sends its requests through a request function the
 * platform gives (fetch in a browser, uni.request in uni-app, wx.request in a WeChat mini
 * program); every call resolves to the unified envelope and never throws for a payment problem.
 */
import { type Failure, failureOf, isSuccess, type Lang, type Result } from './errors.ts';
import {
  type ClientPayParams,
  type OrderStatus,
  outcomeOf,
  type PaymentStart,
  type PaymentStatus,
  type ProviderName,
  type Scene,
} from './types.ts';

/** One HTTP request as the core asks for it; `body` is JSON-able (the platform serialises it). */
export interface ClientRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: unknown;
  /** The merchant's backend (backend.*), not the service's checkout endpoints. */
  toBackend: boolean;
}

/**
 * The platform's answer: the HTTP status and the parsed JSON body (undefined when it is not JSON).
 * A request that gets no answer at all rejects (or resolves `{ unanswered: reason }`).
 */
export type ClientResponse = { status: number; body: unknown } | { unanswered: string };

export type RequestFunction = (request: ClientRequest) => Promise<ClientResponse>;

/** A cancellation signal: AbortSignal fits, so does `{ aborted }` where there is no AbortController. */
export interface SignalLike {
  readonly aborted: boolean;
  addEventListener?(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener?(type: 'abort', listener: () => void): void;
}

export interface BackendEndpoints {
  /** POST here with the payment request; answers VK-Pay's createPayment envelope. */
  createPayment?: string;
  /** GET here; `:outTradeNo` is replaced. Answers VK-Pay's queryPayment envelope. */
  queryPayment?: string;
  /**
   * POST here with a StoreKit purchase to hand back (Apple IAP); your backend adds the buyer's
   * user_id and calls VK-Pay's POST /api/store-purchases. Answers its envelope.
   */
  storePurchase?: string;
  headers?: Record<string, string>;
}

export interface CoreClientOptions {
  /** Base URL of the VK-Pay service for checkout-token calls. */
  baseUrl?: string;
  /** The merchant backend's own endpoints, which call VK-Pay's signed API for the client. */
  backend?: BackendEndpoints;
  lang?: Lang;
  request: RequestFunction;
  /** What a request with no answer reads as; default 40004, kind `network`. */
  unanswered?: (url: string, reason: string) => Promise<Failure>;
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

/**
 * A purchase StoreKit made, handed back to the service: StoreKit 2's `Transaction.id` or
 * `jwsRepresentation`, or an old app's base64 receipt; `outTradeNo` when it pays an order of ours.
 */
export interface StorePurchaseHandOver {
  transactionId?: string;
  signedTransaction?: string;
  receipt?: string;
  outTradeNo?: string;
}

export interface StorePurchaseResult {
  order: { out_trade_no: string; status: OrderStatus; [field: string]: unknown };
  /** applied, already_applied, ...: the purchase paid the order now, or earlier. */
  outcome: string;
}

export interface WaitOptions {
  /** First gap between polls, ms (default 1000), growing by `factor` (1.5) up to `maxIntervalMs` (5000). */
  intervalMs?: number;
  maxIntervalMs?: number;
  factor?: number;
  /**
   * Give up after this long: the result is the last status, outcome pending. Default: the payment's
   * expiry as the service reports it (one last poll then reads its final state), else 15 minutes.
   */
  timeoutMs?: number;
  signal?: SignalLike;
  onStatus?: (status: PaymentStatus) => void;
}

export interface VkPayClient {
  readonly lang: Lang;
  createPayment(request: CheckoutPayRequest | BackendPayRequest): Promise<Result<PaymentStart>>;
  queryPayment(target: PaymentTarget): Promise<Result<PaymentStatus>>;
  /** Polls until paid, closed, expired, failed or cancelled (signal), or the timeout. */
  waitForPayment(target: PaymentTarget, options?: WaitOptions): Promise<Result<PaymentStatus>>;
  /** Hands a StoreKit purchase back through `backend.storePurchase` (Apple IAP). */
  handOverPurchase(purchase: StorePurchaseHandOver): Promise<Result<StorePurchaseResult>>;
}

interface BackendOrder {
  out_trade_no: string;
  status: OrderStatus;
  expire_date?: string | null;
}

/** A little past the expiry, so the last poll reads the closed state the service settles then. */
const EXPIRY_GRACE_MS = 2_000;
const DEFAULT_TIMEOUT_MS = 15 * 60_000;

export function createCoreClient(options: CoreClientOptions): VkPayClient {
  const lang = options.lang ?? 'zh';
  const base = (options.baseUrl ?? '').replace(/\/+$/, '');
  const checkoutUrl = (token: string, path: string) => `${base}/checkout/${encodeURIComponent(token)}${path}`;
  const unanswered =
    options.unanswered ??
    ((_url: string, reason: string) =>
      Promise.resolve({ ...failureOf(40004, lang, reason), kind: 'network' as const }));

  // The merchant's headers go to its backend only: on the service's checkout calls they would need a
  // CORS preflight the service does not allow them in.
  async function call<T>(
    url: string,
    method: 'GET' | 'POST' = 'GET',
    body?: unknown,
    toBackend = false,
  ): Promise<Result<T>> {
    let response: ClientResponse;
    try {
      response = await options.request({
        url,
        method,
        headers: {
          accept: 'application/json',
          'accept-language': lang === 'en' ? 'en' : 'zh-CN',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(toBackend ? options.backend?.headers : {}),
        },
        ...(body !== undefined ? { body } : {}),
        toBackend,
      });
    } catch (error) {
      response = { unanswered: error instanceof Error ? error.message : String(error) };
    }
    if ('unanswered' in response) return unanswered(url, response.unanswered);
    const answer = response.body as Result<T> | undefined;
    if (answer !== null && typeof answer === 'object' && typeof answer.code === 'number') return answer;
    return failureOf(response.status === 429 ? 40008 : response.status >= 500 ? 40010 : 50000, lang);
  }

  async function createPayment(
    request: CheckoutPayRequest | BackendPayRequest,
  ): Promise<Result<PaymentStart>> {
    if ('checkoutToken' in request) {
      return call<PaymentStart>(checkoutUrl(request.checkoutToken, '/pay'), 'POST', {
        provider: request.provider,
      });
    }
    const url = options.backend?.createPayment;
    if (!url) return failureOf(40001, lang, 'backend.createPayment is not configured');
    const answer = await call<{ scene: Scene; payment: ClientPayParams }>(url, 'POST', request.body, true);
    if (!isSuccess(answer)) return answer;
    return { ...answer, data: { scene: answer.data.scene, payment: answer.data.payment } };
  }

  async function queryPayment(target: PaymentTarget): Promise<Result<PaymentStatus>> {
    if ('checkoutToken' in target) return call<PaymentStatus>(checkoutUrl(target.checkoutToken, '/status'));
    const url = options.backend?.queryPayment;
    if (!url) return failureOf(40001, lang, 'backend.queryPayment is not configured');
    const answer = await call<{ order: BackendOrder }>(
      url.replace(':outTradeNo', encodeURIComponent(target.outTradeNo)),
      'GET',
      undefined,
      true,
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
        expiresAt: order.expire_date ?? null,
      },
    };
  }

  async function waitForPayment(
    target: PaymentTarget,
    wait: WaitOptions = {},
  ): Promise<Result<PaymentStatus>> {
    const factor = wait.factor ?? 1.5;
    const maxInterval = wait.maxIntervalMs ?? 5_000;
    const started = Date.now();
    let deadline = started + (wait.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let interval = wait.intervalMs ?? 1_000;
    let last: Result<PaymentStatus> = failureOf(40010, lang);
    for (;;) {
      if (wait.signal?.aborted) return cancelled(last);
      last = await queryPayment(target);
      if (isSuccess(last)) {
        wait.onStatus?.(last.data);
        if (last.data.outcome !== 'pending') return last;
        const expiresAt = last.data.expiresAt ? Date.parse(last.data.expiresAt) : Number.NaN;
        if (wait.timeoutMs === undefined && Number.isFinite(expiresAt))
          deadline = expiresAt + EXPIRY_GRACE_MS;
      } else if (!transient(last)) {
        return last;
      }
      const now = Date.now();
      if (now >= deadline) return last;
      // The last gap ends at the deadline, so the final poll reads the state there.
      await sleep(Math.min(interval, deadline - now), wait.signal);
      interval = Math.min(interval * factor, maxInterval);
    }
  }

  function cancelled(last: Result<PaymentStatus>): Result<PaymentStatus> {
    const data: PaymentStatus = isSuccess(last)
      ? { ...last.data, outcome: 'cancelled' }
      : { outTradeNo: '', status: 'NOTPAY', outcome: 'cancelled', failure: null };
    return { code: 0, msg: 'ok', data };
  }

  async function handOverPurchase(purchase: StorePurchaseHandOver): Promise<Result<StorePurchaseResult>> {
    const url = options.backend?.storePurchase;
    if (!url) return failureOf(40001, lang, 'backend.storePurchase is not configured');
    if (!purchase.transactionId && !purchase.signedTransaction && !purchase.receipt)
      return failureOf(40001, lang, 'transactionId, signedTransaction or receipt is required');
    const body = {
      provider: 'appleiap',
      ...(purchase.transactionId ? { transaction_id: purchase.transactionId } : {}),
      ...(purchase.signedTransaction ? { signed_transaction: purchase.signedTransaction } : {}),
      ...(purchase.receipt ? { receipt: purchase.receipt } : {}),
      ...(purchase.outTradeNo ? { out_trade_no: purchase.outTradeNo } : {}),
    };
    return call<StorePurchaseResult>(url, 'POST', body, true);
  }

  return { lang, createPayment, queryPayment, waitForPayment, handOverPurchase };
}

/**
 * Network trouble, rate limits and a busy gateway pass; keep polling through them. A refusal of
 * this origin does not pass by waiting.
 */
function transient(failure: Failure): boolean {
  if (failure.kind === 'origin') return false;
  return failure.code === 40004 || failure.code === 40008 || failure.code === 40010;
}

function sleep(ms: number, signal?: SignalLike): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener?.('abort', done);
      resolve();
    }
    signal?.addEventListener?.('abort', done, { once: true });
  });
}
