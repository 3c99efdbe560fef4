/**
 * The cashier's view of its order: what the buyer may see (never custom, user or gateway ids),
 * kept current from the gateway while unpaid, closed once the checkout has expired, and with the
 * last failure as a unified error when the gateway reports the attempt failed.
 */
import type { Payee } from '../config/security.ts';
import { ERROR_TABLE, type ErrorCode, isPayError, type Lang, PayError } from '../core/errors.ts';
import { isFinal, isPaid, type OrderStatus } from '../core/states.ts';
import { checkoutCancellation } from '../service/checkouts.ts';
import type { Order } from '../service/model.ts';
import type { VkPay } from '../vk-pay.ts';
import { checkoutMerchants } from './checkout-merchants.ts';
import type { CheckoutClaims } from './checkout-token.ts';

export type CheckoutOutcome = 'pending' | 'paid' | 'closed' | 'expired' | 'failed';

export interface CheckoutFailure {
  code: ErrorCode;
  msg: string;
  action: string;
  gatewayCode?: string;
}

export interface CheckoutStatus {
  outTradeNo: string;
  status: OrderStatus;
  outcome: CheckoutOutcome;
  /** The provider and scene chosen for this order, once the buyer chose. */
  provider: string | null;
  scene: string | null;
  failure: CheckoutFailure | null;
  /** When the checkout can no longer be paid (ISO 8601): the client stops polling after it. */
  expiresAt: string;
  /** Who the buyer pays, from the merchant's API app configuration (`apps[].payee`). */
  payee: Payee | null;
  /** Providers the order was closed at when the buyer switched away: they cannot be chosen again. */
  closedProviders: string[];
  /** Present when the merchant cancelled the checkout before the buyer chose a method. */
  closedBy?: 'merchant';
}

/** Gateway wording of a failed attempt -> unified code; the balance case is the one a buyer can fix. */
const FAILURE_PATTERNS: readonly [RegExp, ErrorCode][] = [
  [/余额不足|NOT_?ENOUGH|BALANCE_NOT_ENOUGH/i, 40007],
  [/BANK_?ERROR|SYSTEM_?ERROR/i, 40010],
];

export function failureFromGateway(raw: unknown, lang: Lang): CheckoutFailure {
  const fields = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const words = ['trade_state_desc', 'sub_code', 'sub_msg', 'err_code']
    .map((field) => fields[field])
    .filter((value): value is string => typeof value === 'string');
  const text = words.join(' ');
  const code = FAILURE_PATTERNS.find(([pattern]) => pattern.test(text))?.[1] ?? 50000;
  const spec = ERROR_TABLE[code];
  return {
    code,
    msg: lang === 'en' ? spec.en : spec.zh,
    action: lang === 'en' ? spec.actionEn : spec.actionZh,
    ...(words[0] ? { gatewayCode: words[0] } : {}),
  };
}

async function findOrder(vkPay: VkPay, claims: CheckoutClaims): Promise<Order | null> {
  try {
    return await vkPay.getOrder(claims.m, claims.o);
  } catch (error) {
    if (isPayError(error) && error.code === 40005) return null;
    throw error;
  }
}

/** The order brought up to date: asked at the gateway while unpaid, closed when the checkout expired. */
async function currentOrder(
  vkPay: VkPay,
  claims: CheckoutClaims,
  order: Order,
  expired: boolean,
): Promise<Order> {
  if (isPaid(order.status) || isFinal(order.status)) return order;
  if (expired) {
    try {
      return await vkPay.closePayment(claims.m, claims.o);
    } catch (error) {
      // Paid at the last moment: the close found out and applied it.
      if (isPayError(error) && error.code === 40006) return vkPay.getOrder(claims.m, claims.o);
      throw error;
    }
  }
  try {
    return (await vkPay.queryPayment(claims.m, claims.o)).order;
  } catch (error) {
    // A gateway hiccup is not the buyer's failure: show the stored state and poll again.
    if (isPayError(error) && error.retryable) return order;
    throw error;
  }
}

export async function checkoutStatus(
  vkPay: VkPay,
  claims: CheckoutClaims,
  nowMs: number,
  lang: Lang,
): Promise<CheckoutStatus> {
  const expired = nowMs >= claims.e * 1000;
  const existing = await findOrder(vkPay, claims);
  if (!existing) {
    // The merchant cancelled before the buyer chose: closed, whatever the clock says.
    const cancelled = (await checkoutCancellation(vkPay.context, claims.m, claims.o)) !== null;
    return {
      outTradeNo: claims.o,
      status: expired || cancelled ? 'CLOSED' : 'NOTPAY',
      outcome: cancelled ? 'closed' : expired ? 'expired' : 'pending',
      provider: null,
      scene: null,
      failure: null,
      closedProviders: [],
      ...checkoutFacts(vkPay, claims),
      ...(cancelled ? { closedBy: 'merchant' as const } : {}),
    };
  }
  const order = await currentOrder(vkPay, claims, existing, expired);
  let failure: CheckoutFailure | null = null;
  if (order.status === 'FAILED') {
    const provider = vkPay.context.providers.get(order.provider);
    if (!provider)
      throw new PayError(40001, { field: 'provider', message: `${order.provider} is not configured` });
    const answer = await provider.queryPayment({ merchantId: claims.m, outTradeNo: claims.o });
    failure = failureFromGateway(answer.raw, lang);
  }
  return {
    outTradeNo: order.outTradeNo,
    status: order.status,
    outcome: outcomeOf(order.status, expired),
    provider: order.provider,
    scene: order.scene,
    failure,
    closedProviders: order.attempts
      .filter((attempt) => attempt.closed === 'closed')
      .map((attempt) => attempt.provider),
    ...checkoutFacts(vkPay, claims),
  };
}

function checkoutFacts(vkPay: VkPay, claims: CheckoutClaims): Pick<CheckoutStatus, 'expiresAt' | 'payee'> {
  return {
    expiresAt: new Date(claims.e * 1000).toISOString(),
    payee: checkoutMerchants(vkPay).payeeOf(claims.m),
  };
}

function outcomeOf(status: OrderStatus, expired: boolean): CheckoutOutcome {
  if (isPaid(status)) return 'paid';
  if (status === 'CLOSED') return expired ? 'expired' : 'closed';
  if (status === 'FAILED') return 'failed';
  return 'pending';
}
