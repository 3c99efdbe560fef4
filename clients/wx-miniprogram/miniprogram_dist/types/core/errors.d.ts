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
}
export declare class PayError extends Error {
    readonly code: ErrorCode;
    readonly field: string | undefined;
    readonly gatewayCode: string | undefined;
    readonly details: unknown;
    readonly outcomeUnknown: boolean;
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
