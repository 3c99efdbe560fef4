/**
 * What a buyer can do with a waiting trade, shared by the payer pages and the control API:
 * pay, fail for lack of balance (the trade keeps waiting), or give up (the control API's shortcut:
 * the trade times out at once and closes; on the page, leaving closes nothing).
 */
import type { AlipayGateway } from './gateway.ts';
import { BUYER_FAILURES, type Buyer, type Trade } from './trades.ts';
import { AlipayGatewayError } from './wire-errors.ts';

export type BuyerAction = 'pay' | 'insufficient' | 'abandon';
export const BUYER_ACTIONS: readonly BuyerAction[] = ['pay', 'insufficient', 'abandon'];

export interface BuyerActionOptions {
  buyer?: Partial<Buyer>;
  /** insufficient only; default ACQ.BUYER_BALANCE_NOT_ENOUGH. */
  subCode?: string;
}

export function applyBuyerAction(
  gateway: AlipayGateway,
  trade: Trade,
  action: BuyerAction,
  options: BuyerActionOptions = {},
): Trade {
  if (action === 'pay') return gateway.trades.pay(trade, options.buyer);
  if (action === 'abandon') return gateway.trades.abandon(trade);
  const subCode = options.subCode ?? 'ACQ.BUYER_BALANCE_NOT_ENOUGH';
  if (!(BUYER_FAILURES as readonly string[]).includes(subCode)) {
    throw new AlipayGatewayError(
      '40004',
      'ACQ.INVALID_PARAMETER',
      `subCode must be one of ${BUYER_FAILURES.join('|')}`,
    );
  }
  return gateway.trades.failPayment(trade, subCode as (typeof BUYER_FAILURES)[number]);
}
