/**
 * Where a royalty-frozen trade's money is, in fen: still frozen (unsettled), split to receivers
 * (being paid, or received), or released to the merchant by royalty_finish. Settles take from the
 * frozen amount; a refund takes first what the merchant names back from receivers
 * (refund_royalty_parameters), then the frozen amount, then what was released, and is refused when
 * that is not enough. Kept on the trade, so the state file keeps it.
 */
import type { Trade } from './trades.ts';
import { businessFailure, invalidParameter } from './wire-errors.ts';

export interface RoyaltyReturn {
  transOutType: string;
  transOut: string;
  amountFen: number;
}

export type RoyaltyLineState = 'PROCESSING' | 'SUCCESS' | 'FAIL';

export interface RoyaltyLine {
  detailId: string;
  transInType: string;
  transIn: string;
  amountFen: number;
  desc?: string;
  state: RoyaltyLineState;
  executeAt?: number;
  errorCode?: string;
  errorDesc?: string;
}

export interface RoyaltySettle {
  outRequestNo: string;
  settleNo: string;
  tradeNo: string;
  /** The request's content: the same out_request_no with other content is refused. */
  fingerprint: string;
  finish: boolean;
  mode: 'sync' | 'async';
  notifyUrl?: string;
  createdAt: number;
  lines: RoyaltyLine[];
  notifications: Array<{ status?: number; body?: string; error?: string }>;
}

export interface RoyaltyAccount {
  frozenFen: number;
  releasedFen: number;
  /** royalty_finish was asked: what was frozen is released, and no settle is taken any more. */
  finished: boolean;
  /** What each receiver (`type:account`) holds from this trade's splits. */
  received: Record<string, number>;
  settles: RoyaltySettle[];
}

export const receiverKey = (type: string, account: string): string => `${type}:${account}`;

/** The trade's accounts; a paid trade starts with everything not refunded frozen. */
export function royaltyOf(trade: Trade): RoyaltyAccount {
  trade.royalty ??= {
    frozenFen: trade.totalFen - trade.refundedFen,
    releasedFen: 0,
    finished: false,
    received: {},
    settles: [],
  };
  return trade.royalty;
}

export function unsettledFen(trade: Trade): number {
  if (!trade.royaltyFreeze) return 0;
  if (trade.status !== 'TRADE_SUCCESS' && trade.status !== 'TRADE_FINISHED') return 0;
  return royaltyOf(trade).frozenFen;
}

/** Takes a new settle's lines from the frozen amount (and releases the rest with royalty_finish). */
export function reserveSettle(trade: Trade, settle: RoyaltySettle): void {
  const account = royaltyOf(trade);
  if (account.finished) throw businessFailure('ACQ.TRADE_SETTLE_ERROR', '分账已完结，不能再分账');
  const total = settle.lines.reduce((sum, line) => sum + line.amountFen, 0);
  if (total > account.frozenFen)
    throw businessFailure('ACQ.ALLOC_AMOUNT_VALIDATE_ERROR', '分账金额超过交易可分账金额');
  account.frozenFen -= total;
  if (settle.finish) {
    account.releasedFen += account.frozenFen;
    account.frozenFen = 0;
    account.finished = true;
  }
  account.settles.push(settle);
}

/** A line's outcome: a receiver's money, or back where the trade keeps what is not split. */
export function finishLine(
  trade: Trade,
  line: RoyaltyLine,
  outcome: { at: number; errorCode?: string; errorDesc?: string },
): void {
  const account = royaltyOf(trade);
  line.executeAt = outcome.at;
  if (outcome.errorCode === undefined) {
    line.state = 'SUCCESS';
    const key = receiverKey(line.transInType, line.transIn);
    account.received[key] = (account.received[key] ?? 0) + line.amountFen;
    return;
  }
  line.state = 'FAIL';
  line.errorCode = outcome.errorCode;
  if (outcome.errorDesc !== undefined) line.errorDesc = outcome.errorDesc;
  if (account.finished) account.releasedFen += line.amountFen;
  else account.frozenFen += line.amountFen;
}

/** Takes a refund's money from the accounts, or refuses it with nothing changed. */
export function drawRefund(trade: Trade, refundFen: number, returns: readonly RoyaltyReturn[]): void {
  const account = royaltyOf(trade);
  const asked = new Map<string, number>();
  for (const back of returns) {
    const key = receiverKey(back.transOutType, back.transOut);
    asked.set(key, (asked.get(key) ?? 0) + back.amountFen);
  }
  for (const [key, amount] of asked)
    if (amount > (account.received[key] ?? 0))
      throw invalidParameter('refund_royalty_parameters', `退分账金额超过${key.split(':')[1]}的分账所得`);
  const returned = [...asked.values()].reduce((sum, amount) => sum + amount, 0);
  if (returned > refundFen) throw invalidParameter('refund_royalty_parameters', '退分账金额超过退款金额');
  const need = refundFen - returned;
  const fromFrozen = Math.min(account.frozenFen, need);
  const fromReleased = Math.min(account.releasedFen, need - fromFrozen);
  if (fromFrozen + fromReleased < need)
    throw businessFailure(
      'ACQ.SELLER_BALANCE_NOT_ENOUGH',
      '未分账及已解冻金额不足以退款，请在refund_royalty_parameters中退回分账',
    );
  for (const [key, amount] of asked) account.received[key] = (account.received[key] ?? 0) - amount;
  account.frozenFen -= fromFrozen;
  account.releasedFen -= fromReleased;
}
