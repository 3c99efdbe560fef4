import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_TABLE, PayError, toPayError } from '../../src/core/errors.ts';

describe('unified error table', () => {
  it('describes every code with both languages, an action, an HTTP status and retryability', () => {
    expect(ERROR_CODES).toEqual([
      40001, 40002, 40003, 40004, 40005, 40006, 40007, 40008, 40009, 40010, 50000,
    ]);
    for (const code of ERROR_CODES) {
      const spec = ERROR_TABLE[code];
      expect(spec.zh.length).toBeGreaterThan(0);
      expect(spec.en.length).toBeGreaterThan(0);
      expect(spec.actionZh.length).toBeGreaterThan(0);
      expect(spec.httpStatus).toBeGreaterThanOrEqual(400);
    }
    expect(ERROR_TABLE[40001].httpStatus).toBe(400);
    expect(ERROR_TABLE[40005].httpStatus).toBe(404);
    expect(ERROR_TABLE[40008].httpStatus).toBe(429);
    expect(ERROR_TABLE[40004].retryable).toBe(true);
    expect(ERROR_TABLE[40001].retryable).toBe(false);
  });

  it('carries the field, the gateway code and the details into the unified result', () => {
    const error = new PayError(40007, { field: 'amount', gatewayCode: 'NOTENOUGH', details: { balance: 0 } });
    expect(error.toResult('zh')).toEqual({
      code: 40007,
      msg: '余额不足，请充值',
      action: '提示用户充值',
      field: 'amount',
      gatewayCode: 'NOTENOUGH',
      details: { balance: 0 },
    });
    expect(error.toResult('en').msg).toBe('Insufficient balance');
  });

  it('hides the message of an internal error from callers', () => {
    const error = toPayError(new Error('relation "payment_orders" does not exist at 10.0.0.5'));
    expect(error.code).toBe(50000);
    expect(JSON.stringify(error.toResult())).not.toContain('payment_orders');
  });
});
