import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPayError } from '../../src/core/errors.ts';
import { assertFen, DEFAULT_MAX_FEN, fenToYuan, HARD_MAX_FEN, yuanToFen } from '../../src/core/money.ts';

const rejects = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(isPayError(error) && error.code === 40001).toBe(true);
    return;
  }
  throw new Error('expected a 40001 PayError');
};

describe('money', () => {
  it('converts known amounts exactly in both directions', () => {
    expect(yuanToFen('0.01')).toBe(1);
    expect(yuanToFen('88.80')).toBe(8880);
    expect(yuanToFen('88.8')).toBe(8880);
    expect(yuanToFen('100')).toBe(10000);
    expect(yuanToFen('0.1')).toBe(10);
    expect(fenToYuan(1)).toBe('0.01');
    expect(fenToYuan(8880)).toBe('88.80');
    expect(fenToYuan(10000)).toBe('100.00');
    expect(fenToYuan(0)).toBe('0.00');
  });

  it('round-trips every amount up to the hard limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: HARD_MAX_FEN }), (fen) => {
        expect(yuanToFen(fenToYuan(fen))).toBe(fen);
      }),
      { numRuns: 2000 },
    );
  });

  it('never agrees with floating-point arithmetic where floats go wrong', () => {
    // 0.07 * 100 = 7.000000000000001 and 19.99 * 100 = 1998.9999999999998 in binary floats.
    expect(yuanToFen('0.07')).toBe(7);
    expect(yuanToFen('19.99')).toBe(1999);
    expect(yuanToFen('1.005'.slice(0, 4))).toBe(100);
  });

  it('rejects yuan strings that are not exact non-negative amounts with at most two decimals', () => {
    for (const bad of [
      '',
      ' 1.00',
      '1.00 ',
      '-1.00',
      '+1',
      '1.001',
      '1e2',
      '0x10',
      '01.00',
      '1.',
      '.5',
      'NaN',
      '1,00',
      '１.00',
    ]) {
      rejects(() => yuanToFen(bad));
    }
    rejects(() => yuanToFen(1 as unknown as string));
  });

  it('rejects yuan amounts past the limit', () => {
    rejects(() => yuanToFen('21474836.48'));
    rejects(() => yuanToFen('100.01', 'total_amount', 10000));
    rejects(() => yuanToFen('99999999999999999999.00'));
  });

  it('accepts only positive integer fen within the configured limit', () => {
    expect(assertFen(1)).toBe(1);
    expect(assertFen(DEFAULT_MAX_FEN)).toBe(DEFAULT_MAX_FEN);
    for (const bad of [
      0,
      -1,
      1.5,
      0.01,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      DEFAULT_MAX_FEN + 1,
      '100',
      null,
      undefined,
    ]) {
      rejects(() => assertFen(bad));
    }
    expect(assertFen(5000, 'total_fee', 5000)).toBe(5000);
    rejects(() => assertFen(5001, 'total_fee', 5000));
  });

  it('rejects any fractional fen', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }).filter((x) => !Number.isInteger(x)),
        (x) => {
          rejects(() => assertFen(x));
        },
      ),
    );
  });
});
