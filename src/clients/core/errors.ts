/**
 * The unified result envelope as the browser sees it, and describeError: the message and action of
 * an error code from the same table the server answers with, in Chinese or English.
 */
import { ERROR_TABLE, type ErrorCode } from '../../core/errors.ts';

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
export function describeError(code: number, lang: Lang = 'zh'): ErrorDescription {
  const known = (ERROR_TABLE as Record<number, (typeof ERROR_TABLE)[ErrorCode] | undefined>)[code];
  const spec = known ?? ERROR_TABLE[50000];
  return {
    code: known ? code : 50000,
    type: spec.type,
    msg: lang === 'en' ? spec.en : spec.zh,
    action: lang === 'en' ? spec.actionEn : spec.actionZh,
    retryable: spec.retryable,
  };
}

/** A failure result for a code, for problems found in the browser (network down, bad input). */
export function failureOf(code: number, lang: Lang, reason?: string): Failure {
  const { msg, action } = describeError(code, lang);
  return reason === undefined ? { code, msg, action } : { code, msg, action, reason };
}

export function isSuccess<T>(result: Result<T>): result is Success<T> {
  return result.code === 0;
}
