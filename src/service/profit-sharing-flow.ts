import { isPayError, PayError } from '../core/errors.ts';
import { splittableFen } from '../core/profit-sharing-states.ts';
import { DEFAULT_ACCOUNT } from '../providers/merchant-lookup.ts';
import type {
  ProfitSharingOperations,
  ReturnResult,
  SplitLine,
  SplitNotification,
  SplitResult,
} from '../providers/profit-sharing.ts';
import type { NotifyAck } from '../providers/provider.ts';
import { findOrder } from '../store/orders.ts';
import {
  findReturn,
  findSplit,
  findSplitById,
  listSplits,
  returnsOfOrder,
  splitLedger,
  splitLines,
} from '../store/profit-sharing.ts';
import type { SplitReturnRow, SplitRow } from '../store/schema.ts';
import { recordError, recordLog, type ServiceContext } from './context.ts';
import { gatewayCall, providerFor } from './gateway-call.ts';
import {
  applyReturnWord,
  applySplitWord,
  type ClaimedSplit,
  claimReturn,
  claimSplit,
  oneProblem,
  type ReturnRequestInput,
  type ReturnView,
  returnView,
  type SplitRequestInput,
  type SplitView,
  splitRequestProblems,
  splitView,
} from './profit-sharing.ts';
import { handleVerifiedNotify, type VerifiedNotifyRequest } from './verified-notify.ts';

/** The gateway's profit-sharing operations; 40009 for a gateway without them. */
export function profitSharingOperations(
  context: ServiceContext,
  providerName: string,
): ProfitSharingOperations {
  const provider = providerFor(context, providerName);
  if (!provider.profitSharing)
    throw new PayError(40009, {
      field: 'provider',
      message: `${providerName} has no profit sharing on this service`,
    });
  return provider.profitSharing;
}

/** Where the gateway sends split notifications: {publicUrl}/notify-profit-sharing/{provider}/{merchant}[/{account}]. */
export function profitSharingNotifyUrl(
  context: ServiceContext,
  provider: string,
  merchantId: string,
  account = DEFAULT_ACCOUNT,
): string {
  const base = `${context.publicUrl.replace(/\/+$/, '')}/notify-profit-sharing/${provider}/${encodeURIComponent(merchantId)}`;
  return account === DEFAULT_ACCOUNT ? base : `${base}/${encodeURIComponent(account)}`;
}

/** Refusals that are final for a split or return request: bad request, not found, no money, no permission. */
const FINAL_REFUSAL_CODES: readonly number[] = [40001, 40005, 40006, 40007, 40009];

function isFinalRefusal(error: unknown): error is PayError {
  return (
    error instanceof PayError &&
    !error.outcomeUnknown &&
    !error.retryable &&
    typeof error.gatewayCode === 'string' &&
    error.gatewayCode.length > 0 &&
    FINAL_REFUSAL_CODES.includes(error.code)
  );
}

export interface SplitOutcome {
  split: SplitView;
  created: boolean;
}

/**
 * Splits a paid order (idempotent on out_split_no): claimed within what is splittable, then sent
 * once. Answers the split as it stands; never a second gateway call for a number already asked for.
 */
export async function splitOrder(context: ServiceContext, request: SplitRequestInput): Promise<SplitOutcome> {
  const problems = splitRequestProblems(request, context.rules.maxFen);
  if (problems.length > 0) throw oneProblem(problems);
  const order = await findOrder(context.store.db, request.merchantId, request.outTradeNo);
  if (!order)
    throw new PayError(40005, { field: 'out_trade_no', message: `order ${request.outTradeNo} not found` });
  const operations = profitSharingOperations(context, order.provider);
  for (const [index, line] of request.lines.entries())
    if (!operations.receiverTypes.includes(line.type))
      throw new PayError(40001, {
        field: `receivers[${index}].type`,
        message: `${order.provider} receivers are ${operations.receiverTypes.join(' or ')}`,
      });
  const claimed = await logged(
    context,
    'profit_sharing_start',
    { merchantId: order.merchant_id, outTradeNo: order.out_trade_no },
    order.provider,
    () => claimSplit(context, { ...request, kind: 'split' }),
  );
  if (!claimed.created) return { split: claimed.split, created: false };
  return { split: await sendSplit(context, claimed), created: true };
}

/** Gives what is left unsplit back to the merchant (idempotent on out_split_no). */
export async function unfreezeOrder(
  context: ServiceContext,
  request: { merchantId: string; outTradeNo: string; outSplitNo: string; description: string },
): Promise<SplitOutcome> {
  // The split number's rules, without lines: an unfreeze has none.
  const problems = splitRequestProblems({ ...request, lines: [] }, context.rules.maxFen).filter(
    (problem) => problem.field !== 'receivers',
  );
  if (
    typeof request.description !== 'string' ||
    request.description.length === 0 ||
    request.description.length > 80
  )
    problems.push(
      new PayError(40001, { field: 'description', message: 'description must be 1 to 80 characters' }),
    );
  if (problems.length > 0) throw oneProblem(problems);
  const order = await findOrder(context.store.db, request.merchantId, request.outTradeNo);
  if (!order)
    throw new PayError(40005, { field: 'out_trade_no', message: `order ${request.outTradeNo} not found` });
  profitSharingOperations(context, order.provider);
  const claimed = await claimSplit(context, { ...request, lines: [], finish: true, kind: 'unfreeze' });
  if (!claimed.created) return { split: claimed.split, created: false };
  return { split: await sendSplit(context, claimed, request.description), created: true };
}

async function logged<T>(
  context: ServiceContext,
  type: string,
  order: { merchantId: string; outTradeNo: string },
  provider: string,
  work: () => Promise<T>,
): Promise<T> {
  // A split's rows are its order's, as a refund's are: the order's page shows them.
  const subject = { subjectKind: 'payment' as const, merchantId: order.merchantId };
  const number = order.outTradeNo;
  const started = performance.now();
  try {
    const result = await work();
    await recordLog(context, {
      ...subject,
      type,
      status: 'SUCCESS',
      outTradeNo: number,
      provider,
      responseMs: Math.round(performance.now() - started),
    });
    return result;
  } catch (error) {
    const payError = isPayError(error) ? error : new PayError(50000, { cause: error });
    await recordError(context, payError, { ...subject, outTradeNo: number, provider });
    await recordLog(context, {
      ...subject,
      type,
      status: 'ERROR',
      outTradeNo: number,
      provider,
      error: { code: payError.code, message: payError.message },
      responseMs: Math.round(performance.now() - started),
    });
    throw payError;
  }
}

/** The one request for a claimed split (or unfreeze); a lost answer leaves it UNKNOWN. */
async function sendSplit(
  context: ServiceContext,
  claimed: Pick<ClaimedSplit, 'row'>,
  description = 'unfreeze',
): Promise<SplitView> {
  const row = claimed.row;
  const operations = profitSharingOperations(context, row.provider);
  const order = (await findOrder(context.store.db, row.merchant_id, row.out_trade_no))!;
  const lines = await splitLines(context.store.db, row.id);
  let answer: SplitResult;
  try {
    answer = await gatewayCall(
      context,
      {
        type: row.kind === 'unfreeze' ? 'profit_sharing_unfreeze' : 'profit_sharing_split',
        provider: row.provider,
        merchantId: row.merchant_id,
        subjectKind: 'payment',
        outTradeNo: row.out_trade_no,
        amount: row.amount,
      },
      () =>
        row.kind === 'unfreeze'
          ? operations.unfreeze({
              merchantId: row.merchant_id,
              account: row.account,
              outTradeNo: row.out_trade_no,
              transactionId: order.transaction_id!,
              outSplitNo: row.out_split_no,
              description,
              notifyUrl: profitSharingNotifyUrl(context, row.provider, row.merchant_id, row.account),
            })
          : operations.split({
              merchantId: row.merchant_id,
              account: row.account,
              outTradeNo: row.out_trade_no,
              transactionId: order.transaction_id!,
              outSplitNo: row.out_split_no,
              lines: lines.map((line) => ({
                type: line.type as SplitLine['type'],
                account: line.receiver_account,
                amountFen: line.amount,
                description: line.description,
              })),
              finish: row.finish,
              notifyUrl: profitSharingNotifyUrl(context, row.provider, row.merchant_id, row.account),
            }),
    );
  } catch (error) {
    // Certainly refused: nothing split, the amount is free again. Anything else stays UNKNOWN.
    if (isFinalRefusal(error)) {
      const applied = await applySplitWord(context, {
        merchantId: row.merchant_id,
        provider: row.provider,
        outSplitNo: row.out_split_no,
        splitId: null,
        status: 'FAILED',
        lines: [],
        failReason: error.gatewayCode ?? String(error.code),
      });
      return applied.split;
    }
    context.logger.warn(
      { outSplitNo: row.out_split_no, code: isPayError(error) ? error.code : 50000 },
      'split request without a usable answer; left UNKNOWN for a query',
    );
    return storedSplit(context, row.merchant_id, row.out_split_no);
  }
  return (await applySplitWord(context, { ...answer, merchantId: row.merchant_id })).split;
}

async function storedSplit(
  context: ServiceContext,
  merchantId: string,
  outSplitNo: string,
): Promise<SplitView> {
  const row = await findSplit(context.store.db, merchantId, outSplitNo);
  if (!row) throw new PayError(40005, { field: 'out_split_no', message: `split ${outSplitNo} not found` });
  return splitView(row, await splitLines(context.store.db, row.id));
}

export interface QueriedSplit {
  split: SplitView;
  /** False: the gateway could not be asked just now; this is the state last known here. */
  fresh: boolean;
}

/**
 * The split. One awaiting the gateway is asked about by its number and the answer applied; an
 * UNKNOWN one the gateway never received is sent again with the same number.
 */
export async function querySplit(
  context: ServiceContext,
  merchantId: string,
  outSplitNo: string,
): Promise<QueriedSplit> {
  const row = await findSplit(context.store.db, merchantId, outSplitNo);
  if (!row) throw new PayError(40005, { field: 'out_split_no', message: `split ${outSplitNo} not found` });
  if (row.status !== 'UNKNOWN' && row.status !== 'PROCESSING')
    return { split: splitView(row, await splitLines(context.store.db, row.id)), fresh: true };
  try {
    return { split: await askAboutSplit(context, row), fresh: true };
  } catch (error) {
    if (!(error instanceof PayError) || !(error.retryable || error.outcomeUnknown)) throw error;
    return { split: await storedSplit(context, merchantId, outSplitNo), fresh: false };
  }
}

async function askAboutSplit(context: ServiceContext, row: SplitRow): Promise<SplitView> {
  const operations = profitSharingOperations(context, row.provider);
  const order = (await findOrder(context.store.db, row.merchant_id, row.out_trade_no))!;
  let answer: SplitResult;
  try {
    answer = await gatewayCall(
      context,
      {
        type: 'profit_sharing_query',
        provider: row.provider,
        merchantId: row.merchant_id,
        subjectKind: 'payment',
        outTradeNo: row.out_trade_no,
      },
      () =>
        operations.querySplit({
          merchantId: row.merchant_id,
          account: row.account,
          outTradeNo: row.out_trade_no,
          transactionId: order.transaction_id!,
          outSplitNo: row.out_split_no,
        }),
    );
  } catch (error) {
    // The split is ours, so a 40005 is the gateway's: it never received the request.
    if (error instanceof PayError && error.code === 40005 && row.status === 'UNKNOWN') {
      // Of several queries finding nothing at once, one sends again (the same number either way).
      const claimed = await context.store.db
        .updateTable('payment_splits')
        .set({ version: row.version + 1, update_date: context.now() })
        .where('id', '=', row.id)
        .where('status', '=', 'UNKNOWN')
        .where('version', '=', row.version)
        .returningAll()
        .executeTakeFirst();
      if (!claimed) return storedSplit(context, row.merchant_id, row.out_split_no);
      context.logger.info({ outSplitNo: row.out_split_no }, 'split unknown at the gateway: sent again');
      return sendSplit(context, { row: claimed });
    }
    throw error;
  }
  return (await applySplitWord(context, { ...answer, merchantId: row.merchant_id })).split;
}

export interface ReturnOutcome {
  ret: ReturnView;
  created: boolean;
}

/** Takes (part of) a split back from a receiver (WeChat return-orders), idempotent on out_return_no. */
export async function returnSplit(
  context: ServiceContext,
  request: ReturnRequestInput,
): Promise<ReturnOutcome> {
  const split = await findSplit(context.store.db, request.merchantId, request.outSplitNo);
  if (!split)
    throw new PayError(40005, { field: 'out_split_no', message: `split ${request.outSplitNo} not found` });
  const operations = profitSharingOperations(context, split.provider);
  if (!operations.returnSplit)
    throw new PayError(40009, {
      field: 'provider',
      message: `${split.provider} takes splits back only with a refund: refund the order and the split is returned with it`,
    });
  const claimed = await logged(
    context,
    'profit_sharing_return_start',
    { merchantId: split.merchant_id, outTradeNo: split.out_trade_no },
    split.provider,
    () => claimReturn(context, request),
  );
  if (!claimed.created) return { ret: returnView(claimed.row, claimed.split.out_split_no), created: false };
  return { ret: await sendReturn(context, claimed.row, claimed.split), created: true };
}

async function sendReturn(
  context: ServiceContext,
  row: SplitReturnRow,
  split: SplitRow,
): Promise<ReturnView> {
  const operations = profitSharingOperations(context, split.provider);
  let answer: ReturnResult;
  try {
    answer = await gatewayCall(
      context,
      {
        type: 'profit_sharing_return',
        provider: split.provider,
        merchantId: split.merchant_id,
        subjectKind: 'payment',
        outTradeNo: split.out_trade_no,
        amount: row.amount,
      },
      () =>
        operations.returnSplit!({
          merchantId: row.merchant_id,
          account: split.account,
          outSplitNo: split.out_split_no,
          splitId: split.split_id,
          outReturnNo: row.out_return_no,
          receiverAccount: row.receiver_account,
          amountFen: row.amount,
          description: row.description,
        }),
    );
  } catch (error) {
    if (isFinalRefusal(error))
      return (
        await applyReturnWord(context, {
          merchantId: row.merchant_id,
          outReturnNo: row.out_return_no,
          status: 'FAILED',
          failReason: error.gatewayCode ?? String(error.code),
        })
      ).ret;
    context.logger.warn(
      { outReturnNo: row.out_return_no, code: isPayError(error) ? error.code : 50000 },
      'return request without a usable answer; left UNKNOWN for a query',
    );
    return returnView(
      (await findReturn(context.store.db, row.merchant_id, row.out_return_no))!,
      split.out_split_no,
    );
  }
  return (
    await applyReturnWord(context, { ...answer, merchantId: row.merchant_id, outReturnNo: row.out_return_no })
  ).ret;
}

/** The return; one awaiting the gateway is asked about (and sent again if the gateway never got it). */
export async function queryReturn(
  context: ServiceContext,
  merchantId: string,
  outReturnNo: string,
): Promise<{ ret: ReturnView; fresh: boolean }> {
  const row = await findReturn(context.store.db, merchantId, outReturnNo);
  if (!row) throw new PayError(40005, { field: 'out_return_no', message: `return ${outReturnNo} not found` });
  const split = (await findSplitById(context.store.db, row.split_ref))!;
  if ((row.status !== 'UNKNOWN' && row.status !== 'PROCESSING') || row.refund_ref !== null)
    return { ret: returnView(row, split.out_split_no), fresh: true };
  const operations = profitSharingOperations(context, split.provider);
  if (!operations.queryReturn) return { ret: returnView(row, split.out_split_no), fresh: false };
  const query = operations.queryReturn;
  try {
    const answer = await gatewayCall(
      context,
      {
        type: 'profit_sharing_return_query',
        provider: split.provider,
        merchantId: split.merchant_id,
        subjectKind: 'payment',
        outTradeNo: split.out_trade_no,
      },
      () => query({ merchantId, account: split.account, outSplitNo: split.out_split_no, outReturnNo }),
    );
    return { ret: (await applyReturnWord(context, { ...answer, merchantId, outReturnNo })).ret, fresh: true };
  } catch (error) {
    if (error instanceof PayError && error.code === 40005 && row.status === 'UNKNOWN') {
      const claimed = await context.store.db
        .updateTable('payment_split_returns')
        .set({ version: row.version + 1, update_date: context.now() })
        .where('id', '=', row.id)
        .where('status', '=', 'UNKNOWN')
        .where('version', '=', row.version)
        .returningAll()
        .executeTakeFirst();
      if (!claimed) return queryReturn(context, merchantId, outReturnNo);
      return { ret: await sendReturn(context, claimed, split), fresh: true };
    }
    if (!(error instanceof PayError) || !(error.retryable || error.outcomeUnknown)) throw error;
    return { ret: returnView(row, split.out_split_no), fresh: false };
  }
}

export interface OrderSplits {
  outTradeNo: string;
  totalFen: number;
  /** What may still be split here (amount − refunded − split net of returns). */
  splittableFen: number;
  /** What the gateway says it still holds frozen; null when it could not be asked. */
  gatewayUnsplitFen: number | null;
  splits: SplitView[];
  returns: ReturnView[];
}

/** An order's splits and returns, and what is left to split (here, and as the gateway holds it). */
export async function orderSplits(
  context: ServiceContext,
  merchantId: string,
  outTradeNo: string,
  askGateway = true,
): Promise<OrderSplits> {
  const order = await findOrder(context.store.db, merchantId, outTradeNo);
  if (!order) throw new PayError(40005, { field: 'out_trade_no', message: `order ${outTradeNo} not found` });
  const db = context.store.db;
  const splits = await listSplits(db, order.id);
  const byId = new Map(splits.map((split) => [split.id, split.out_split_no]));
  let gatewayUnsplitFen: number | null = null;
  const operations = context.providers.get(order.provider)?.profitSharing;
  if (askGateway && operations && order.profit_sharing && order.transaction_id) {
    try {
      gatewayUnsplitFen = await gatewayCall(
        context,
        {
          type: 'profit_sharing_unsplit',
          provider: order.provider,
          merchantId,
          subjectKind: 'payment',
          outTradeNo,
        },
        () =>
          operations.unsplitAmount({
            merchantId,
            account: order.account ?? DEFAULT_ACCOUNT,
            transactionId: order.transaction_id!,
          }),
      );
    } catch (error) {
      context.logger.warn(
        { outTradeNo, code: isPayError(error) ? error.code : 50000 },
        'unsplit amount not known',
      );
    }
  }
  return {
    outTradeNo,
    totalFen: order.total_fee,
    splittableFen: splittableFen(await splitLedger(db, order)),
    gatewayUnsplitFen,
    splits: await Promise.all(splits.map(async (split) => splitView(split, await splitLines(db, split.id)))),
    returns: (await returnsOfOrder(db, order.id)).map((ret) =>
      returnView(ret, byId.get(ret.split_ref) ?? ''),
    ),
  };
}

export type SplitNotifyRequest = VerifiedNotifyRequest;

/** A split notification: verified with the account's keys, applied through the state machine. */
export function handleSplitNotify(
  context: ServiceContext,
  request: SplitNotifyRequest,
): Promise<{ ack: NotifyAck; outcome: string }> {
  return handleVerifiedNotify(context, request, ({ profitSharing }) =>
    profitSharing
      ? {
          what: 'split',
          parse: (...args) => profitSharing.parseSplitNotify(...args),
          ack: (answer) => profitSharing.ackSplitNotify(answer),
          apply: (notification: SplitNotification) =>
            applySplitWord(context, { ...notification, merchantId: request.merchantId }),
        }
      : undefined,
  );
}
