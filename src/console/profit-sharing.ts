/**
 * An order's profit sharing as the console shows it: what may still be split (the service's own
 * rule, from its ledger), every split with its lines, and every return. Receiver accounts and
 * amounts only, never a receiver's name; the gateway is not asked (the page reads what is stored).
 */

import type { ServiceContext } from '../service/context.ts';
import { type ReturnView, type SplitView, splittingFinished } from '../service/profit-sharing.ts';
import type { OrderSplits } from '../service/profit-sharing-flow.ts';
import { orderSplits } from '../service/profit-sharing-flow.ts';
import type { ConsoleOrderDetail } from './timeline.ts';

export interface ConsoleProfitSharing {
  /** The order was created for splitting (its funds frozen at the gateway). */
  createdForSplitting: boolean;
  /** amount − refunded − split + returned, fen. */
  splittableFen: number;
  /** An unfreeze or a split with finish was made: no further split (what was left is the merchant's). */
  splittingFinished: boolean;
  splits: SplitView[];
  returns: ReturnView[];
}

/**
 * The order's profit sharing, or null when it was neither created for splitting nor split. The
 * order comes from the console's own scoped read (orderTimeline), so another merchant's is never here.
 */
export async function orderProfitSharing(
  context: ServiceContext,
  order: Pick<ConsoleOrderDetail, 'merchantId' | 'outTradeNo' | 'profitSharing'>,
): Promise<ConsoleProfitSharing | null> {
  const found: OrderSplits = await orderSplits(context, order.merchantId, order.outTradeNo, false);
  if (!order.profitSharing && found.splits.length === 0 && found.returns.length === 0) return null;
  return {
    createdForSplitting: order.profitSharing,
    splittableFen: found.splittableFen,
    splittingFinished: splittingFinished(found.splits),
    splits: found.splits,
    returns: found.returns,
  };
}
