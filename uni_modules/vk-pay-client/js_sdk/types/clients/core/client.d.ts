/**
 * The platform-independent client: create a payment (through the merchant's backend, or a
 * checkout token), query it, wait for it with backoff until a final state or the payment's expiry,
 * and hand an App Store purchase back. It sends its requests through a request function the
 * platform gives (fetch in a browser, uni.request in uni-app, wx.request in a WeChat mini
 * program); every call resolves to the unified envelope and never throws for a payment problem.
 */
import { type Failure, type Lang, type Result } from './errors.js';
import { type OrderStatus, type PaymentStart, type PaymentStatus, type ProviderName } from './types.js';
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
export type ClientResponse = {
    status: number;
    body: unknown;
} | {
    unanswered: string;
};
export type RequestFunction = (request: ClientRequest) => Promise<ClientResponse>;
/** A cancellation signal: AbortSignal fits, so does `{ aborted }` where there is no AbortController. */
export interface SignalLike {
    readonly aborted: boolean;
    addEventListener?(type: 'abort', listener: () => void, options?: {
        once?: boolean;
    }): void;
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
export type PaymentTarget = {
    checkoutToken: string;
} | {
    outTradeNo: string;
};
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
    order: {
        out_trade_no: string;
        status: OrderStatus;
        [field: string]: unknown;
    };
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
export declare function createCoreClient(options: CoreClientOptions): VkPayClient;
