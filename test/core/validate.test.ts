import { describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import { DEFAULT_RULES, validatePaymentInput, validateRefundInput } from '../../src/core/validate.ts';

const good = {
  out_trade_no: 'ORDER_2026-0001',
  total_fee: 100,
  subject: 'VIP 月卡',
  type: 'vip',
  provider: 'wxpay',
  scene: 'native',
  custom: { sku: 'vip-month' },
};

function problemsOf(input: Record<string, unknown>, rules = DEFAULT_RULES): string[] {
  try {
    validatePaymentInput(input, rules);
  } catch (error) {
    expect(error).toBeInstanceOf(PayError);
    expect((error as PayError).code).toBe(40001);
    return ((error as PayError).details as { problems: { field: string }[] }).problems.map((p) => p.field);
  }
  return [];
}

describe('payment parameter validation', () => {
  it('returns typed parameters for a good request', () => {
    expect(validatePaymentInput(good)).toMatchObject({
      outTradeNo: 'ORDER_2026-0001',
      totalFen: 100,
      type: 'vip',
    });
  });

  it('reports every problem at once', () => {
    expect(
      problemsOf({
        out_trade_no: 'abc',
        total_fee: 1.5,
        subject: 'x',
        type: 'toys',
        provider: 'paypal',
        scene: 'tv',
        custom: [1],
      }),
    ).toEqual(['out_trade_no', 'total_fee', 'subject', 'type', 'provider', 'scene', 'custom']);
  });

  it("takes the buyer's payment code with the micropay scene only", () => {
    const counter = { ...good, scene: 'micropay' };
    expect(validatePaymentInput({ ...counter, auth_code: '134567890123456789' }).authCode).toBe(
      '134567890123456789',
    );
    expect(validatePaymentInput(good).authCode).toBeNull();
    expect(problemsOf(counter)).toEqual(['auth_code']);
    for (const auth_code of [
      '13456789012345678x',
      '123',
      1345678901234567,
      '1'.repeat(33),
      '１３４５６７８９０１２',
    ]) {
      expect(problemsOf({ ...counter, auth_code })).toEqual(['auth_code']);
    }
    expect(problemsOf({ ...good, auth_code: '134567890123456789' })).toEqual(['auth_code']);
  });

  it('checks out_trade_no length and alphabet', () => {
    expect(problemsOf({ ...good, out_trade_no: 'A*-_09' })).toEqual([]);
    expect(problemsOf({ ...good, out_trade_no: 'x'.repeat(32) })).toEqual([]);
    expect(problemsOf({ ...good, out_trade_no: 'x'.repeat(33) })).toEqual(['out_trade_no']);
    expect(problemsOf({ ...good, out_trade_no: 'ORDER 001' })).toEqual(['out_trade_no']);
    expect(problemsOf({ ...good, out_trade_no: '订单号123456' })).toEqual(['out_trade_no']);
  });

  it('checks the amount against the configured limit', () => {
    expect(problemsOf({ ...good, total_fee: 1_000_000 })).toEqual([]);
    expect(problemsOf({ ...good, total_fee: 1_000_001 })).toEqual(['total_fee']);
    expect(problemsOf({ ...good, total_fee: 200 }, { ...DEFAULT_RULES, maxFen: 199 })).toEqual(['total_fee']);
    expect(problemsOf({ ...good, total_fee: '100' })).toEqual(['total_fee']);
    expect(problemsOf({ ...good, total_fee: 0 })).toEqual(['total_fee']);
  });

  it('accepts a type the merchant registered and bounds custom data', () => {
    expect(problemsOf({ ...good, type: 'course' })).toEqual(['type']);
    expect(
      problemsOf(
        { ...good, type: 'course' },
        { ...DEFAULT_RULES, orderTypes: [...DEFAULT_RULES.orderTypes, 'course'] },
      ),
    ).toEqual([]);
    expect(problemsOf({ ...good, custom: { blob: 'x'.repeat(5000) } })).toEqual(['custom']);
    expect(problemsOf({ ...good, custom: 'text' })).toEqual(['custom']);
  });

  it('checks refund requests the same way', () => {
    expect(
      validateRefundInput({ out_trade_no: 'ORDER_0001', out_refund_no: 'R1', refund_fee: 50 }),
    ).toMatchObject({
      refundFen: 50,
      reason: null,
    });
    try {
      validateRefundInput({ out_trade_no: 'x', out_refund_no: '', refund_fee: -1, reason: 5 });
      throw new Error('expected a PayError');
    } catch (error) {
      expect((error as PayError).code).toBe(40001);
      expect(
        ((error as PayError).details as { problems: { field: string }[] }).problems.map((p) => p.field),
      ).toEqual(['out_trade_no', 'out_refund_no', 'refund_fee', 'reason']);
    }
  });
});
