/**
 * Alipay's sandbox payment codes for alipay.trade.pay (bar_code): 18 digits starting with 28
 * (Alipay's are 16 to 24 digits starting 25..30). Every refusal is ACQ.PAYMENT_AUTH_CODE_INVALID.
 */
import { type PaymentCode, PaymentCodeBook } from '../shared/payment-codes.ts';
import type { AlipayRuntime } from './runtime.ts';
import { randomDigits } from './runtime.ts';
import type { Buyer } from './trades.ts';
import { businessFailure } from './wire-errors.ts';

export { CodeRequestError } from '../shared/payment-codes.ts';

export class AlipayPaymentCodes extends PaymentCodeBook<Partial<Buyer>> {
  constructor(runtime: AlipayRuntime) {
    super(
      { prefix: '28', length: 18, pattern: /^(2[5-9]|30)\d{14,22}$/ },
      () => runtime.clock.now(),
      (count) => randomDigits(runtime.random, count),
    );
  }

  /** The code's buyer, or the gateway's refusal. */
  spend(authCode: string): PaymentCode<Partial<Buyer>> {
    const taken = this.take(authCode);
    if ('refused' in taken) {
      throw businessFailure(
        'ACQ.PAYMENT_AUTH_CODE_INVALID',
        '支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款',
      );
    }
    return taken.code;
  }
}
