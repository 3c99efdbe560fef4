/**
 * vk-pay-client for uni-app (uni_modules/vk-pay-client): the shared client core over `uni.request`,
 * the client context read from the platform the way vk-uni-pay does (uniPlatform, isPC, osName),
 * and one `pay()` that runs the platform's payment: `uni.requestPayment` with the parameters each
 * platform takes, WeixinJSBridge and redirects in a browser, the QR code's content on a PC.
 */
import type { ProviderName } from '../../core/validate.js';
import { type WindowLike } from '../../web/next-step.js';
import { type BackendEndpoints, type VkPayClient, type WaitOptions } from '../core/client.js';
import { type Lang } from '../core/errors.js';
import { type CallbackRequest, type MiniPayRequest } from '../core/mini.js';
import { type PayResult } from '../core/pay-result.js';
type Api = (options: Record<string, unknown>) => unknown;
/** The little of `uni` the client uses. */
export interface UniLike {
    request: CallbackRequest;
    requestPayment?: Api;
    getSystemInfoSync(): UniSystemInfo;
    /** WeChat mini program virtual payment (uni-app hands unknown APIs to `wx` there). */
    requestVirtualPayment?: Api;
    /** Douyin's trade system, where uni-app hands them to `tt`. */
    requestOrder?: Api;
    getOrderPayment?: Api;
}
export interface UniSystemInfo {
    /** app, web, mp-weixin, mp-alipay, mp-toutiao, ... (HBuilderX 3.4+). */
    uniPlatform?: string;
    /** android, ios, harmonyos, windows, macos, linux. */
    osName?: string;
    /** phone, pad, pc. */
    deviceType?: string;
    /** The user agent (web). */
    ua?: string;
    /** The device's system (older uni-app): android, ios, windows, mac, devtools. */
    platform?: string;
}
/** The client context VK-Pay's createPayment takes, and the plugin's isPC beside it. */
export interface UniContext {
    platform: string;
    os?: string;
    userAgent?: string;
    isPC: boolean;
}
export interface UniClientOptions {
    /** The merchant backend's endpoints (full URLs: a mini program has no page origin). */
    backend?: BackendEndpoints;
    /** The VK-Pay service, for checkout-token calls. */
    baseUrl?: string;
    lang?: Lang;
    /** Per-request timeout for uni.request, ms (default the platform's). */
    timeoutMs?: number;
    /** Defaults to the global `uni`; pass the page's `uni` on uni-app's web platform (H5), tests a recorded one. */
    uni?: UniLike;
}
export interface UniPayOptions {
    /** Where the WeChat H5 page returns the buyer (its redirect_url), in a browser. */
    returnUrl?: string;
    /**
     * After the platform's answer, wait for the service's word (waitForPayment) before answering:
     * `true` with the default backoff, or its options. Off by default: the page may wait itself.
     */
    confirm?: boolean | WaitOptions;
    /** WeChat virtual payment on iOS: WeChat forbids it for most categories; refused unless true. */
    allowIos?: boolean;
    /** Defaults to the global window (uni-app's web platform). */
    window?: WindowLike;
}
/** A payment to run: created here (checkout token or backend body), or one already created. */
export type UniPayRequest = MiniPayRequest;
export interface UniPayClient extends VkPayClient {
    /** The client context from uni.getSystemInfoSync(), as the plugin reads it. */
    context(): UniContext;
    /** The providers that can pay on this platform, for a cashier to offer (see providersFor). */
    providers(): ProviderName[];
    /** Creates (unless given) and runs the payment on this platform; never throws. */
    pay(request: UniPayRequest, options?: UniPayOptions): Promise<PayResult>;
}
/** uniPlatform, isPC (a browser on a PC: deviceType pc or a desktop system), osName and the UA. */
export declare function uniContext(uni: UniLike): UniContext;
/**
 * The providers that can pay in a context, as the plugin's cashier offers them: WeChat's (and its
 * virtual payment) in a WeChat mini program, Alipay in Alipay's, Douyin in Douyin's; in an app
 * WeChat Pay and Alipay, plus Apple IAP on iOS; in a browser WeChat Pay and Alipay (Alipay's WAP
 * cashier also opens inside WeChat's browser).
 */
export declare function providersFor(context: Pick<UniContext, 'platform' | 'os'>): ProviderName[];
export declare function createUniPayClient(options?: UniClientOptions): UniPayClient;
export { type BuyerSituation, type BuyerWords, buyerWords, describeForBuyer } from '../core/buyer.js';
export type { BackendEndpoints, BackendPayRequest, CheckoutPayRequest, PaymentTarget, StorePurchaseHandOver, StorePurchaseResult, VkPayClient, WaitOptions, } from '../core/client.js';
export { describeError, type ErrorDescription, type Failure, isSuccess, type Lang, type Result, type Success, } from '../core/errors.js';
export type { PayNext, PayOutcome, PayResult } from '../core/pay-result.js';
export type { ClientPayParams, OrderStatus, PaymentOutcome, PaymentStart, PaymentStatus, ProviderName as CheckoutProviderName, Scene, } from '../core/types.js';
export { type Cashier, type CashierAction, type CashierEvent, type CashierMethod, type CashierOptions, type CashierPhase, type CashierState, type CashierTarget, type CashierTexts, cashierMethods, cashierTexts, countdown, createCashier, yuan, } from './cashier.js';
export type { ProviderName };
