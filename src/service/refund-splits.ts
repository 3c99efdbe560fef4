/**
 * Refunds of an order that was split: a refund may take only what the order still holds unsplit.
 * Where the gateway returns splits with a refund (Alipay), the rest is taken back from the latest
 * splits' paid lines, recorded as returns that ride on the refund and settle with it; where it does
 * not (WeChat), the refund is refused until the splits are returned.
 */
import type { Transaction } from 'kysely';
import { PayError } from '../core/errors.ts';
import {
  type PlannedReturn,
  planSplitReturns,
  type ReturnableLine,
  refundShortfallFen,
  splittableFen,
} from '../core/profit-sharing-states.ts';
import type { RefundStatus } from '../core/states.ts';
import type { RefundSplitReturn, SplitReceiverType } from '../providers/profit-sharing.ts';
import {
  insertReturn,
  orderSplitLines,
  RETURN_HOLDING,
  returnsOfOrder,
  returnsOfRefund,
  splitLedger,
} from '../store/profit-sharing.ts';
import type { Database, OrderRow, RefundRow } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';
import { moveReturn } from './profit-sharing.ts';

/**
 * Under the order's lock, before a refund of `refundFen` is reserved: the returns it must carry
 * (none when it fits in what is unsplit), or a refusal that changes nothing.
 */
export async function refundSplitPlan(
  context: ServiceContext,
  tx: Transaction<Database>,
  order: OrderRow,
  refundFen: number,
): Promise<PlannedReturn[]> {
  if (!order.profit_sharing) return [];
  const ledger = await splitLedger(tx, order);
  const shortFen = refundShortfallFen(ledger, refundFen);
  if (shortFen === 0) return [];
  const operations = context.providers.get(order.provider)?.profitSharing;
  const unsplit = splittableFen(ledger);
  if (!operations?.returnsWithRefund)
    throw new PayError(40001, {
      field: 'refund_fee',
      message: `refund_fee ${refundFen} exceeds the ${unsplit} fen this order holds unsplit; return ${shortFen} fen of its splits first (POST /api/profit-sharing/returns), then refund`,
      details: { unsplitFen: unsplit, returnFirstFen: shortFen },
      text: {
        zh: '订单已分账，可退金额不足',
        en: 'The order was split: not enough is left to refund',
        actionZh: `先回退分账 ${shortFen} 分，再退款`,
        actionEn: `Return ${shortFen} fen of the splits first, then refund`,
      },
    });
  const given = new Map<string, number>();
  for (const ret of await returnsOfOrder(tx, order.id))
    if (RETURN_HOLDING.includes(ret.status)) {
      const key = `${ret.split_ref}/${ret.receiver_type}/${ret.receiver_account}`;
      given.set(key, (given.get(key) ?? 0) + ret.amount);
    }
  // Newest split first; each receiver's paid lines of a split taken together.
  const lines: ReturnableLine[] = [];
  for (const line of await orderSplitLines(tx, order.id)) {
    if (line.result !== 'SUCCESS') continue;
    const key = `${line.split_ref}/${line.type}/${line.receiver_account}`;
    const returned = Math.min(given.get(key) ?? 0, line.amount);
    given.set(key, (given.get(key) ?? 0) - returned);
    lines.push({
      splitRef: line.split_ref,
      type: line.type,
      account: line.receiver_account,
      amountFen: line.amount,
      returnedFen: returned,
    });
  }
  const plan = planSplitReturns(lines, shortFen);
  if (!plan)
    throw new PayError(40001, {
      field: 'refund_fee',
      message: `refund_fee ${refundFen} exceeds what is unsplit (${unsplit} fen) and what the paid splits can give back; wait for the splits in progress to finish`,
      details: { unsplitFen: unsplit, returnFirstFen: shortFen },
    });
  return plan;
}

/** Records the planned returns of a reserved refund, in its transaction. */
export async function recordRefundReturns(
  context: ServiceContext,
  tx: Transaction<Database>,
  refund: RefundRow,
  plan: readonly PlannedReturn[],
): Promise<void> {
  if (plan.length === 0) return;
  const before = (await returnsOfRefund(tx, refund.id)).length;
  const now = context.now();
  for (const [index, planned] of plan.entries())
    await insertReturn(tx, {
      merchant_id: refund.merchant_id,
      order_id: refund.order_id,
      split_ref: planned.splitRef,
      out_return_no: `${refund.out_refund_no}R${before + index + 1}`,
      receiver_type: planned.type,
      receiver_account: planned.account,
      amount: planned.amountFen,
      description: 'refund',
      status: 'PROCESSING',
      refund_ref: refund.id,
      create_date: now,
      update_date: now,
    });
}

/** The splits a refund takes back, for the gateway's request (Alipay refund_royalty_parameters). */
export async function splitReturnsOfRefund(
  context: ServiceContext,
  refundId: number,
): Promise<RefundSplitReturn[]> {
  return (await returnsOfRefund(context.store.db, refundId))
    .filter((ret) => ret.status === 'PROCESSING' || ret.status === 'UNKNOWN')
    .map((ret) => ({
      type: ret.receiver_type as SplitReceiverType,
      account: ret.receiver_account,
      amountFen: ret.amount,
    }));
}

/** The returns riding on a refund settle with it: SUCCESS with its success, FAILED with its end otherwise. */
export async function settleRefundReturns(
  context: ServiceContext,
  tx: Transaction<Database>,
  refund: RefundRow,
  order: OrderRow,
): Promise<void> {
  const status: RefundStatus = refund.status;
  const to = status === 'SUCCESS' ? 'SUCCESS' : status === 'REFUSED' || status === 'CLOSED' ? 'FAILED' : null;
  if (!to) return;
  for (const ret of await returnsOfRefund(tx, refund.id))
    if (ret.status === 'PROCESSING' || ret.status === 'UNKNOWN')
      await moveReturn(context, tx, ret, order, {
        status: to,
        failReason: to === 'FAILED' ? `refund ${status}` : null,
      });
}
