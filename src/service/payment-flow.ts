/**
 * Payments at the gateway: create an order and its prepay, query (healing lost callbacks), close.
 * Each gateway answer is applied through applyPaymentResult, the same code as the callback.
 */
import { PayError } from '../core/errors.ts';
import { isFinal, isPaid } from '../core/states.ts';
import { type Scene, validatePaymentInput } from '../core/validate.ts';
import { DEFAULT_ACCOUNT } from '../providers/merchant-lookup.ts';
import type { ClientPayParams } from '../providers/provider.ts';
import { findOrder, lockOrder, updateOrder } from '../store/orders.ts';
import type { OrderAttempt } from '../store/schema.ts';
import { recordLog, type ServiceContext, type WithChange } from './context.ts';
import { announceOrderChange, orderChannel } from './events.ts';
import { gatewayCall, providerFor, routeTags } from './gateway-call.ts';
import { checkTakesPaymentCodes, type MicropayOutcome, payWithCode } from './micropay.ts';
import { type Order, toOrder } from './model.ts';
import {
  applyPaymentResult,
  type CreateOrderRequest,
  cacheOrder,
  createOrder,
  getOrder,
} from './payments.ts';
import { shareOverrides } from './route-overrides.ts';
import { chooseAccount, type RouteChoice } from './routing.ts';
import { storeFailure } from './store-failure.ts';

export interface PayRequest extends Omit<CreateOrderRequest, 'mchId' | 'appId'> {
  userAgent?: string | null;
  returnUrl?: string | null;
  /** Extra gateway fields passed through unchanged. */
  other?: Record<string, unknown>;
  /** The buyer's WeChat session_key (mini program virtual payment): passed to the gateway call only. */
  sessionKey?: string | null;
  /** The client platform (mp-weixin, app, h5, ...), matched by routes. */
  platform?: string | null;
  /**
   * The buyer chose another method for an unpaid order: its attempt at the first gateway is closed
   * there and the order moves to this provider (the cashier's "pay another way").
   */
  switchProvider?: boolean;
}

export interface PayResponse {
  order: Order;
  /** What the client needs to invoke the payment in its scene. */
  client: ClientPayParams;
  /** A payment code's outcome: paid, or the buyer is confirming. */
  micropay?: MicropayOutcome;
}

/** Where a gateway calls back for one of a merchant's accounts; the `default` account keeps the short URL. */
export function notifyUrl(
  context: ServiceContext,
  provider: string,
  merchantId: string,
  account = DEFAULT_ACCOUNT,
): string {
  const base = `${context.publicUrl.replace(/\/+$/, '')}/notify/${provider}/${encodeURIComponent(merchantId)}`;
  return account === DEFAULT_ACCOUNT ? base : `${base}/${encodeURIComponent(account)}`;
}

/** Creates the order (idempotent on out_trade_no) and the gateway payment for its scene. */
export async function pay(context: ServiceContext, request: PayRequest): Promise<PayResponse> {
  // Every parameter problem is reported before anything else is looked up.
  const params = validatePaymentInput(request, {
    ...context.rules,
    orderTypes: context.handlers.orderTypes(),
  });
  const provider = providerFor(context, String(request.provider));
  if (params.scene === 'micropay') checkTakesPaymentCodes(provider);
  const choice = chooseAccount(
    context.routes.get(request.merchantId) ?? [],
    {
      provider: params.provider,
      scene: params.scene,
      type: params.type,
      platform: request.platform ?? null,
      userId: params.userId,
      outTradeNo: params.outTradeNo,
    },
    await shareOverrides(context, request.merchantId),
  );
  const identity = {
    ...provider.identity(request.merchantId, request.scene as Scene, choice.account),
    ...choice,
  };
  if (request.switchProvider) await switchProvider(context, request, identity);
  // An order made earlier by the same request keeps the account it was created with.
  const { order } = await createOrder(context, {
    ...request,
    mchId: identity.mchId,
    appId: identity.appId,
    account: choice.account,
    route: choice.route,
    variant: choice.variant,
    // A payment code asked again is answered with the order as it stands (paid, or confirming).
    ...(params.scene === 'micropay' ? { repeatPaid: true } : {}),
  });
  if (params.scene === 'micropay') {
    const paid = await payWithCode(context, provider, order, {
      authCode: params.authCode as string,
      notifyUrl: notifyUrl(context, provider.name, order.merchantId, order.account),
      clientIp: request.clientIp ?? null,
      ...(request.other ? { other: request.other } : {}),
      platform: request.platform ?? null,
      userAgent: request.userAgent ?? null,
    });
    return { order: paid.order, client: { scene: 'micropay' }, micropay: paid.outcome };
  }
  const created = await gatewayCall(
    context,
    {
      type: 'create',
      provider: provider.name,
      outTradeNo: order.outTradeNo,
      amount: order.totalFen,
      userId: order.userId,
      ip: request.clientIp ?? null,
      userAgent: request.userAgent ?? null,
      ...routeTags(order),
    },
    () =>
      provider.createPayment({
        merchantId: order.merchantId,
        account: order.account,
        outTradeNo: order.outTradeNo,
        totalFen: order.totalFen,
        subject: order.subject,
        scene: order.scene as Scene,
        openid: order.openid,
        clientIp: request.clientIp ?? null,
        notifyUrl: notifyUrl(context, provider.name, order.merchantId, order.account),
        returnUrl: request.returnUrl ?? null,
        expireAt: order.expireAt ? new Date(order.expireAt) : null,
        ...(request.other ? { other: request.other } : {}),
        ...(request.sessionKey ? { sessionKey: request.sessionKey } : {}),
        platform: request.platform ?? null,
        userAgent: request.userAgent ?? null,
        ...(order.profitSharing ? { profitSharing: true } : {}),
      }),
  );
  return { order, client: created.client };
}

export interface QueryOptions {
  /**
   * Wait, up to awaitMaxMs, until the payment is paid and its business work is done (the handler
   * ran, or the webhook endpoint for the order's type acknowledged it), or the order is closed.
   */
  awaitNotify?: boolean;
  awaitMaxMs?: number;
  /** Runs in the transaction of a change the gateway's answer makes (the console's audit row). */
  withApplied?: WithChange<Order>;
}

export interface QueryResponse {
  order: Order;
  /** The payer paid. */
  orderPaid: boolean;
  /** The business work for the order's type is done: its handler ran, or its webhook was acknowledged. */
  userOrderSuccess: boolean;
}

/** The first gateway query of a wait, then 2 s, 4 s ... between them. */
const AWAIT_FIRST_QUERY_MS = 1000;

/**
 * The order's state: from the cache when it is settled, otherwise from the gateway, whose answer is
 * applied like a callback, so a lost callback heals on the first query. Waiting, it is woken by
 * the change itself (announced through the cache: Redis pub/sub across instances), and asks the
 * gateway only with backoff, while the order is unpaid.
 */
export async function queryPayment(
  context: ServiceContext,
  merchantId: string,
  outTradeNo: string,
  options: QueryOptions = {},
): Promise<QueryResponse> {
  let order = await getOrder(context, merchantId, outTradeNo);
  if (!isPaid(order.status) && !isFinal(order.status))
    order = await syncWithGateway(context, order, options.withApplied);
  if (options.awaitNotify && !settled(order)) order = await awaitSettled(context, order, options);
  return { order, orderPaid: isPaid(order.status), userOrderSuccess: order.userOrderSuccess };
}

/** Nothing more to wait for: paid with its business work done, or closed. */
function settled(order: Order): boolean {
  return isPaid(order.status) ? order.userOrderSuccess : isFinal(order.status);
}

async function awaitSettled(context: ServiceContext, first: Order, options: QueryOptions): Promise<Order> {
  const deadline = Date.now() + Math.min(Math.max(options.awaitMaxMs ?? 20_000, 0), 40_000);
  let order = first;
  let wake: (() => void) | null = null;
  let changed = false;
  const unsubscribe = await context.cache
    .subscribe(orderChannel(order.merchantId, order.outTradeNo), () => {
      changed = true;
      wake?.();
    })
    .catch((error) => {
      context.logger.warn({ err: error }, 'cannot subscribe to order changes; reading the store instead');
      return () => {};
    });
  try {
    let queryGap = AWAIT_FIRST_QUERY_MS;
    let nextQuery = Date.now() + queryGap;
    // Read the store now and then even without a message: an announcement is best effort.
    let storeGap = 500;
    for (;;) {
      const unpaid = !isPaid(order.status) && !isFinal(order.status);
      const until = Math.min(deadline, unpaid ? nextQuery : deadline, Date.now() + storeGap);
      if (!changed && until > Date.now()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, until - Date.now());
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
      changed = false;
      storeGap = Math.min(storeGap * 2, 4000);
      order = await readOrder(context, order);
      if (settled(order) || Date.now() >= deadline) return order;
      if (!isPaid(order.status) && !isFinal(order.status) && Date.now() >= nextQuery) {
        order = await syncWithGateway(context, order);
        if (settled(order)) return order;
        queryGap *= 2;
        nextQuery = Date.now() + queryGap;
      }
    }
  } finally {
    unsubscribe();
  }
}

/** The order as the store has it now (the cache may be behind a change announced a moment ago). */
async function readOrder(context: ServiceContext, order: Order): Promise<Order> {
  const row = await findOrder(context.store.db, order.merchantId, order.outTradeNo);
  return row ? toOrder(row) : order;
}

async function syncWithGateway(
  context: ServiceContext,
  order: Order,
  withApplied?: WithChange<Order>,
): Promise<Order> {
  const provider = providerFor(context, order.provider);
  const result = await gatewayCall(
    context,
    {
      type: 'query',
      provider: provider.name,
      outTradeNo: order.outTradeNo,
      amount: order.totalFen,
      userId: order.userId,
      ...routeTags(order),
    },
    () =>
      provider.queryPayment({
        merchantId: order.merchantId,
        account: order.account,
        outTradeNo: order.outTradeNo,
        scene: order.scene as Scene,
      }),
  );
  const applied = await applyPaymentResult(
    context,
    { ...result, merchantId: order.merchantId, source: 'query' },
    withApplied,
  );
  return syncEarlierAttempts(context, applied.order, withApplied);
}

/**
 * An unpaid order's earlier attempts that the gateway had no trade for when the buyer switched
 * away (an Alipay page never opened) may still be paid there: asked too, so a payment through one
 * whose callback was lost settles the order as well.
 */
async function syncEarlierAttempts(
  context: ServiceContext,
  order: Order,
  withApplied?: WithChange<Order>,
): Promise<Order> {
  let current = order;
  for (const attempt of order.attempts) {
    if (attempt.closed !== 'absent' || isPaid(current.status) || isFinal(current.status)) continue;
    const provider = context.providers.get(attempt.provider);
    if (!provider) continue;
    const result = await gatewayCall(
      context,
      {
        type: 'query',
        provider: provider.name,
        merchantId: order.merchantId,
        subjectKind: 'payment',
        outTradeNo: order.outTradeNo,
        amount: order.totalFen,
      },
      () =>
        provider.queryPayment({
          merchantId: order.merchantId,
          account: attempt.account ?? DEFAULT_ACCOUNT,
          outTradeNo: order.outTradeNo,
        }),
    );
    if (result.status !== 'SUCCESS') continue;
    current = (
      await applyPaymentResult(
        context,
        { ...result, merchantId: order.merchantId, source: 'query' },
        withApplied,
      )
    ).order;
  }
  return current;
}

/** Closes the earlier attempts a gateway may still create (see syncEarlierAttempts), best effort. */
async function closeEarlierAttempts(context: ServiceContext, order: Order): Promise<void> {
  for (const attempt of order.attempts) {
    const provider = attempt.closed === 'absent' ? context.providers.get(attempt.provider) : undefined;
    if (!provider) continue;
    try {
      await provider.closePayment({
        merchantId: order.merchantId,
        account: attempt.account ?? DEFAULT_ACCOUNT,
        outTradeNo: order.outTradeNo,
      });
    } catch (error) {
      context.logger.warn(
        { err: error, outTradeNo: order.outTradeNo, provider: attempt.provider },
        'could not close an earlier attempt of a closed order',
      );
    }
  }
}

/**
 * Moves an unpaid order to the provider the buyer chose instead: its attempt at the current gateway
 * is closed there first (a payment made there meanwhile is applied, and 40006 says so), then the
 * order's gateway binding changes under its row lock, the old one kept in `attempts`. A gateway that
 * closed the attempt will not take this out_trade_no again, so choosing it again is refused; one that
 * never had it (an Alipay QR nobody scanned) may be chosen again. A payment that still arrives
 * through an earlier attempt settles the order (see applyPaymentResult).
 */
async function switchProvider(
  context: ServiceContext,
  request: PayRequest,
  identity: { mchId: string | null; appId: string | null } & RouteChoice,
): Promise<void> {
  const { db } = context.store;
  const row = await findOrder(db, request.merchantId, String(request.out_trade_no));
  // No order yet, the same gateway, or an order that is no longer unpaid: createOrder says what follows.
  if (!row || row.provider === request.provider || row.status !== 'NOTPAY') return;
  const target = String(request.provider);
  if ((row.attempts ?? []).some((attempt) => attempt.provider === target && attempt.closed === 'closed')) {
    throw new PayError(40001, {
      field: 'provider',
      message: `order ${row.out_trade_no} was closed at ${target} when the buyer switched away; it cannot be paid there again`,
    });
  }
  const current = providerFor(context, row.provider);
  let closed: 'closed' | 'absent' = 'closed';
  try {
    const answer = await gatewayCall(
      context,
      {
        type: 'close',
        provider: current.name,
        merchantId: row.merchant_id,
        subjectKind: 'payment',
        outTradeNo: row.out_trade_no,
        amount: row.total_fee,
      },
      () =>
        current.closePayment({
          merchantId: row.merchant_id,
          account: row.account,
          outTradeNo: row.out_trade_no,
        }),
    );
    if (answer === 'absent') closed = 'absent';
  } catch (error) {
    if (!(error instanceof PayError)) throw error;
    if (error.code === 40006) {
      // Paid at the first gateway meanwhile: that payment stands.
      const synced = await syncWithGateway(context, toOrder(row));
      throw new PayError(40006, { field: 'out_trade_no', details: { status: synced.status } });
    }
    if (error.code !== 40005) throw error;
    closed = 'absent';
  }
  const switched = await db
    .transaction()
    .execute(async (tx) => {
      const locked = await lockOrder(tx, row.merchant_id, row.out_trade_no);
      if (locked?.status !== 'NOTPAY' || locked.provider !== row.provider) return undefined;
      const attempts: OrderAttempt[] = [
        ...(locked.attempts ?? []).filter((attempt) => attempt.provider !== locked.provider),
        {
          provider: locked.provider,
          scene: locked.scene,
          mch_id: locked.mch_id,
          app_id: locked.app_id,
          account: locked.account,
          closed,
          at: context.now().toISOString(),
        },
      ].filter((attempt) => attempt.provider !== target);
      return updateOrder(
        tx,
        locked,
        {
          status: locked.status,
          provider: target,
          scene: String(request.scene),
          mch_id: identity.mchId,
          app_id: identity.appId,
          account: identity.account,
          route: identity.route,
          variant: identity.variant,
          attempts: JSON.stringify(attempts),
        },
        context.now(),
      );
    })
    .catch((error) => {
      throw storeFailure(error);
    });
  if (!switched) {
    // Paid or closed between the close and the lock (a callback, the merchant): show what it is now.
    throw new PayError(40010, { message: `order ${row.out_trade_no} changed while switching; retry` });
  }
  const order = toOrder(switched);
  await cacheOrder(context, order);
  announceOrderChange(context, order.merchantId, order.outTradeNo);
  await recordLog(context, {
    type: 'switch',
    status: 'SUCCESS',
    merchantId: order.merchantId,
    subjectKind: 'payment',
    outTradeNo: order.outTradeNo,
    provider: target,
    amount: order.totalFen,
    responseMs: 0,
  });
}

/**
 * Closes an unpaid order at the gateway, then here. If the gateway says it was paid meanwhile, the
 * payment is applied instead and 40006 tells the caller.
 */
export async function closePayment(
  context: ServiceContext,
  merchantId: string,
  outTradeNo: string,
  withClosed?: WithChange<Order>,
): Promise<Order> {
  const order = await getOrder(context, merchantId, outTradeNo);
  if (order.status === 'CLOSED') return order;
  if (isPaid(order.status))
    throw new PayError(40006, { field: 'out_trade_no', details: { status: order.status } });
  const provider = providerFor(context, order.provider);
  // A payment code is reversed rather than closed: the buyer may be confirming it right now.
  const reverse = order.scene === 'micropay' ? provider.reversePayment : undefined;
  try {
    if (reverse) {
      const answer = await gatewayCall(
        context,
        { type: 'reverse', provider: provider.name, outTradeNo, amount: order.totalFen, ...routeTags(order) },
        () => reverse({ merchantId, account: order.account, outTradeNo }),
      );
      if (answer === 'retry')
        throw new PayError(40010, { message: `the gateway asks to repeat the reversal of ${outTradeNo}` });
    } else {
      await gatewayCall(
        context,
        { type: 'close', provider: provider.name, outTradeNo, amount: order.totalFen, ...routeTags(order) },
        () => provider.closePayment({ merchantId, account: order.account, outTradeNo }),
      );
    }
  } catch (error) {
    if (!(error instanceof PayError)) throw error;
    if (error.code === 40006) {
      const synced = await syncWithGateway(context, order);
      throw new PayError(40006, { field: 'out_trade_no', details: { status: synced.status } });
    }
    // The gateway never saw this order (its prepay failed or was never asked for): close it here only.
    if (error.code !== 40005) throw error;
  }
  const closed = await applyPaymentResult(
    context,
    {
      merchantId,
      provider: order.provider,
      outTradeNo,
      transactionId: null,
      amountFen: order.totalFen,
      status: 'CLOSED',
      source: 'query',
      raw: { closedBy: 'merchant' },
    },
    withClosed,
  );
  await closeEarlierAttempts(context, closed.order);
  return closed.order;
}
