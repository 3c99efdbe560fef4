/**
 * Validation of payment parameters at the edge. Every problem is reported at once, so a developer
 * fixes a request in one round trip, not one field at a time.
 */
import { PayError } from './errors.js';
import { type Fen } from './money.js';
export declare const PROVIDERS: readonly ["wxpay", "alipay", "appleiap", "wxpay-virtual", "douyin"];
export type ProviderName = (typeof PROVIDERS)[number];
/** The gateways a browser pays at, which the cashier offers: an App Store purchase is made in the app. */
export declare const CHECKOUT_PROVIDERS: readonly ["wxpay", "alipay"];
export type CheckoutProviderName = (typeof CHECKOUT_PROVIDERS)[number];
/**
 * Payment scenes: mini program, official-account web page, app, mobile browser, PC QR code, PC page,
 * and the counter's scan of the buyer's payment code (`micropay`, with `auth_code`).
 */
export declare const SCENES: readonly ["miniprogram", "jsapi", "app", "h5", "native", "pc", "micropay"];
export type Scene = (typeof SCENES)[number];
export declare const BUILTIN_ORDER_TYPES: readonly ["recharge", "goods", "vip", "custom"];
export declare const OUT_TRADE_NO_PATTERN: RegExp;
/**
 * How long an order may stay payable, in seconds: WeChat Pay asks for at least a minute, and
 * Alipay's timeout_express goes from 1m to 15d.
 */
export declare const MIN_EXPIRE_SECONDS = 60;
export declare const MAX_EXPIRE_SECONDS: number;
/** Longest user_id or openid kept with an order. */
export declare const MAX_ID_LENGTH = 128;
/**
 * The buyer's payment code as a scanner reads it: WeChat's 18 digits (10..15 first), Alipay's 16 to
 * 24 (25..30 first); other gateways' codes are digits too. Used for one call, never stored or logged.
 */
export declare const AUTH_CODE_PATTERN: RegExp;
export interface ValidationRules {
    maxFen: Fen;
    /** Order types with a handler: the built-in four plus the merchant's own. */
    orderTypes: readonly string[];
    providers: readonly string[];
    scenes: readonly string[];
    /** Largest serialised `custom` object, in bytes of UTF-8. */
    maxCustomBytes: number;
}
export declare const DEFAULT_RULES: ValidationRules;
export interface Problem {
    field: string;
    message: string;
}
/** What a merchant sends to create a payment, in wire names. */
export interface PaymentInput {
    out_trade_no?: unknown;
    total_fee?: unknown;
    subject?: unknown;
    type?: unknown;
    provider?: unknown;
    scene?: unknown;
    custom?: unknown;
    user_id?: unknown;
    openid?: unknown;
    /** The buyer's payment code, for the `micropay` scene only. */
    auth_code?: unknown;
}
export interface PaymentParams {
    outTradeNo: string;
    totalFen: Fen;
    subject: string;
    type: string;
    provider: ProviderName;
    scene: Scene;
    custom: Record<string, unknown>;
    userId: string | null;
    openid: string | null;
    /** The buyer's payment code (`micropay` only): passed to the gateway call, never stored. */
    authCode: string | null;
}
export declare function isOrderTypeName(value: string): boolean;
/** One 40001 listing every problem; the first one names the field. */
export declare function problemsError(problems: readonly Problem[]): PayError;
/** Checks a create-payment request; throws one 40001 listing every problem, or returns typed params. */
export declare function validatePaymentInput(input: PaymentInput, rules?: ValidationRules): PaymentParams;
/** Every problem of a create-payment request, without throwing (for callers that add their own). */
export declare function paymentProblems(input: PaymentInput, rules?: ValidationRules): Problem[];
export declare const OUT_REFUND_NO_PATTERN: RegExp;
export interface RefundInput {
    out_trade_no?: unknown;
    out_refund_no?: unknown;
    refund_fee?: unknown;
    reason?: unknown;
}
export interface RefundParams {
    outTradeNo: string;
    outRefundNo: string;
    refundFen: Fen;
    reason: string | null;
}
/** Checks a refund request; throws one 40001 listing every problem, or returns typed params. */
export declare function validateRefundInput(input: RefundInput, maxFen?: Fen): RefundParams;
/** Every problem of a refund request, without throwing. */
export declare function refundProblems(input: RefundInput, maxFen?: Fen): Problem[];
