/**
 * Purchases an app store made and signed (Apple IAP): the app hands over a transaction for one of
 * our orders, or to make an order for its product; the store tells of renewals and refunds by
 * notification. Each transaction pays one order, once: it is claimed for that order first (a
 * unique event row), then applied through the same applyPaymentResult as any gateway callback.
 */
import { isPayError, PayError } from '../core/errors.ts';
import { appAccountTokenFor } from '../providers/appleiap/purchases.ts';
import { DEFAULT_ACCOUNT } from '../providers/merchant-lookup.ts';
import type { PaymentResult, Provider, StoreNotification, StorePurchase } from '../providers/provider.ts';
import { hasNotifyEvent, insertNotifyEvent } from '../store/journal.ts';
import type { ServiceContext } from './context.ts';
import { providerFor } from './gateway-call.ts';
import type { Order } from './model.ts';
import { type ApplyOutcome, applyPaymentResult, createOrder, getOrder } from './payments.ts';
import { reverseRefund } from './refund-reversal.ts';
import { applyRefundResult, startRefund } from './refunds.ts';

/** The order a store transaction makes when no order of ours was named: one per transaction. */
export function storeTradeNo(transactionId: string): string {
  return `IAP${transactionId}`;
}

/** The refund a store's refund of a transaction records. */
export function storeRefundNo(transactionId: string): string {
  return `IAPR${transactionId}`;
}

/** The appAccountToken an app passes to StoreKit for one of the merchant's users. */
export function userAccountToken(merchantId: string, userId: string): string {
  return appAccountTokenFor(merchantId, `user:${userId}`);
}

export interface VerifyStorePurchaseRequest {
  merchantId: string;
  provider: string;
  account?: string;
  transactionId?: string;
  signedTransaction?: string;
  /**
   * Or an old app's receipt (base64), verified with the legacy verifyReceipt: `transactionId`
   * picks its entry, else the newest purchase of a configured product on it.
   */
  receipt?: string;
  /** The order the purchase pays; without it, an order is made for the product. */
  outTradeNo?: string;
  /** The buyer: the transaction's appAccountToken must be this user's. */
  userId?: string;
}

export interface StorePurchaseOutcome {
  order: Order;
  outcome: ApplyOutcome['outcome'];
}

interface StoreProvider extends Provider {
  verifyTransaction(
    merchantId: string,
    account: string | undefined,
    input: { transactionId?: string; signedTransaction?: string },
  ): Promise<StorePurchase>;
  orderToken(merchantId: string, outTradeNo: string): string;
  verifyReceipt?(
    merchantId: string,
    account: string | undefined,
    input: { receipt: string; transactionId?: string },
  ): Promise<StorePurchase>;
}

function storeProvider(context: ServiceContext, name: string): StoreProvider {
  const provider = providerFor(context, name);
  if (!('verifyTransaction' in provider))
    throw new PayError(40001, { field: 'provider', message: `${name} does not take store purchases` });
  return provider as StoreProvider;
}

/** The client's word: this transaction pays this order (or makes one for its product). */
export async function verifyStorePurchase(
  context: ServiceContext,
  request: VerifyStorePurchaseRequest,
): Promise<StorePurchaseOutcome> {
  const provider = storeProvider(context, request.provider);
  const account = request.account ?? DEFAULT_ACCOUNT;
  const purchase = await verifyPurchase(provider, account, request);
  const existing = request.outTradeNo
    ? await getOrder(context, request.merchantId, request.outTradeNo)
    : await findOrderOf(context, request.merchantId, storeTradeNo(purchase.transactionId));
  if (request.outTradeNo && existing?.provider !== provider.name)
    throw new PayError(40001, { field: 'out_trade_no', message: `order is not a ${provider.name} order` });
  checkBuyer(provider, request, existing, purchase);
  if (purchase.revokedAt && !(existing && existing.status !== 'NOTPAY'))
    throw new PayError(40001, {
      field: 'transaction_id',
      message: 'the App Store refunded or revoked this purchase',
    });
  return payWithPurchase(context, provider, {
    merchantId: request.merchantId,
    account,
    purchase,
    outTradeNo: request.outTradeNo ?? storeTradeNo(purchase.transactionId),
    userId: request.userId ?? null,
    source: 'query',
  });
}

/** The purchase the request hands over: a StoreKit 2 transaction, or an old app's receipt. */
async function verifyPurchase(
  provider: StoreProvider,
  account: string,
  request: VerifyStorePurchaseRequest,
): Promise<StorePurchase> {
  if (request.receipt === undefined)
    return provider.verifyTransaction(request.merchantId, account, {
      ...(request.transactionId !== undefined ? { transactionId: request.transactionId } : {}),
      ...(request.signedTransaction !== undefined ? { signedTransaction: request.signedTransaction } : {}),
    });
  if (!provider.verifyReceipt)
    throw new PayError(40001, { field: 'receipt', message: `${provider.name} takes no receipts` });
  if (request.signedTransaction !== undefined)
    throw new PayError(40001, {
      field: 'receipt',
      message: 'send a receipt or a signed_transaction, not both',
    });
  if (request.transactionId !== undefined && !/^[0-9]{1,20}$/.test(request.transactionId))
    throw new PayError(40001, { field: 'transaction_id', message: 'transaction_id must be 1 to 20 digits' });
  return provider.verifyReceipt(request.merchantId, account, {
    receipt: request.receipt,
    ...(request.transactionId !== undefined ? { transactionId: request.transactionId } : {}),
  });
}

/**
 * The transaction's appAccountToken must be the order's, or its buyer's. A legacy receipt's entry
 * made by StoreKit 1 carries none: the receipt itself, from the buyer's device, is the proof, and
 * the transaction's claim keeps it to one order.
 */
function checkBuyer(
  provider: StoreProvider,
  request: VerifyStorePurchaseRequest,
  order: Order | null,
  purchase: StorePurchase,
): void {
  const accepted = new Set<string>();
  if (request.outTradeNo) accepted.add(provider.orderToken(request.merchantId, request.outTradeNo));
  const userId = order?.userId ?? request.userId;
  if (userId) accepted.add(userAccountToken(request.merchantId, userId));
  if (accepted.size === 0) return;
  if (!purchase.appAccountToken && request.receipt !== undefined) return;
  if (!purchase.appAccountToken || !accepted.has(purchase.appAccountToken))
    throw new PayError(40001, {
      field: 'appAccountToken',
      message: "the purchase's appAccountToken is not this order's or this user's",
    });
}

async function findOrderOf(
  context: ServiceContext,
  merchantId: string,
  outTradeNo: string,
): Promise<Order | null> {
  try {
    return await getOrder(context, merchantId, outTradeNo);
  } catch (error) {
    if (isPayError(error) && error.code === 40005) return null;
    throw error;
  }
}

interface PayWithPurchase {
  merchantId: string;
  account: string;
  purchase: StorePurchase;
  outTradeNo: string;
  userId: string | null;
  source: PaymentResult['source'];
}

/**
 * Claims the transaction for the order (a transaction pays one order only), makes the order when it
 * is the transaction's own, and applies the payment: the handler or webhook of its type runs once.
 */
async function payWithPurchase(
  context: ServiceContext,
  provider: Provider,
  input: PayWithPurchase,
): Promise<StorePurchaseOutcome> {
  const { merchantId, purchase, outTradeNo } = input;
  const owner = await claimTransaction(
    context,
    provider.name,
    merchantId,
    purchase.transactionId,
    outTradeNo,
  );
  if (owner !== outTradeNo)
    throw new PayError(40006, {
      field: 'transaction_id',
      message: `this transaction paid order ${owner} already`,
      details: { outTradeNo: owner },
    });
  const identity = provider.identity(merchantId, 'app', input.account);
  if (
    outTradeNo === storeTradeNo(purchase.transactionId) &&
    !(await findOrderOf(context, merchantId, outTradeNo))
  ) {
    await createOrder(context, {
      merchantId,
      account: input.account,
      mchId: identity.mchId,
      appId: identity.appId,
      provider: provider.name,
      scene: 'app',
      out_trade_no: outTradeNo,
      total_fee: purchase.amountFen,
      subject: purchase.productId,
      type: purchase.orderType,
      ...(input.userId ? { user_id: input.userId } : {}),
      custom: {
        productId: purchase.productId,
        originalTransactionId: purchase.originalTransactionId,
        environment: purchase.environment,
      },
    });
  }
  const applied = await applyPaymentResult(context, {
    merchantId,
    account: input.account,
    provider: provider.name,
    outTradeNo,
    transactionId: purchase.transactionId,
    amountFen: purchase.amountFen,
    status: 'SUCCESS',
    mchId: identity.mchId,
    appId: identity.appId,
    paidAt: purchase.paidAt,
    eventId: null,
    source: input.source,
    raw: purchase.raw,
  });
  return { order: applied.order, outcome: applied.outcome };
}

/** The order a transaction belongs to: the first to claim it keeps it (a unique event row). */
async function claimTransaction(
  context: ServiceContext,
  provider: string,
  merchantId: string,
  transactionId: string,
  outTradeNo: string,
): Promise<string> {
  const eventId = `transaction:${merchantId}:${transactionId}`;
  const { db } = context.store;
  const first = await insertNotifyEvent(db, {
    provider,
    eventId,
    subjectKind: 'payment',
    merchantId,
    outTradeNo,
    payload: { transactionId },
    result: 'claimed',
  });
  if (first) return outTradeNo;
  const row = await db
    .selectFrom('payment_notify_events')
    .select('out_trade_no')
    .where('provider', '=', provider)
    .where('event_id', '=', eventId)
    .executeTakeFirstOrThrow();
  return row.out_trade_no ?? outTradeNo;
}

/** The order a transaction was claimed for, if any. */
async function claimedOrder(
  context: ServiceContext,
  provider: string,
  merchantId: string,
  transactionId: string,
): Promise<string | null> {
  const row = await context.store.db
    .selectFrom('payment_notify_events')
    .select('out_trade_no')
    .where('provider', '=', provider)
    .where('event_id', '=', `transaction:${merchantId}:${transactionId}`)
    .executeTakeFirst();
  return row?.out_trade_no ?? null;
}

/**
 * The unpaid order of ours a purchase was made for: StoreKit took the order's appAccountToken
 * (createPayment's), which is derived from the order number, so the merchant's unpaid orders of
 * the purchase's amount are the candidates. Null for a user's token or no token.
 */
async function orderOfToken(
  context: ServiceContext,
  provider: Provider,
  merchantId: string,
  purchase: StorePurchase,
): Promise<string | null> {
  if (!purchase.appAccountToken || !('orderToken' in provider)) return null;
  const orderToken = (provider as StoreProvider).orderToken;
  const candidates = await context.store.db
    .selectFrom('payment_orders')
    .select('out_trade_no')
    .where('merchant_id', '=', merchantId)
    .where('status', 'in', ['NOTPAY', 'USERPAYING'])
    .where('provider', '=', provider.name)
    .where('total_fee', '=', purchase.amountFen)
    .execute();
  return (
    candidates.find((row) => orderToken(merchantId, row.out_trade_no) === purchase.appAccountToken)
      ?.out_trade_no ?? null
  );
}

/** The mark that the store reversed its refund of a transaction, whichever notification came first. */
function reversalMark(merchantId: string, transactionId: string): string {
  return `refund_reversed:${merchantId}:${transactionId}`;
}

const APPLIED_KINDS: ReadonlySet<StoreNotification['kind']> = new Set([
  'purchase',
  'renewal',
  'refund',
  'refund_reversed',
]);

/**
 * A store's notification, applied: a renewal pays a new order of its type (the original's buyer);
 * a refund refunds the transaction's order in full, and a refund reversal takes that refund back
 * (each paying the order first when its purchase or renewal was not heard of yet, so order does
 * not matter); the rest is recorded. Returns what happened; the notification's id is recorded
 * last, so a resend is acknowledged without work.
 */
export async function applyStoreNotification(
  context: ServiceContext,
  notification: StoreNotification,
): Promise<string> {
  const provider = providerFor(context, notification.provider);
  const { merchantId, purchase } = notification;
  let outcome: string = notification.kind;
  if (purchase && APPLIED_KINDS.has(notification.kind)) {
    const outTradeNo =
      (await claimedOrder(context, provider.name, merchantId, purchase.transactionId)) ??
      (await orderOfToken(context, provider, merchantId, purchase)) ??
      storeTradeNo(purchase.transactionId);
    // A renewal or a resubscription: the buyer is the original purchase's.
    const original =
      purchase.originalTransactionId !== purchase.transactionId
        ? await claimedOrder(context, provider.name, merchantId, purchase.originalTransactionId)
        : null;
    const buyer = original ? ((await findOrderOf(context, merchantId, original))?.userId ?? null) : null;
    const order = await findOrderOf(context, merchantId, outTradeNo);
    const account = order?.account ?? DEFAULT_ACCOUNT;
    const paid = await payWithPurchase(context, provider, {
      merchantId,
      account,
      purchase,
      outTradeNo,
      userId: buyer,
      source: 'notify',
    });
    if (paid.outcome === 'handler_failed')
      throw new PayError(50000, { message: 'the business handler failed; the store must send it again' });
    outcome = `${notification.kind}:${paid.outcome}`;
    if (notification.kind === 'refund')
      outcome = await refundPurchase(context, provider, paid.order, purchase);
    if (notification.kind === 'refund_reversed')
      outcome = await reverseRefundOf(context, provider, merchantId, purchase);
  }
  await insertNotifyEvent(context.store.db, {
    provider: provider.name,
    eventId: notification.eventId,
    subjectKind: 'payment',
    merchantId,
    outTradeNo: null,
    payload: (notification.raw ?? null) as never,
    result: outcome,
  });
  return outcome;
}

/**
 * The store took its refund back: marked first, then the refund (if it was applied already) is
 * reversed. A REFUND that comes after the mark refunds nothing; one racing it re-reads the mark
 * after its refund settled, so one of the two always reverses it, and the refund's state moves once.
 */
async function reverseRefundOf(
  context: ServiceContext,
  provider: Provider,
  merchantId: string,
  purchase: StorePurchase,
): Promise<string> {
  await insertNotifyEvent(context.store.db, {
    provider: provider.name,
    eventId: reversalMark(merchantId, purchase.transactionId),
    subjectKind: 'payment',
    merchantId,
    outTradeNo: null,
    payload: { transactionId: purchase.transactionId },
    result: 'refund_reversed',
  });
  const reversed = await reverseRefund(context, {
    merchantId,
    provider: provider.name,
    outRefundNo: storeRefundNo(purchase.transactionId),
    raw: purchase.raw,
  });
  return `refund_reversed:${reversed.outcome}`;
}

/** The store refunded the whole purchase: our refund of it, settled at once. */
async function refundPurchase(
  context: ServiceContext,
  provider: Provider,
  order: Order,
  purchase: StorePurchase,
): Promise<string> {
  const mark = reversalMark(order.merchantId, purchase.transactionId);
  if (await hasNotifyEvent(context.store.db, provider.name, mark)) return 'refund:reversed_already';
  const outRefundNo = storeRefundNo(purchase.transactionId);
  const started = await startRefund(context, {
    merchantId: order.merchantId,
    out_trade_no: order.outTradeNo,
    out_refund_no: outRefundNo,
    refund_fee: order.totalFen,
    reason: 'App Store refund',
  });
  const applied = await applyRefundResult(context, {
    merchantId: order.merchantId,
    provider: provider.name,
    outRefundNo,
    status: 'SUCCESS',
    refundId: purchase.transactionId,
    refundFen: started.refund.refundFen,
    successTime: purchase.revokedAt ?? context.now(),
    eventId: null,
    source: 'notify',
    raw: purchase.raw,
  });
  if (await hasNotifyEvent(context.store.db, provider.name, mark)) {
    const reversed = await reverseRefund(context, {
      merchantId: order.merchantId,
      provider: provider.name,
      outRefundNo,
      raw: purchase.raw,
    });
    return `refund:${applied.outcome}:reversed_${reversed.outcome}`;
  }
  return `refund:${applied.outcome}`;
}
