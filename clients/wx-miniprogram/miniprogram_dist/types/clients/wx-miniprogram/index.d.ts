/**
 * vk-pay-client for native WeChat mini programs (clients/wx-miniprogram): the shared client core
 * over `wx.request`, and one `pay()` that runs `wx.requestPayment` with the five signed fields, or
 * `wx.requestVirtualPayment` for WeChat's virtual payment. Other providers do not pay inside a
 * WeChat mini program: they come back as not available here.
 */
import { type BackendEndpoints, type VkPayClient, type WaitOptions } from '../core/client.js';
import type { Lang } from '../core/errors.js';
import { type CallbackRequest, type MiniPayRequest } from '../core/mini.js';
import { type PayResult } from '../core/pay-result.js';
type Api = (options: Record<string, unknown>) => unknown;
/** The little of `wx` the client uses. */
export interface WxMiniProgramLike {
    request: CallbackRequest;
    requestPayment?: Api;
    requestVirtualPayment?: Api;
    /** platform: ios, android, windows, mac, devtools. */
    getSystemInfoSync?(): {
        platform?: string;
    };
}
export interface WxClientOptions {
    /** The merchant backend's endpoints (full URLs, in the mini program's request domain list). */
    backend?: BackendEndpoints;
    /** The VK-Pay service, for checkout-token calls. */
    baseUrl?: string;
    lang?: Lang;
    /** Per-request timeout for wx.request, ms. */
    timeoutMs?: number;
    /** Defaults to the global `wx`; tests pass a recorded one. */
    wx?: WxMiniProgramLike;
}
export interface WxPayOptions {
    /** After the platform's answer, wait for the service's word (waitForPayment); off by default. */
    confirm?: boolean | WaitOptions;
    /** Virtual payment on iOS: WeChat forbids it for most categories; refused unless true. */
    allowIos?: boolean;
}
export type WxPayRequest = MiniPayRequest;
export interface WxPayClient extends VkPayClient {
    /** The client context the service reads: platform mp-weixin and the device's system. */
    context(): {
        platform: 'mp-weixin';
        os?: string;
    };
    pay(request: WxPayRequest, options?: WxPayOptions): Promise<PayResult>;
}
export declare function createWxPayClient(options?: WxClientOptions): WxPayClient;
export type { ProviderName } from '../../core/validate.js';
export { type BuyerSituation, type BuyerWords, buyerWords, describeForBuyer } from '../core/buyer.js';
export type { BackendEndpoints, BackendPayRequest, CheckoutPayRequest, PaymentTarget, StorePurchaseHandOver, StorePurchaseResult, VkPayClient, WaitOptions, } from '../core/client.js';
export { describeError, type ErrorDescription, type Failure, isSuccess, type Lang, type Result, type Success, } from '../core/errors.js';
export type { PayNext, PayOutcome, PayResult } from '../core/pay-result.js';
export type { ClientPayParams, OrderStatus, PaymentOutcome, PaymentStart, PaymentStatus, ProviderName as CheckoutProviderName, Scene, } from '../core/types.js';
