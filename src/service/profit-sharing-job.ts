/** The profit-sharing job: splits and returns awaiting the gateway, and the rules' splits of paid orders. */
import { sql } from 'kysely';
import { isPayError } from '../core/errors.ts';
import { ruleAmounts, splittableFen } from '../core/profit-sharing-states.ts';
import { findOrder } from '../store/orders.ts';
import { returnsDue, splitLedger, splitsDue } from '../store/profit-sharing.ts';
import type { ServiceContext } from './context.ts';
import { profitSharingSettingsOf } from './profit-sharing.ts';
import { queryReturn, querySplit, splitOrder, unfreezeOrder } from './profit-sharing-flow.ts';
import { ruleSplitNo } from './profit-sharing-settings.ts';

export interface SplitSyncReport {
  checked: number;
  settled: number;
  failed: number;
  /** Splits made by the rules of order types. */
  ruled: number;
}

/**
 * One pass of the split job: claims the splits and returns whose check is due, oldest due first
 * (FOR UPDATE SKIP LOCKED, moving each one's next check along the backoff in the same statement so
 * a stuck one goes to the back), asks the gateway about each, and makes the rules' splits of paid
 * orders that are due for them.
 */
export async function syncProfitSharing(context: ServiceContext): Promise<SplitSyncReport> {
  const { sync } = profitSharingSettingsOf(context);
  const report: SplitSyncReport = { checked: 0, settled: 0, failed: 0, ruled: 0 };
  const providers = [...context.providers.values()].filter((p) => p.profitSharing).map((p) => p.name);
  if (providers.length === 0) return report;
  const now = context.now();
  const splits = await splitsDue(
    context.store.db,
    now,
    providers,
    sync.batchSize,
    sync.minGapMs,
    sync.maxGapMs,
  );
  const returns = await returnsDue(context.store.db, now, sync.batchSize, sync.minGapMs, sync.maxGapMs);
  const work: Array<() => Promise<void>> = [
    ...splits.map((due) => async () => {
      report.checked += 1;
      const queried = await querySplit(context, due.merchant_id, due.out_split_no);
      if (!queried.fresh) report.failed += 1;
      else if (queried.split.status === 'FINISHED' || queried.split.status === 'FAILED') report.settled += 1;
    }),
    ...returns.map((due) => async () => {
      report.checked += 1;
      const queried = await queryReturn(context, due.merchant_id, due.out_return_no);
      if (!queried.fresh) report.failed += 1;
      else if (queried.ret.status === 'SUCCESS' || queried.ret.status === 'FAILED') report.settled += 1;
    }),
    ...(await ruleSplitsDue(context, providers)).map((order) => async () => {
      const made = await splitByRule(context, order);
      if (made) report.ruled += 1;
    }),
  ];
  let next = 0;
  const worker = async () => {
    while (next < work.length) {
      const item = work[next++]!;
      try {
        await item();
      } catch (error) {
        report.failed += 1;
        context.logger.warn({ code: isPayError(error) ? error.code : 50000 }, 'profit sharing sync failed');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(sync.concurrency, work.length) }, worker));
  return report;
}

interface RuleCandidate {
  id: number;
  merchant_id: string;
  out_trade_no: string;
  type: string;
  total_fee: number;
}

/** Paid orders of a type with a rule, past the rule's delay, that no split touched yet: oldest first. */
async function ruleSplitsDue(
  context: ServiceContext,
  providers: readonly string[],
): Promise<RuleCandidate[]> {
  const { rules, sync } = profitSharingSettingsOf(context);
  const found: RuleCandidate[] = [];
  for (const [type, rule] of Object.entries(rules)) {
    const paidBefore = new Date(context.now().getTime() - rule.delayMs);
    const { rows } = await sql<RuleCandidate>`
      select o.id, o.merchant_id, o.out_trade_no, o.type, o.total_fee from payment_orders o
      where o.type = ${type} and o.profit_sharing and o.status in ('SUCCESS', 'PARTIAL_REFUNDED')
        and o.provider = any(${providers}) and o.paid_at <= ${paidBefore}
        and not exists (select 1 from payment_splits s where s.order_id = o.id)
      order by o.paid_at, o.id
      limit ${sync.batchSize}
    `.execute(context.store.db);
    found.push(...rows);
  }
  return found;
}

/**
 * The rule's split of one order, under a number derived from the order (so it is made once,
 * whichever instance or tick gets there first); amounts round down and never exceed what is
 * splittable. False when nothing is left to split.
 */
async function splitByRule(context: ServiceContext, order: RuleCandidate): Promise<boolean> {
  const rule = profitSharingSettingsOf(context).rules[order.type];
  if (!rule) return false;
  const row = await findOrder(context.store.db, order.merchant_id, order.out_trade_no);
  if (!row) return false;
  const left = splittableFen(await splitLedger(context.store.db, row));
  const amounts = ruleAmounts(rule.receivers, order.total_fee, left);
  const lines = rule.receivers
    .map((receiver, index) => ({
      type: receiver.type,
      account: receiver.account,
      amountFen: amounts[index]!,
      description: receiver.description,
    }))
    .filter((line) => line.amountFen > 0);
  const outSplitNo = ruleSplitNo(order.id);
  if (lines.length === 0) {
    if (!rule.finish) return false;
    await unfreezeOrder(context, {
      merchantId: order.merchant_id,
      outTradeNo: order.out_trade_no,
      outSplitNo,
      description: 'unfreeze',
    });
    return true;
  }
  await splitOrder(context, {
    merchantId: order.merchant_id,
    outTradeNo: order.out_trade_no,
    outSplitNo,
    lines,
    finish: rule.finish,
  });
  return true;
}
