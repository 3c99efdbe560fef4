/**
 * One result for every way a payment is run on a device: the platform's payment call answered
 * (success, the buyer's cancel, a failure, an unknown result) or the page has a step left to show
 * (a QR code to render, a redirect made). Each platform words its answers differently
 * ("requestPayment:fail cancel", Alipay's resultCode 6001, Douyin's code 4...); they are read here
 * into one outcome with the buyer's words.
 */
import { type BuyerSituation } from './buyer.js';
import type { Failure, Lang } from './errors.js';
/**
 * paid: the platform says the buyer paid (confirm with waitForPayment before delivering);
 * cancelled: the buyer backed out; failed: it did not go through; pending: not known yet, or the
 * page still has to show `next` (QR code) or has left (redirect).
 */
export type PayOutcome = 'paid' | 'cancelled' | 'failed' | 'pending';
export type PayNext = {
    kind: 'qr';
    codeUrl: string;
    image?: string;
} | {
    kind: 'redirect';
    url: string;
} | {
    kind: 'form';
    action: string;
};
export interface PayResult {
    outcome: PayOutcome;
    situation: BuyerSituation;
    /** The buyer's words for the outcome, in the client's language. */
    title: string;
    text: string;
    /** The service's unified error when the payment could not be started or was refused. */
    failure?: Failure;
    /** The platform's own answer, for logs and support: the API called and what it said. */
    platform?: {
        api: string;
        message?: string;
        code?: string | number;
    };
    /** What the page still has to do. */
    next?: PayNext;
    /** The merchant's order number, when the client knows it (to wait for the service's word). */
    outTradeNo?: string;
}
export declare function payResult(outcome: PayOutcome, situation: BuyerSituation, lang: Lang, extra?: Omit<PayResult, 'outcome' | 'situation' | 'title' | 'text'>): PayResult;
/** A failure of the service (or of the client before any platform call) as a pay result. */
export declare function failedResult(failure: Failure, lang: Lang, outTradeNo?: string): PayResult;
/** What a platform's payment call answered, as the callbacks hand it over. */
export interface PlatformAnswer {
    errMsg?: string;
    errCode?: number | string;
    /** plus.payment and uni's app errors. */
    code?: number | string;
    /** Alipay: 9000 paid, 8000/6004 unknown, 6001 cancelled, 6002 network, 4000 failed. */
    resultCode?: number | string;
    /** Douyin's trade system: tt.requestOrder / tt.getOrderPayment. */
    errNo?: number | string;
    /** uni-app's APP Alipay: the SDK's answer as JSON text, with its resultStatus. */
    rawdata?: string;
}
export type PlatformKind = 'wechat' | 'alipay' | 'douyin-pay' | 'douyin-trade' | 'appleiap';
/** Reads a platform's answer: `ok` is whether the success callback ran. */
export declare function readPlatformAnswer(kind: PlatformKind, ok: boolean, answer: PlatformAnswer | undefined): {
    outcome: PayOutcome;
    situation: BuyerSituation;
};
/** A platform answer as a pay result in the buyer's words. */
export declare function platformResult(kind: PlatformKind, api: string, ok: boolean, answer: PlatformAnswer | undefined, lang: Lang, outTradeNo?: string): PayResult;
