/**
 * Payment codes (付款码, scene `micropay`): the counter scans the buyer's code and the gateway
 * answers with the payment itself. That answer is applied like a query's, through the state
 * machine; a buyer still confirming (USERPAYING) is asked about on a short schedule and, once the
 * confirmation window passes, the payment is reversed (micropay-job.ts). The code is passed to the
 * gateway call only: never stored, logged or answered back.
 */
import { isPayError, PayError, toPayError } from '../core/errors.ts';
import { isPaid } from '../core/states.ts';
import type { PaymentResult, Provider } from '../providers/provider.ts';
import { findOrder, updateOrder } from '../store/orders.ts';
import type { ServiceContext } from './context.ts';
import { gatewayCall, routeTags } from './gateway-call.ts';
import { type Order, toOrder } from './model.ts';
import { applyPaymentResult, cacheOrder } from './payments.ts';
import { storeFailure } from './store-failure.ts';

export interface MicropaySettings {
  /** How often a payment whose buyer is confirming is asked about at the gateway. */
  pollMs: number;
  /**
   * How long the buyer has to confirm, from the moment the code is sent; then the payment is
   * reversed. WeChat suggests polling for about 45 s (and reversing no sooner than 15 s after the
   * payment call); Alipay about 30 s.
   */
  confirmWindowMs: number;
  /** Reverse calls in one go when the gateway asks for the same call again (recall / retry_flag). */
  reverseAttempts: number;
  /** The wait between those calls. */
  reverseRetryDelayMs: number;
  /** After a reversal the gateway refused, the next try comes this much later (a review is open). */
  refusedReverseGapMs: number;
  /** Orders one instance claims per tick, and gateway calls at once within it. */
  batchSize: number;
  concurrency: number;
}

export const DEFAULT_MICROPAY: MicropaySettings = {
  pollMs: 5_000,
  confirmWindowMs: 45_000,
  reverseAttempts: 3,
  reverseRetryDelayMs: 1_000,
  refusedReverseGapMs: 600_000,
  batchSize: 50,
  concurrency: 8,
};

export function micropaySettings(context: ServiceContext): MicropaySettings {
  return { ...DEFAULT_MICROPAY, ...context.micropay };
}

/** paid: the money arrived. confirming: the buyer is confirming (a password); the service polls. */
export type MicropayState = 'paid' | 'confirming';

export interface MicropayOutcome {
  state: MicropayState;
  /** Until when the buyer may confirm; the payment is reversed after it. Null once paid. */
  confirmBy: string | null;
  /** What to tell the cashier. */
  message: { zh: string; en: string };
}

const MESSAGES: Record<MicropayState, MicropayOutcome['message']> = {
  paid: { zh: '支付成功', en: 'Paid' },
  confirming: {
    zh: '顾客正在确认支付（如输入密码），请稍候查询订单',
    en: 'The buyer is confirming the payment (entering a password, say): query the order shortly',
  },
};

export function micropayOutcome(order: Order): MicropayOutcome {
  const state: MicropayState = isPaid(order.status) ? 'paid' : 'confirming';
  return { state, confirmBy: state === 'paid' ? null : order.expireAt, message: MESSAGES[state] };
}

/**
 * Only a gateway that can reverse an unconfirmed payment takes payment codes: the provider's
 * `reversePayment` is what says so.
 */
export function checkTakesPaymentCodes(provider: Provider): void {
  if (!provider.reversePayment) {
    throw new PayError(40001, {
      field: 'scene',
      message: `${provider.name} does not take payment codes (scene micropay); use another scene or provider`,
    });
  }
}

/** An error with the buyer's code cut out of its message and details, whatever echoed it. */
export function withoutAuthCode(error: unknown, authCode: string): PayError {
  const payError = toPayError(error);
  const scrub = (text: string) => text.split(authCode).join('[auth_code]');
  const text = JSON.stringify(payError.details ?? null);
  if (!payError.message.includes(authCode) && !text.includes(authCode)) return payError;
  return new PayError(payError.code, {
    ...(payError.field ? { field: payError.field } : {}),
    ...(payError.gatewayCode ? { gatewayCode: payError.gatewayCode } : {}),
    ...(payError.text ? { text: payError.text } : {}),
    message: scrub(payError.message),
    details: JSON.parse(scrub(text)),
    outcomeUnknown: payError.outcomeUnknown,
  });
}

export interface CodeCall {
  authCode: string;
  notifyUrl: string;
  clientIp: string | null;
  other?: Record<string, unknown>;
  platform: string | null;
  userAgent: string | null;
}

/**
 * Sends the buyer's code for `order` (made or found by createOrder) and applies the answer. A paid
 * order is answered as paid, and one whose buyer is confirming as confirming, without sending the
 * code again; the sending itself holds a cache lock (Redis across instances) and is claimed with the
 * order's version, so of two identical requests at once only one reaches the gateway.
 */
export async function payWithCode(
  context: ServiceContext,
  provider: Provider,
  found: Order,
  call: CodeCall,
): Promise<{ order: Order; outcome: MicropayOutcome }> {
  if (isPaid(found.status) || found.status === 'USERPAYING')
    return { order: found, outcome: micropayOutcome(found) };
  const settings = micropaySettings(context);
  // One code in flight per order, across instances: a request that finds one answers as it stands.
  const sending = `micropay:sending:${found.merchantId}:${found.outTradeNo}`;
  const free = await context.cache.setIfAbsent(sending, 1, settings.confirmWindowMs).catch((error) => {
    // Without the cache the gateway's own idempotency still holds (the same out_trade_no is one trade).
    context.logger.warn({ err: error }, 'cache unavailable; sending the payment code without its lock');
    return true;
  });
  if (!free) {
    const current = await findOrder(context.store.db, found.merchantId, found.outTradeNo);
    const order = current ? toOrder(current) : found;
    return { order, outcome: micropayOutcome(order) };
  }
  try {
    return await sendCode(context, provider, found, call, settings);
  } finally {
    await context.cache.delete(sending).catch(() => {});
  }
}

async function sendCode(
  context: ServiceContext,
  provider: Provider,
  found: Order,
  call: CodeCall,
  settings: MicropaySettings,
): Promise<{ order: Order; outcome: MicropayOutcome }> {
  const now = context.now();
  const claimed = await updateOrder(
    context.store.db,
    found,
    {
      status: found.status,
      expire_at: new Date(now.getTime() + settings.confirmWindowMs),
      next_check_at: new Date(now.getTime() + settings.pollMs),
    },
    now,
  ).catch((error) => {
    throw storeFailure(error);
  });
  if (!claimed) {
    // Another request for this order is sending a code right now: that one's answer is the outcome.
    const current = await findOrder(context.store.db, found.merchantId, found.outTradeNo);
    const order = current ? toOrder(current) : found;
    return { order, outcome: micropayOutcome(order) };
  }
  const order = toOrder(claimed);
  await cacheOrder(context, order);
  let result: PaymentResult | undefined;
  try {
    const created = await gatewayCall(
      context,
      {
        type: 'create',
        provider: provider.name,
        outTradeNo: order.outTradeNo,
        amount: order.totalFen,
        userId: order.userId,
        ip: call.clientIp,
        userAgent: call.userAgent,
        ...routeTags(order),
      },
      () =>
        provider
          .createPayment({
            merchantId: order.merchantId,
            account: order.account,
            outTradeNo: order.outTradeNo,
            totalFen: order.totalFen,
            subject: order.subject,
            scene: 'micropay',
            openid: order.openid,
            clientIp: call.clientIp,
            notifyUrl: call.notifyUrl,
            expireAt: order.expireAt ? new Date(order.expireAt) : null,
            ...(call.other ? { other: call.other } : {}),
            platform: call.platform,
            userAgent: call.userAgent,
            authCode: call.authCode,
          })
          .catch((error: unknown) => {
            throw withoutAuthCode(error, call.authCode);
          }),
    );
    result = created.result;
  } catch (error) {
    const payError = isPayError(error) ? error : withoutAuthCode(error, call.authCode);
    // The gateway has this order paid already (an earlier send whose answer was lost): read it back.
    if (payError.code === 40006) result = await queryGateway(context, provider, order);
    // Refused: nothing was taken; the order stays unpaid and another code may be sent for it.
    else if (!payError.outcomeUnknown) throw payError;
  }
  // No answer, or one without the payment's state: the buyer may have paid. Treated as confirming,
  // so the schedule asks the gateway and reverses it if it never settles.
  const applied = await applyPaymentResult(context, {
    ...(result ?? pendingResult(order, provider.name)),
    merchantId: order.merchantId,
    source: 'query',
  });
  if (applied.order.status === 'FAILED') {
    throw new PayError(40001, {
      field: 'auth_code',
      gatewayCode: 'PAYERROR',
      message: `the gateway reports payment ${order.outTradeNo} failed`,
      text: {
        zh: '支付失败',
        en: 'The payment failed',
        actionZh: '请顾客刷新付款码或更换付款方式后重试',
        actionEn: 'Ask the buyer to refresh the code or pay another way, then try again',
      },
    });
  }
  return { order: applied.order, outcome: micropayOutcome(applied.order) };
}

async function queryGateway(
  context: ServiceContext,
  provider: Provider,
  order: Order,
): Promise<PaymentResult> {
  return gatewayCall(
    context,
    {
      type: 'query',
      provider: provider.name,
      outTradeNo: order.outTradeNo,
      amount: order.totalFen,
      ...routeTags(order),
    },
    () =>
      provider.queryPayment({
        merchantId: order.merchantId,
        account: order.account,
        outTradeNo: order.outTradeNo,
        scene: 'micropay',
      }),
  );
}

function pendingResult(order: Order, provider: string): PaymentResult {
  return {
    merchantId: order.merchantId,
    provider,
    outTradeNo: order.outTradeNo,
    transactionId: null,
    amountFen: order.totalFen,
    status: 'USERPAYING',
    source: 'query',
    raw: { pending: 'the code was sent; the gateway gave no outcome' },
  };
}
