/** Every WeChat Pay APIv3 error code, in both spellings, lands on its unified code (protocols.md E). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src/core/errors.ts';
import {
  canonicalWxpayCode,
  gatewayError,
  isRetryableFailure,
  LEGACY_SPELLINGS,
  unifiedCodeFor,
  WXPAY_ERROR_CODES,
} from '../../../src/providers/wxpay/errors.ts';

/** The table of part E, written out independently of the source table. */
const EXPECTED: Array<[string, number, number]> = [
  ['PARAM_ERROR', 400, 40001],
  ['INVALID_REQUEST', 400, 40001],
  ['APPID_MCHID_NOT_MATCH', 400, 40001],
  ['MCH_NOT_EXISTS', 400, 40001],
  ['OUT_TRADE_NO_USED', 403, 40001],
  ['OPENID_MISMATCH', 500, 40001],
  ['INVALID_TRANSACTIONID', 500, 40001],
  ['SIGN_ERROR', 401, 40002],
  ['ORDER_NOT_EXIST', 404, 40005],
  ['ORDERNOTEXIST', 404, 40005],
  ['RESOURCE_NOT_EXISTS', 404, 40005],
  ['ORDERPAID', 403, 40006],
  ['ORDER_PAID', 400, 40006],
  ['NOT_ENOUGH', 403, 40007],
  ['NOTENOUGH', 403, 40007],
  ['FREQUENCY_LIMITED', 429, 40008],
  ['RATE_LIMITED', 429, 40008],
  ['RULE_LIMIT', 403, 40008],
  ['RULELIMIT', 403, 40008],
  ['NO_AUTH', 403, 40009],
  ['NOAUTH', 403, 40009],
  ['SYSTEM_ERROR', 500, 40010],
  ['SYSTEMERROR', 500, 40010],
  ['BANK_ERROR', 500, 40010],
  ['BANKERROR', 500, 40010],
  ['SERVICE_UNAVAILABLE', 502, 40010],
  ['ORDER_CLOSED', 400, 50000],
  ['TRADE_ERROR', 403, 50000],
  ['ACCOUNT_ERROR', 403, 50000],
  ['ACCOUNTERROR', 403, 50000],
];

describe('wxpay error mapping', () => {
  it.each(EXPECTED)('%s (HTTP %i) maps to %i', (code, status, unified) => {
    expect(unifiedCodeFor(code, status)).toBe(unified);
    const error = gatewayError(
      status,
      { code, message: 'm' },
      { api: 'test', requestId: 'r1', write: false },
    );
    expect(error.code).toBe(unified);
    expect(error.gatewayCode).toBe(code);
    expect(error.details).toMatchObject({
      provider: 'wxpay',
      httpStatus: status,
      rawMessage: 'm',
      requestId: 'r1',
    });
  });

  it('maps every code of the source table in its underscored and its underscore-free spelling alike', () => {
    for (const [code, unified] of Object.entries(WXPAY_ERROR_CODES)) {
      expect(ERROR_CODES).toContain(unified);
      expect(unifiedCodeFor(code, 418)).toBe(unified);
      expect(unifiedCodeFor(code.replace(/_/g, ''), 418)).toBe(unified);
      expect(canonicalWxpayCode(code.replace(/_/g, '').toLowerCase())).toBe(code);
    }
    for (const [legacy, canonical] of Object.entries(LEGACY_SPELLINGS)) {
      expect(unifiedCodeFor(legacy, 418)).toBe(WXPAY_ERROR_CODES[canonical]);
    }
  });

  it('falls back to the HTTP status when the code is missing or unknown', () => {
    expect(unifiedCodeFor(undefined, 400)).toBe(40001);
    expect(unifiedCodeFor('WHAT_IS_THIS', 401)).toBe(40002);
    expect(unifiedCodeFor(null, 404)).toBe(40005);
    expect(unifiedCodeFor(null, 429)).toBe(40008);
    expect(unifiedCodeFor(null, 502)).toBe(40010);
    expect(unifiedCodeFor(null, 503)).toBe(40010);
    expect(unifiedCodeFor('SOMETHING_NEW', 403)).toBe(50000);
    const proxy = gatewayError(502, null, { api: 'query', requestId: null, write: false });
    expect(proxy.gatewayCode).toBe('HTTP_502');
  });

  it('keeps unknown codes inside the unified table whatever the status (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 100, max: 599 }), (code, status) => {
        expect(ERROR_CODES).toContain(unifiedCodeFor(code, status));
      }),
    );
  });

  it('retries 5xx, 429 and SYSTEM_ERROR, not business refusals', () => {
    expect(isRetryableFailure('SYSTEM_ERROR', 500)).toBe(true);
    expect(isRetryableFailure('SYSTEMERROR', 200)).toBe(true);
    expect(isRetryableFailure(undefined, 503)).toBe(true);
    expect(isRetryableFailure('FREQUENCY_LIMITED', 429)).toBe(true);
    expect(isRetryableFailure('RULE_LIMIT', 403)).toBe(false);
    expect(isRetryableFailure('NOTENOUGH', 403)).toBe(false);
    expect(isRetryableFailure('PARAM_ERROR', 400)).toBe(false);
  });

  it('marks a 5xx write as outcome unknown, and never a read', () => {
    expect(
      gatewayError(500, { code: 'SYSTEM_ERROR' }, { api: 'refund', requestId: null, write: true })
        .outcomeUnknown,
    ).toBe(true);
    expect(
      gatewayError(500, { code: 'SYSTEM_ERROR' }, { api: 'query', requestId: null, write: false })
        .outcomeUnknown,
    ).toBe(false);
    expect(
      gatewayError(400, { code: 'PARAM_ERROR' }, { api: 'refund', requestId: null, write: true })
        .outcomeUnknown,
    ).toBe(false);
  });
});
