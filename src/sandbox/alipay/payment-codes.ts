/**
 * Sandbox buyers' payment codes (付款码) for alipay.trade.pay with scene=bar_code: issued through
 * the control API, 18 digits starting with 28 (Alipay's are 16 to 24 digits starting 25..30),
 * single use, and valid for a short time on the gateway's clock, as the code on a buyer's phone.
 * Each code carries how its buyer behaves. Codes are never written to the state file.
 */
import type { AlipayRuntime } from './runtime.ts';
import { randomDigits } from './runtime.ts';
import type { Buyer } from './trades.ts';
import { businessFailure } from './wire-errors.ts';

/**
 * `pay`: paid at once. `password`: the buyer must confirm (WAIT_BUYER_PAY, code 10003) until the
 * control API's pay. `never`: waits like `password`, and the buyer never confirms.
 * `insufficient`: refused, ACQ.BUYER_BALANCE_NOT_ENOUGH.
 */
export type CodeBehaviour = 'pay' | 'password' | 'never' | 'insufficient';
export const CODE_BEHAVIOURS: readonly CodeBehaviour[] = ['pay', 'password', 'never', 'insufficient'];

/** Alipay's payment-code shape: 25..30 first, 16 to 24 digits. */
export const ALIPAY_AUTH_CODE = /^(2[5-9]|30)\d{14,22}$/;
export const DEFAULT_CODE_TTL_SECONDS = 60;

export interface PaymentCode {
  behaviour: CodeBehaviour;
  buyer: Partial<Buyer>;
  expiresAt: number;
  used: boolean;
}

export class CodeRequestError extends Error {}

export class PaymentCodeBook {
  private readonly codes = new Map<string, PaymentCode>();

  constructor(private readonly runtime: AlipayRuntime) {}

  issue(input: { behaviour?: unknown; ttlSeconds?: unknown; buyer?: Partial<Buyer> }): {
    authCode: string;
    behaviour: CodeBehaviour;
    expiresAt: number;
  } {
    const behaviour = (input.behaviour ?? 'pay') as CodeBehaviour;
    if (!CODE_BEHAVIOURS.includes(behaviour))
      throw new CodeRequestError(`behaviour must be one of ${CODE_BEHAVIOURS.join('|')}`);
    const ttl = input.ttlSeconds ?? DEFAULT_CODE_TTL_SECONDS;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > 3600)
      throw new CodeRequestError('ttlSeconds must be a whole number of seconds, 1 to 3600');
    const now = this.runtime.clock.now();
    // Expired and used codes are dropped when new ones are issued: the book stays small.
    for (const [code, entry] of this.codes) if (entry.used || entry.expiresAt <= now) this.codes.delete(code);
    let authCode: string;
    do authCode = `28${randomDigits(this.runtime.random, 16)}`;
    while (this.codes.has(authCode));
    const expiresAt = now + ttl * 1000;
    this.codes.set(authCode, { behaviour, buyer: input.buyer ?? {}, expiresAt, used: false });
    return { authCode, behaviour, expiresAt };
  }

  /** Presents a code at the gateway: it is spent whatever the payment's outcome. */
  take(authCode: string): PaymentCode {
    const entry = ALIPAY_AUTH_CODE.test(authCode) ? this.codes.get(authCode) : undefined;
    if (!entry || entry.used || entry.expiresAt <= this.runtime.clock.now()) {
      throw businessFailure(
        'ACQ.PAYMENT_AUTH_CODE_INVALID',
        '支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款',
      );
    }
    entry.used = true;
    return entry;
  }
}
