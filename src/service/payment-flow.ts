/**
 * Payments at the gateway: create an order and its prepay, query (healing lost callbacks), close.
 * Each gateway answer is applied through applyPaymentResult, the same code as the callback.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PayError } from '../core/errors.ts';
import { isFinal, isPaid } from '../core/states.ts';
import { type Scene, validatePaymentInput } from '../core/validate.ts';
import type { ClientPayParams } from '../providers/provider.ts';
import type { ServiceContext } from './context.ts';
import { gatewayCall, providerFor } from './gateway-call.ts';
import type { Order } from './model.ts';
import { applyPaymentResult, type CreateOrderRequest, createOrder, getOrder } from './payments.ts';

export interface PayRequest extends Omit<CreateOrderRequest, 'mchId' | 'appId'> {
  userAgent?: string | null;
  returnUrl?: string | null;
  /** Extra gateway fields passed through unchanged. */
  other?: Record<string, unknown>;
}

export interface PayResponse {
  order: Order;
  /** What the client needs to invoke the payment in its scene. */
  client: ClientPayParams;
}

export function notifyUrl(context: ServiceContext, provider: string, merchantId: string): string {
  return `${context.publicUrl.replace(/\/+$/, '')}/notify/${provider}/${encodeURIComponent(merchantId)}`;
}

/** Creates the order (idempotent on out_trade_no) and the gateway payment for its scene. */
export async function pay(context: ServiceContext, request: PayRequest): Promise<PayResponse> {
  // Every parameter problem is reported before anything else is looked up.
  validatePaymentInput(request, { ...context.rules, orderTypes: context.handlers.orderTypes() });
  const provider = providerFor(context, String(request.provider));
  const identity = provider.identity(request.merchantId, request.scene as Scene);
  const { order } = await createOrder(context, { ...request, mchId: identity.mchId, appId: identity.appId });
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
    },
    () =>
      provider.createPayment({
        merchantId: order.merchantId,
        outTradeNo: order.outTradeNo,
        totalFen: order.totalFen,
        subject: order.subject,
        scene: order.scene as Scene,
        openid: order.openid,
        clientIp: request.clientIp ?? null,
        notifyUrl: notifyUrl(context, provider.name, order.merchantId),
        returnUrl: request.returnUrl ?? null,
        expireAt: request.expireAt ?? null,
        ...(request.other ? { other: request.other } : {}),
      }),
  );
  return { order, client: created.client };
}

export interface QueryOptions {
  /** Wait (polling the store) until the payment's handler has run, up to awaitMaxMs. */
  awaitNotify?: boolean;
  awaitMaxMs?: number;
}

export interface QueryResponse {
  order: Order;
  /** The payer paid. */
  orderPaid: boolean;
  /** The business handler for the order's type finished. */
  userOrderSuccess: boolean;
}

/**
 * The order's state: from the cache when it is settled, otherwise from the gateway, whose answer is
 * applied like a callback, so a lost callback heals on the first query.
 */
export async function queryPayment(
  context: ServiceContext,
  merchantId: string,
  outTradeNo: string,
  options: QueryOptions = {},
): Promise<QueryResponse> {
  let order = await getOrder(context, merchantId, outTradeNo);
  const deadline = Date.now() + Math.min(Math.max(options.awaitMaxMs ?? 20_000, 0), 40_000);
  for (;;) {
    if (isPaid(order.status) || isFinal(order.status)) break;
    order = await syncWithGateway(context, order);
    if (isPaid(order.status) || !options.awaitNotify || Date.now() >= deadline) break;
    await sleep(500);
  }
  return { order, orderPaid: isPaid(order.status), userOrderSuccess: order.userOrderSuccess };
}

async function syncWithGateway(context: ServiceContext, order: Order): Promise<Order> {
  const provider = providerFor(context, order.provider);
  const result = await gatewayCall(
    context,
    {
      type: 'query',
      provider: provider.name,
      outTradeNo: order.outTradeNo,
      amount: order.totalFen,
      userId: order.userId,
    },
    () => provider.queryPayment({ merchantId: order.merchantId, outTradeNo: order.outTradeNo }),
  );
  const applied = await applyPaymentResult(context, {
    ...result,
    merchantId: order.merchantId,
    source: 'query',
  });
  return applied.order;
}

/**
 * Closes an unpaid order at the gateway, then here. If the gateway says it was paid meanwhile, the
 * payment is applied instead and 40006 tells the caller.
 */
export async function closePayment(
  context: ServiceContext,
  merchantId: string,
  outTradeNo: string,
): Promise<Order> {
  const order = await getOrder(context, merchantId, outTradeNo);
  if (order.status === 'CLOSED') return order;
  if (isPaid(order.status))
    throw new PayError(40006, { field: 'out_trade_no', details: { status: order.status } });
  const provider = providerFor(context, order.provider);
  try {
    await gatewayCall(
      context,
      { type: 'close', provider: provider.name, outTradeNo, amount: order.totalFen },
      () => provider.closePayment({ merchantId, outTradeNo }),
    );
  } catch (error) {
    if (!(error instanceof PayError)) throw error;
    if (error.code === 40006) {
      const synced = await syncWithGateway(context, order);
      throw new PayError(40006, { field: 'out_trade_no', details: { status: synced.status } });
    }
    // The gateway never saw this order (its prepay failed or was never asked for): close it here only.
    if (error.code !== 40005) throw error;
  }
  const closed = await applyPaymentResult(context, {
    merchantId,
    provider: order.provider,
    outTradeNo,
    transactionId: null,
    amountFen: order.totalFen,
    status: 'CLOSED',
    source: 'query',
    raw: { closedBy: 'merchant' },
  });
  return closed.order;
}
