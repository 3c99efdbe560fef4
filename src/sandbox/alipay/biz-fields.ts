/**
 * Reading biz_content fields: required strings, yuan amounts converted exactly to fen, and the
 * trade identifiers. Every problem is 40004 ACQ.INVALID_PARAMETER naming the field.
 */
import { PayError } from '../../core/errors.ts';
import { yuanToFen } from '../../core/money.ts';
import { invalidParameter } from './wire-errors.ts';

export type Biz = Record<string, unknown>;

/** Alipay accepts [0.01, 100000000] yuan. */
const MAX_ALIPAY_FEN = 10_000_000_000;

export function optionalString(biz: Biz, field: string, maxLength = 256): string | undefined {
  const value = biz[field];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalidParameter(field, '应为字符串');
  if (value.length > maxLength) throw invalidParameter(field, `长度不能超过${maxLength}`);
  return value;
}

export function requiredString(biz: Biz, field: string, maxLength = 256): string {
  const value = optionalString(biz, field, maxLength);
  if (value === undefined) throw invalidParameter(field, '不能为空');
  return value;
}

export function requiredFen(biz: Biz, field: string): number {
  const value = biz[field];
  // Some clients send numbers; Alipay documents a string but accepts both.
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || text === '') throw invalidParameter(field, '不能为空');
  let fen: number;
  try {
    fen = yuanToFen(text, field, MAX_ALIPAY_FEN);
  } catch (error) {
    if (error instanceof PayError) throw invalidParameter(field, error.message);
    throw error;
  }
  if (fen < 1) throw invalidParameter(field, '金额应在0.01到100000000之间');
  return fen;
}

export interface TradeIds {
  outTradeNo?: string;
  tradeNo?: string;
}

export function tradeIds(biz: Biz): TradeIds {
  const outTradeNo = optionalString(biz, 'out_trade_no', 64);
  const tradeNo = optionalString(biz, 'trade_no', 64);
  if (!outTradeNo && !tradeNo) throw invalidParameter('out_trade_no', '和trade_no不能同时为空');
  return { ...(outTradeNo ? { outTradeNo } : {}), ...(tradeNo ? { tradeNo } : {}) };
}
