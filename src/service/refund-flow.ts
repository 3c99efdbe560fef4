/**
 * Refunds at the gateway: reserve the amount here first (under the order's lock), then ask the
 * gateway, then apply its answer. A retry with the same out_refund_no asks the gateway again with
 * the same number, which the gateway treats as the same refund; a refund the gateway refused is
 * reserved again first.
 */
import { PayError } from '../core/errors.ts';
import { findOrderById } from '../store/orders.ts';
import { findRefund } from '../store/refunds.ts';
import type { ServiceContext, WithChange } from './context.ts';
import { gatewayCall, providerFor, routeTags } from './gateway-call.ts';
import { type Order, type Refund, toOrder, toRefund } from './model.ts';
import { notifyUrl } from './payment-flow.ts';
import { splitReturnsOfRefund } from './refund-splits.ts';
import { applyRefundResult, type StartedRefund, type StartRefundRequest, startRefund } from './refunds.ts';
import { closeReview } from './reviews.ts';

export interface RefundResponse {
  refund: Refund;
  order: Order;
}

/** Refusals the gateways document as final for a refund request: bad request, no such trade, not refundable, balance short, no permission. */
const FINAL_REFUSAL_CODES: readonly number[] = [40001, 40005, 40006, 40007, 40009];

/**
 * The gateway answered, in its own words (a gateway code), that it will not make this refund. An
 * answer we could not read or verify, a timeout or a system error leaves the outcome unknown: the
 * refund stays PROCESSING and the job asks the gateway.
 */
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

/** `withReservation` runs in the transaction that reserves a new refund (not for a repeated out_refund_no). */
export async function refund(
  context: ServiceContext,
  request: StartRefundRequest,
  withReservation?: WithChange<StartedRefund>,
): Promise<RefundResponse> {
  const reserved = await startRefund(context, request, withReservation);
  const { refund: pending, order } = reserved;
  if (pending.status !== 'PROCESSING') return { refund: pending, order };
  const provider = providerFor(context, order.provider);
  const splitReturns = order.profitSharing ? await splitReturnsOfRefund(context, pending.id) : [];
  let answer: Awaited<ReturnType<typeof provider.refund>>;
  try {
    answer = await gatewayCall(
      context,
      {
        type: 'refund',
        provider: provider.name,
        outTradeNo: order.outTradeNo,
        amount: pending.refundFen,
        userId: order.userId,
        ...routeTags(order),
      },
      () =>
        provider.refund({
          merchantId: order.merchantId,
          account: order.account,
          outTradeNo: order.outTradeNo,
          outRefundNo: pending.outRefundNo,
          refundFen: pending.refundFen,
          totalFen: order.totalFen,
          reason: pending.reason,
          openid: order.openid,
          notifyUrl: notifyUrl(context, provider.name, order.merchantId, order.account),
          ...(splitReturns.length > 0 ? { splitReturns } : {}),
        }),
    );
  } catch (error) {
    // A refund the gateway certainly refused gives its reservation back (REFUSED: the same
    // out_refund_no may ask again, after a top-up say); one whose outcome is unknown (timeout) stays
    // PROCESSING, to be settled by its callback, a query, or a retry with the same number.
    if (isFinalRefusal(error)) {
      await applyRefundResult(context, {
        merchantId: order.merchantId,
        provider: order.provider,
        outRefundNo: pending.outRefundNo,
        status: 'REFUSED',
        source: 'request',
        raw: { refusedWith: error.gatewayCode ?? error.code },
      });
    }
    throw error;
  }
  const applied = await applyRefundResult(context, {
    ...answer,
    merchantId: order.merchantId,
    source: 'request',
  });
  return { refund: applied.refund, order: applied.order };
}

export interface QueriedRefund extends RefundResponse {
  /**
   * False when the refund is in progress and the gateway could not be asked just now: this is the
   * state last known here, not the gateway's word of this moment.
   */
  fresh: boolean;
}

/**
 * The refund. A finished one (SUCCESS, CLOSED, REFUSED) answers from the store: the gateway has
 * nothing newer, and may not even keep it (or be reachable). One in progress or abnormal is asked
 * about at the gateway and its answer applied; if the gateway cannot be reached, the stored state
 * is the answer, marked not fresh.
 */
export async function queryRefund(
  context: ServiceContext,
  merchantId: string,
  outRefundNo: string,
  withApplied?: WithChange<RefundResponse>,
): Promise<QueriedRefund> {
  const stored = await storedRefund(context, merchantId, outRefundNo);
  if (stored.refund.status !== 'PROCESSING' && stored.refund.status !== 'ABNORMAL')
    return { ...stored, fresh: true };
  try {
    const { refund, order } = await askAboutRefund(context, merchantId, outRefundNo, withApplied);
    return { refund, order, fresh: true };
  } catch (error) {
    if (!(error instanceof PayError) || !(error.retryable || error.outcomeUnknown)) throw error;
    context.logger.warn({ outRefundNo, code: error.code }, 'refund query failed; answering the stored state');
    return { ...stored, fresh: false };
  }
}

async function storedRefund(context: ServiceContext, merchantId: string, outRefundNo: string) {
  const row = await findRefund(context.store.db, merchantId, outRefundNo);
  if (!row) throw new PayError(40005, { field: 'out_refund_no', message: `refund ${outRefundNo} not found` });
  const order = await findOrderById(context.store.db, row.order_id);
  return { refund: toRefund(row), order: toOrder(order!) };
}

export interface SettledRefund extends RefundResponse {
  /** The refund was sent to the gateway again. */
  resent: boolean;
}

/**
 * Settles a refund left PROCESSING (its notification lost, or its request failed in a way that
 * left it open): asks the gateway, and when the gateway does not hold it as in progress (WeChat Pay
 * has no such refund; Alipay shows no refund), sends it again with the same out_refund_no and
 * amount, which both gateways treat as the same refund, never a second one.
 */
export async function settlePendingRefund(
  context: ServiceContext,
  merchantId: string,
  outRefundNo: string,
): Promise<SettledRefund> {
  const row = await context.store.db
    .selectFrom('payment_refunds')
    .select(['out_trade_no', 'refund_fee', 'reason'])
    .where('merchant_id', '=', merchantId)
    .where('out_refund_no', '=', outRefundNo)
    .executeTakeFirst();
  if (!row) throw new PayError(40005, { field: 'out_refund_no', message: `refund ${outRefundNo} not found` });
  let asked: Awaited<ReturnType<typeof askAboutRefund>> | null = null;
  try {
    asked = await askAboutRefund(context, merchantId, outRefundNo);
  } catch (error) {
    // The refund is ours, so 40005 is the gateway's: it never received it.
    if (!(error instanceof PayError && error.code === 40005)) throw error;
  }
  if (asked && (asked.refund.status !== 'PROCESSING' || !asked.resendable))
    return { refund: asked.refund, order: asked.order, resent: false };
  const resent = await refund(context, {
    merchantId,
    out_trade_no: row.out_trade_no,
    out_refund_no: outRefundNo,
    refund_fee: row.refund_fee,
    ...(row.reason ? { reason: row.reason } : {}),
  });
  return { ...resent, resent: true };
}

async function askAboutRefund(
  context: ServiceContext,
  merchantId: string,
  outRefundNo: string,
  withApplied?: WithChange<RefundResponse>,
): Promise<RefundResponse & { resendable: boolean }> {
  const found = await context.store.db
    .selectFrom('payment_refunds')
    .innerJoin('payment_orders', 'payment_orders.id', 'payment_refunds.order_id')
    .select(['payment_orders.provider', 'payment_orders.account', 'payment_refunds.out_trade_no'])
    .where('payment_refunds.merchant_id', '=', merchantId)
    .where('payment_refunds.out_refund_no', '=', outRefundNo)
    .executeTakeFirst();
  if (!found)
    throw new PayError(40005, { field: 'out_refund_no', message: `refund ${outRefundNo} not found` });
  const provider = providerFor(context, found.provider);
  const answer = await gatewayCall(
    context,
    {
      type: 'refund_query',
      provider: provider.name,
      merchantId,
      subjectKind: 'payment',
      outTradeNo: found.out_trade_no,
    },
    () =>
      provider.queryRefund({
        merchantId,
        account: found.account,
        outRefundNo,
        outTradeNo: found.out_trade_no,
      }),
  );
  const applied = await applyRefundResult(context, { ...answer, merchantId, source: 'query' }, withApplied);
  return { refund: applied.refund, order: applied.order, resendable: answer.resendable === true };
}

/** Asks the gateway about a refund in any state and applies its answer (reconciliation's second look). */
export async function refreshRefund(
  context: ServiceContext,
  merchantId: string,
  outRefundNo: string,
): Promise<Refund> {
  return (await askAboutRefund(context, merchantId, outRefundNo)).refund;
}

export interface AbnormalRefundRecipient {
  type: 'USER_BANK_CARD' | 'MERCHANT_BANK_CARD';
  bankType?: string;
  bankAccount?: string;
  realName?: string;
}

/**
 * Sends an ABNORMAL refund (the buyer's card closed, the account frozen) to a bank card instead:
 * the buyer's (USER_BANK_CARD, with the bank, card number and holder's name) or the merchant's
 * (MERCHANT_BANK_CARD). The refund is PROCESSING again until the gateway settles it; its review
 * is closed. The card number and name go to the gateway encrypted and are kept nowhere.
 */
export async function applyAbnormalRefund(
  context: ServiceContext,
  merchantId: string,
  outRefundNo: string,
  recipient: AbnormalRefundRecipient,
): Promise<RefundResponse> {
  // The gateway's word first: the refund may have settled, or turned abnormal, since we heard.
  const { refund: current, order } = await askAboutRefund(context, merchantId, outRefundNo);
  if (current.status !== 'ABNORMAL')
    throw new PayError(40001, {
      field: 'out_refund_no',
      message: `refund ${outRefundNo} is ${current.status}; only an ABNORMAL refund can be sent to a bank card`,
    });
  const provider = providerFor(context, order.provider);
  if (!provider.applyAbnormalRefund || !current.refundId)
    throw new PayError(40001, {
      field: 'out_refund_no',
      message: `${provider.name} has no abnormal-refund API: settle refund ${outRefundNo} in its merchant platform`,
    });
  const { applyAbnormalRefund: send } = provider;
  const refundId = current.refundId;
  const answer = await gatewayCall(
    context,
    {
      type: 'refund_abnormal',
      provider: provider.name,
      merchantId,
      subjectKind: 'payment',
      outTradeNo: order.outTradeNo,
      amount: current.refundFen,
    },
    () => send({ merchantId, account: order.account, outRefundNo, refundId, ...recipient }),
  );
  const applied = await applyRefundResult(context, { ...answer, merchantId, source: 'request' });
  await closeReview(
    context,
    merchantId,
    'refund_abnormal',
    outRefundNo,
    `sent again through the gateway's abnormal refund, to ${recipient.type}`,
  );
  return { refund: applied.refund, order: applied.order };
}
