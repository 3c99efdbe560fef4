/**
 * The callback pipeline: verify and decrypt (the provider), apply in one transaction (the service),
 * answer in the gateway's format by cause. A callback that does not verify is refused; one for a
 * merchant not configured here is unknown; one that verifies but can never apply (no such order or
 * refund, another amount, another merchant) is recorded once for a person and acknowledged, as
 * sending it again would change nothing. Only our own failures ask the gateway to send it again.
 */
import { isPayError, PayError } from '../core/errors.ts';
import { DEFAULT_ACCOUNT } from '../providers/merchant-lookup.ts';
import type { GatewayNotifyEvent, NotifyAck, NotifyEvent, Provider } from '../providers/provider.ts';
import { hasNotifyEvent, insertNotifyEvent } from '../store/journal.ts';
import { recordError, recordLog, type ServiceContext } from './context.ts';
import { providerFor } from './gateway-call.ts';
import { applyPaymentResult } from './payments.ts';
import { applyRefundResult } from './refunds.ts';
import { type ReviewCase, recordReview } from './reviews.ts';
import { storeFailure } from './store-failure.ts';
import { applyStoreNotification } from './store-purchases.ts';

export interface NotifyRequest {
  provider: string;
  merchantId: string;
  /** The merchant's gateway account the callback is for (from its URL); `default` when unset. */
  account?: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  ip?: string | null;
  /** The callback URL's query parameters (WeChat's message push signs there). */
  query?: Record<string, string | undefined>;
}

export interface NotifyOutcome {
  ack: NotifyAck;
  /**
   * Why the callback was rejected before anything was applied (unknown_provider, unknown_merchant,
   * malformed, signature, certificate, or rate_limited for a source over its budget of rejections).
   * Rejections are counted apart: they write no payment_logs row, so forged traffic moves no
   * payment error rate.
   */
  rejected?: RejectionReason;
  /**
   * What happened, for logs, metrics and tests: applied, already_applied, ignored, duplicate_event
   * (its event id was recorded before), unapplicable, review, handler_failed, unknown_provider,
   * unknown_merchant, or the code it was refused or failed with.
   */
  outcome: string;
  error?: PayError;
}

/** What a callback that does not verify, or cannot be read, fails with, by the reason it is counted under. */
const REFUSED_CODES: ReadonlyMap<number, RejectionReason> = new Map([
  [40001, 'malformed'],
  [40002, 'signature'],
  [40003, 'certificate'],
] as const);

export type RejectionReason =
  | 'unknown_provider'
  | 'unknown_merchant'
  | 'malformed'
  | 'signature'
  | 'certificate'
  | 'rate_limited';

/**
 * Rejected callbacks a source address may send in a window before its callbacks are answered 429
 * unread (verified callbacks never count). With Redis the count is shared by every instance.
 */
export const REJECTED_CALLBACK_LIMIT = { max: 20, windowMs: 60_000 };

/**
 * The refusals of applyPaymentResult and applyRefundResult that no resend can change, by code and
 * field: the callback is genuine, what it says does not fit what is here.
 */
const UNAPPLICABLE_CAUSES: Readonly<Record<string, string>> = {
  '40005 out_trade_no': 'unknown_order',
  '40005 out_refund_no': 'unknown_refund',
  '40001 amount': 'amount_mismatch',
  '40001 refund_fee': 'refund_amount_mismatch',
  '40002 mch_id': 'other_merchant',
  '40002 app_id': 'other_merchant',
  '40002 account': 'other_merchant',
  '40002 provider': 'other_gateway',
};

export async function handleNotify(context: ServiceContext, request: NotifyRequest): Promise<NotifyOutcome> {
  const known = context.providers.get(request.provider);
  const blockedFor = await rejectionBudgetSpent(context, request.ip);
  if (blockedFor !== null) {
    // Not read, not verified, not written: a source that keeps sending what does not verify.
    const error = new PayError(40008, {
      message: `more than ${REJECTED_CALLBACK_LIMIT.max} rejected callbacks from this address in ${REJECTED_CALLBACK_LIMIT.windowMs / 1000} s`,
      details: { retryAfterSeconds: blockedFor },
    });
    const ack = known ? known.ackNotify('refused', error) : { status: 429, headers: {}, body: '' };
    return {
      ack: { ...ack, status: 429, headers: { ...ack.headers, 'retry-after': String(blockedFor) } },
      outcome: 'rate_limited',
      rejected: 'rate_limited',
      error,
    };
  }
  let provider: Provider;
  try {
    provider = providerFor(context, request.provider);
  } catch (error) {
    await rejectCallback(context, null, request, error as PayError, 'unknown_provider');
    return {
      ack: { status: 404, headers: {}, body: '' },
      outcome: 'unknown_provider',
      rejected: 'unknown_provider',
      error: error as PayError,
    };
  }
  const account = request.account ?? DEFAULT_ACCOUNT;
  const unknownMerchant = provider.merchantIds && !provider.merchantIds().includes(request.merchantId);
  if (unknownMerchant || (provider.accounts && !provider.accounts(request.merchantId).includes(account))) {
    const error = new PayError(40001, {
      field: unknownMerchant ? 'merchantId' : 'account',
      message: unknownMerchant
        ? `no ${provider.name} merchant ${JSON.stringify(request.merchantId.slice(0, 64))} is configured`
        : `${provider.name} merchant ${request.merchantId.slice(0, 64)} has no account ${JSON.stringify(account.slice(0, 64))}`,
    });
    await rejectCallback(context, provider.name, request, error, 'unknown_merchant');
    return {
      ack: provider.ackNotify('unknown_merchant', error),
      outcome: 'unknown_merchant',
      rejected: 'unknown_merchant',
      error,
    };
  }
  const started = performance.now();
  let event: NotifyEvent;
  try {
    event = await provider.parseNotify(
      request.merchantId,
      request.headers,
      request.rawBody,
      account,
      request.query,
    );
  } catch (error) {
    const payError = isPayError(error) ? error : new PayError(50000, { cause: error });
    const reason = REFUSED_CODES.get(payError.code);
    if (reason) {
      await rejectCallback(context, provider.name, request, payError, reason);
      return {
        ack: provider.ackNotify('refused', payError, { merchantId: request.merchantId, account }),
        outcome: String(payError.code),
        rejected: reason,
        error: payError,
      };
    }
    // Not a verdict on the callback but a bug while reading it: ours, so the gateway sends it again.
    await recordFailure(context, provider.name, request, payError, started);
    return {
      ack: provider.ackNotify('retry', payError, { merchantId: request.merchantId, account }),
      outcome: String(payError.code),
      error: payError,
    };
  }
  try {
    return await applyEvent(context, provider, request.merchantId, account, event);
  } catch (error) {
    // Our own failure (the store, a bug): the gateway must send it again.
    const payError = storeFailure(error);
    if (!isPayError(error))
      await recordError(context, payError, {
        subjectKind: 'payment',
        merchantId: request.merchantId,
        provider: provider.name,
      });
    return {
      ack: provider.ackNotify('retry', payError, { merchantId: request.merchantId, account }),
      outcome: String(payError.code),
      error: payError,
    };
  }
}

async function applyEvent(
  context: ServiceContext,
  provider: Provider,
  merchantId: string,
  account: string,
  event: NotifyEvent,
): Promise<NotifyOutcome> {
  const accepted = (outcome: string, error?: PayError): NotifyOutcome => ({
    ack: provider.ackNotify('accepted', undefined, { merchantId, account }),
    outcome,
    ...(error ? { error } : {}),
  });
  const { eventId } = event.result;
  // The gateway sending an event again (it missed our answer) or a replay: applied or kept already.
  if (eventId && (await hasNotifyEvent(context.store.db, provider.name, eventId))) {
    return accepted('duplicate_event');
  }
  // A store's own news (a renewal, a refund it granted) applies through its own path.
  if (event.kind === 'store') return accepted(await applyStoreNotification(context, event.result));
  try {
    if (event.kind === 'payment') {
      // Verified with this account's keys: it may only settle an order of the same account.
      const applied = await applyPaymentResult(context, {
        ...event.result,
        merchantId,
        account,
        source: 'notify',
      });
      if (applied.outcome === 'handler_failed') {
        return {
          ack: provider.ackNotify('retry', applied.error, { merchantId, account }),
          outcome: 'handler_failed',
          error: applied.error,
        };
      }
      return accepted(applied.outcome);
    }
    const applied = await applyRefundResult(context, { ...event.result, merchantId, source: 'notify' });
    return accepted(applied.outcome);
  } catch (error) {
    const cause = isPayError(error) ? unapplicableCause(error) : null;
    if (!cause) throw error;
    const refusal = error as PayError;
    await keepUnapplicable(context, provider.name, merchantId, event, refusal, cause);
    return accepted(cause.reviewed ? 'review' : 'unapplicable', refusal);
  }
}

interface UnapplicableCause {
  name: string;
  /** The apply recorded a review of its own (a second payment, a payment after close). */
  reviewed: boolean;
}

function unapplicableCause(error: PayError): UnapplicableCause | null {
  const details = error.details as { reviewId?: unknown; review?: { kind?: string } } | undefined;
  if (details?.reviewId !== undefined) return { name: details.review?.kind ?? 'review', reviewed: true };
  const name = UNAPPLICABLE_CAUSES[`${error.code} ${error.field}`];
  return name ? { name, reviewed: false } : null;
}

/**
 * Keeps a genuine callback that cannot apply, once: its event id, so that resends are acknowledged
 * without work, and a review when money moved. The apply wrote its error row already. Throws when
 * this cannot be stored: the gateway must then not be told it is done.
 */
async function keepUnapplicable(
  context: ServiceContext,
  provider: string,
  merchantId: string,
  event: GatewayNotifyEvent,
  error: PayError,
  cause: UnapplicableCause,
): Promise<void> {
  const { eventId } = event.result;
  const outTradeNo = event.kind === 'payment' ? event.result.outTradeNo : null;
  context.logger.warn(
    {
      provider,
      merchantId,
      outTradeNo,
      ...(event.kind === 'refund' ? { outRefundNo: event.result.outRefundNo } : {}),
      eventId,
      cause: cause.name,
      code: error.code,
    },
    'a verified callback cannot be applied: acknowledged and kept for a person',
  );
  const review = cause.reviewed ? null : reviewOf(merchantId, event, error, cause.name);
  const opened = await context.store.db.transaction().execute(async (tx) => {
    if (eventId) {
      const first = await insertNotifyEvent(tx, {
        provider,
        eventId,
        // A refund's callback is its order's: kind 'payment', the order's number where known.
        subjectKind: 'payment',
        merchantId,
        outTradeNo,
        payload: event.result.raw ?? null,
        result: `unapplicable:${cause.name}`,
      });
      // A copy of the same event sent at the same time got here first and kept it.
      if (!first) return false;
    }
    if (!review) return false;
    await recordReview(context, review, tx);
    return true;
  });
  if (opened) context.webhooks.wake();
}

/** The case for a person, when money moved: one per payment (its transaction id) or per refund. */
function reviewOf(
  merchantId: string,
  event: GatewayNotifyEvent,
  error: PayError,
  cause: string,
): ReviewCase | null {
  const facts = {
    ...(error.details && typeof error.details === 'object' ? error.details : {}),
    cause,
    code: error.code,
    field: error.field ?? null,
    message: error.message,
    eventId: event.result.eventId ?? null,
    status: event.result.status,
    source: 'notify',
  };
  if (event.kind === 'payment') {
    const { result } = event;
    // An unpaid or closed trade that fits no order here moved no money.
    if (result.status !== 'SUCCESS') return null;
    return {
      merchantId,
      kind: 'unapplicable_callback',
      reference: result.transactionId ?? result.eventId ?? result.outTradeNo,
      outTradeNo: result.outTradeNo,
      provider: result.provider,
      amountFen: result.amountFen,
      details: { ...facts, transactionId: result.transactionId },
    };
  }
  const { result } = event;
  if (result.status !== 'SUCCESS' && result.status !== 'ABNORMAL') return null;
  return {
    merchantId,
    kind: 'unapplicable_callback',
    reference: result.outRefundNo,
    outTradeNo: null,
    provider: result.provider,
    amountFen: result.refundFen ?? null,
    details: { ...facts, outRefundNo: result.outRefundNo, refundId: result.refundId ?? null },
  };
}

/** Seconds until the source may be heard again when it has spent its budget of rejections, else null. */
async function rejectionBudgetSpent(
  context: ServiceContext,
  ip: string | null | undefined,
): Promise<number | null> {
  if (!ip) return null;
  const until = await context.cache.get<number>(`notify-blocked:${ip}`).catch(() => undefined);
  const now = context.now().getTime();
  return until !== undefined && until > now ? Math.max(1, Math.ceil((until - now) / 1000)) : null;
}

/**
 * A callback rejected before it could be applied: a log line always; against its source's budget;
 * and, at most once a minute per gateway and reason, a payment_errors row for the operators (a
 * wrong key on our side rejects every genuine callback too). No payment_logs row: rejections are
 * not payment events, and must not move the error rate the alert watches.
 */
async function rejectCallback(
  context: ServiceContext,
  provider: string | null,
  request: NotifyRequest,
  error: PayError,
  reason: RejectionReason,
): Promise<void> {
  context.logger.warn(
    { provider: provider ?? request.provider.slice(0, 32), reason, code: error.code, ip: request.ip },
    'gateway callback rejected',
  );
  const { max, windowMs } = REJECTED_CALLBACK_LIMIT;
  const now = context.now().getTime();
  try {
    if (request.ip) {
      const window = Math.floor(now / windowMs);
      const count = await context.cache.increment(`notify-rejected:${request.ip}:${window}`, windowMs);
      if (count >= max)
        await context.cache.set(`notify-blocked:${request.ip}`, (window + 1) * windowMs, windowMs);
    }
    const sample = `notify-rejected-sample:${provider ?? 'unknown'}:${reason}`;
    if (await context.cache.setIfAbsent(sample, 1, 60_000))
      // The merchant in an unverified callback's URL is not ours to believe: none is recorded.
      await recordError(context, error, {
        subjectKind: 'payment',
        merchantId: null,
        provider,
        payload: { reason, ip: request.ip ?? null },
      });
  } catch (failure) {
    context.logger.error({ err: failure }, 'could not count a rejected callback');
  }
}

/** The rows of a callback that failed here while being read: an error row and a notify log row. */
async function recordFailure(
  context: ServiceContext,
  provider: string,
  request: NotifyRequest,
  error: PayError,
  started: number,
): Promise<void> {
  const subject = { subjectKind: 'payment', merchantId: request.merchantId } as const;
  await recordError(context, error, { ...subject, provider });
  await recordLog(context, {
    type: 'notify',
    status: 'ERROR',
    ...subject,
    provider,
    ip: request.ip ?? null,
    error: { code: error.code, gatewayCode: error.gatewayCode, message: error.message },
    responseMs: Math.round(performance.now() - started),
  });
}
