/**
 * The unified error table (40001..40010, 50000) and the one error type that carries it.
 * Every failure a caller sees is a PayError with a code from this table; gateway codes are kept
 * beside the unified code, never instead of it.
 */
export declare const ERROR_CODES: readonly [40001, 40002, 40003, 40004, 40005, 40006, 40007, 40008, 40009, 40010, 50000];
export type ErrorCode = (typeof ERROR_CODES)[number];
export interface ErrorSpec {
    type: string;
    zh: string;
    en: string;
    actionZh: string;
    actionEn: string;
    httpStatus: number;
    /** Whether repeating the same request can succeed without changing it. */
    retryable: boolean;
}
export declare const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorSpec>>;
export type Lang = 'zh' | 'en';
export interface PayErrorOptions {
    /** The request field that caused the error, when there is one. */
    field?: string;
    /** The gateway's own error code, kept next to the unified one. */
    gatewayCode?: string;
    /** Raw details (gateway message, list of validation problems...). Never secrets. */
    details?: unknown;
    cause?: unknown;
    /** Override of the generic message, in the caller's words. */
    message?: string;
    /** For network failures on writes: the gateway may or may not have acted. */
    outcomeUnknown?: boolean;
    /**
     * Words for the person in front of the payment (the buyer, the cashier) instead of the code's
     * generic msg and action: a refused payment code says why and what to do next.
     */
    text?: ErrorText;
}
export interface ErrorText {
    zh: string;
    en: string;
    actionZh: string;
    actionEn: string;
}
export declare class PayError extends Error {
    readonly code: ErrorCode;
    readonly field: string | undefined;
    readonly gatewayCode: string | undefined;
    readonly details: unknown;
    readonly outcomeUnknown: boolean;
    readonly text: ErrorText | undefined;
    constructor(code: ErrorCode, options?: PayErrorOptions);
    get spec(): ErrorSpec;
    get httpStatus(): number;
    get retryable(): boolean;
    /** The unified failure body: `{ code, msg, action, details? }`. */
    toResult(lang?: Lang): ErrorResult;
}
export interface ErrorResult {
    code: ErrorCode;
    msg: string;
    action: string;
    field?: string;
    gatewayCode?: string;
    reason?: string;
    details?: unknown;
    outcomeUnknown?: boolean;
    requestId?: string;
}
export declare function isPayError(value: unknown): value is PayError;
/** Any thrown value as a PayError: PayErrors pass through, everything else is 50000. */
export declare function toPayError(value: unknown): PayError;
/**
 * Why a gateway refused a buyer's payment code, in words for the counter. Every gateway's refusal
 * codes map onto these (WeChat AUTH_CODE_INVALID, Alipay ACQ.PAYMENT_AUTH_CODE_INVALID, ...).
 */
export declare const PAYMENT_CODE_REFUSALS: {
    /** The code is malformed, expired (a code lives about a minute) or was used already. */
    readonly code_invalid: {
        readonly code: 40001;
        readonly zh: "付款码无效或已过期";
        readonly en: "The buyer's payment code is invalid or expired";
        readonly actionZh: "请顾客刷新付款码后重新扫码";
        readonly actionEn: "Ask the buyer to refresh the payment code, then scan it again";
    };
    /** The buyer's balance or card cannot cover the amount. */
    readonly insufficient_balance: {
        readonly code: 40007;
        readonly zh: "顾客余额不足";
        readonly en: "The buyer's balance is insufficient";
        readonly actionZh: "请顾客更换付款方式（如切换银行卡）后重新出示付款码";
        readonly actionEn: "Ask the buyer to choose another card or method, then show a new payment code";
    };
    /** The buyer's account or card cannot pay (frozen, card not supported, risk control). */
    readonly buyer_cannot_pay: {
        readonly code: 40001;
        readonly zh: "顾客账户暂不能完成支付";
        readonly en: "The buyer's account cannot complete this payment";
        readonly actionZh: "请顾客更换付款方式，或改用其他支付方式";
        readonly actionEn: "Ask the buyer to pay another way";
    };
};
export type PaymentCodeRefusal = keyof typeof PAYMENT_CODE_REFUSALS;
/** A refused payment code as a PayError: the unified code, the gateway's own, words for the counter. */
export declare function paymentCodeRefused(reason: PaymentCodeRefusal, options: {
    gatewayCode: string;
    message: string;
    details?: unknown;
}): PayError;
