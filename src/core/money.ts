/**
 * Money is an integer number of fen inside VK-Pay. Alipay speaks yuan strings ("0.01", "88.80");
 * they are converted here, exactly, by string arithmetic, never through floating point.
 */
import { PayError } from './errors.ts';

export type Fen = number;

/** The largest amount a single order may carry unless configured otherwise: 10,000 yuan. */
export const DEFAULT_MAX_FEN = 1_000_000;
/** Amounts are stored as PostgreSQL integer and WeChat's `amount.total` is an int32. */
export const HARD_MAX_FEN = 2_147_483_647;

/** Why a value is not a valid amount, or null when it is one. */
export function fenProblem(value: unknown, maxFen: Fen = DEFAULT_MAX_FEN): string | null {
  if (typeof value !== 'number' || Number.isNaN(value)) return 'must be an integer number of fen';
  if (!Number.isInteger(value)) return 'must be an integer number of fen (100 = 1 yuan), not a fraction';
  if (value < 1) return 'must be at least 1 fen';
  if (value > maxFen) return `must not exceed ${maxFen} fen`;
  return null;
}

/** Returns the amount if it is a valid positive integer of fen within the limit, or throws 40001. */
export function assertFen(value: unknown, field = 'total_fee', maxFen: Fen = DEFAULT_MAX_FEN): Fen {
  const problem = fenProblem(value, maxFen);
  if (problem !== null) throw new PayError(40001, { field, message: `${field} ${problem}` });
  return value as Fen;
}

const YUAN_PATTERN = /^(0|[1-9][0-9]*)(?:\.([0-9]{1,2}))?$/;

/** "88.80" -> 8880. Rejects signs, exponents, spaces, more than two decimals and past-limit amounts. */
export function yuanToFen(yuan: string, field = 'total_amount', maxFen: Fen = HARD_MAX_FEN): Fen {
  if (typeof yuan !== 'string') {
    throw new PayError(40001, { field, message: `${field} must be a yuan string such as "0.01"` });
  }
  const match = YUAN_PATTERN.exec(yuan);
  if (match === null) {
    throw new PayError(40001, {
      field,
      message: `${field} must be a yuan amount with at most two decimals, got ${JSON.stringify(yuan.slice(0, 32))}`,
    });
  }
  const whole = match[1]!;
  const fraction = (match[2] ?? '').padEnd(2, '0');
  if (whole.length > 10)
    throw new PayError(40001, { field, message: `${field} must not exceed ${maxFen} fen` });
  const fen = Number(whole) * 100 + Number(fraction);
  if (fen > maxFen) throw new PayError(40001, { field, message: `${field} must not exceed ${maxFen} fen` });
  return fen;
}

/** 8880 -> "88.80", always two decimals, as Alipay expects. */
export function fenToYuan(fen: Fen): string {
  if (!Number.isSafeInteger(fen) || fen < 0) {
    throw new PayError(40001, {
      field: 'amount',
      message: `amount must be a non-negative integer of fen, got ${fen}`,
    });
  }
  const whole = Math.floor(fen / 100);
  const cents = fen % 100;
  return `${whole}.${cents < 10 ? '0' : ''}${cents}`;
}
