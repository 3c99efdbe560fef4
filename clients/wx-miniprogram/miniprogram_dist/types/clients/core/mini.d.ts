/**
 * What the mini program and uni-app clients share: a request function over `uni.request` /
 * `wx.request` (same callback shape), a promise over a platform's success/fail callbacks, and the
 * service's word on a payment after the platform's.
 */
import type { BackendPayRequest, CheckoutPayRequest, PaymentTarget, RequestFunction, VkPayClient, WaitOptions } from './client.js';
import { type Lang } from './errors.js';
import { type PayResult } from './pay-result.js';
import type { PaymentStart } from './types.js';
/** What a mini-program client's pay() takes: a payment to start, or one the backend started. */
export type MiniPayRequest = CheckoutPayRequest | BackendPayRequest | {
    start: PaymentStart;
    outTradeNo?: string;
    checkoutToken?: string;
};
/**
 * pay() of the uni-app and WeChat mini program clients alike: starts the payment (or takes one
 * already started), has the platform run it, then, when asked, waits for the service's word.
 */
export declare function payOnPlatform(client: VkPayClient, request: MiniPayRequest, confirm: boolean | WaitOptions | undefined, lang: Lang, run: (start: PaymentStart, outTradeNo: string | undefined) => Promise<PayResult>): Promise<PayResult>;
/** `uni.request` and `wx.request` alike: the little of them the client uses. */
export type CallbackRequest = (options: {
    url: string;
    method: 'GET' | 'POST';
    header: Record<string, string>;
    data?: unknown;
    dataType?: 'json';
    timeout?: number;
    success(answer: {
        statusCode: number;
        data: unknown;
    }): void;
    fail(answer: {
        errMsg: string;
    }): void;
}) => unknown;
/** A request function over uni.request / wx.request: JSON both ways, `timeoutMs` per request. */
export declare function callbackRequestFunction(request: CallbackRequest, timeoutMs?: number): RequestFunction;
/** Calls a platform API with success/fail callbacks; a missing API or a throw reads as a fail. */
export declare function invoke<T>(api: ((options: Record<string, unknown>) => unknown) | undefined, name: string, args: Record<string, unknown>): Promise<{
    ok: true;
    answer: T;
} | {
    ok: false;
    answer: {
        errMsg: string;
        [key: string]: unknown;
    };
}>;
/**
 * The platform said paid (or could not say): wait for the service's word, which is the one that
 * counts. A cancel or a failure the platform reported stays as it is.
 */
export declare function confirmWithService(client: VkPayClient, result: PayResult, target: PaymentTarget | undefined, wait: WaitOptions, lang: Lang): Promise<PayResult>;
