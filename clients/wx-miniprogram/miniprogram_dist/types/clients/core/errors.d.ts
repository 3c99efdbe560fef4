export type Lang = 'zh' | 'en';
export interface Success<T> {
    code: 0;
    msg: string;
    data: T;
}
export interface Failure {
    code: number;
    msg: string;
    action: string;
    requestId?: string;
    field?: string;
    gatewayCode?: string;
    reason?: string;
    details?: unknown;
    /**
     * Why the browser has no answer from the service: `network` (40004) the request never reached it
     * (offline, DNS, refused connection); `origin` (40009) it answered, but this page's origin is not
     * one it lets read the answer (CORS). Absent on the service's own answers.
     */
    kind?: FailureKind;
}
export type FailureKind = 'network' | 'origin';
/** Every SDK call resolves to this; it never throws for a payment problem. */
export type Result<T> = Success<T> | Failure;
export interface ErrorDescription {
    code: number;
    type: string;
    msg: string;
    action: string;
    /** Repeating the same request may succeed. */
    retryable: boolean;
}
/** Message and action for a code; an unknown code reads as 50000 (contact support). */
export declare function describeError(code: number, lang?: Lang): ErrorDescription;
/** A failure result for a code, for problems found in the browser (network down, bad input). */
export declare function failureOf(code: number, lang: Lang, reason?: string): Failure;
export declare function isSuccess<T>(result: Result<T>): result is Success<T>;
