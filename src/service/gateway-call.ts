/**
 * Every call to a gateway goes through here: timed, logged to payment_logs with its response time,
 * and, when it fails, recorded in payment_errors with the unified code and the gateway's own.
 */
import { isPayError, PayError } from '../core/errors.ts';
import type { SubjectKind } from '../core/journal-subject.ts';
import type { Provider } from '../providers/provider.ts';
import { recordError, recordLog, type ServiceContext } from './context.ts';

export interface CallDescription {
  /** What was asked of the gateway: create, query, close, refund, refund_query, notify. */
  type: string;
  provider: string;
  /** Whose and which thing outTradeNo numbers: the journal rows are read back by these. */
  merchantId: string;
  subjectKind: SubjectKind;
  outTradeNo?: string | null;
  amount?: number | null;
  userId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  /** The route and side that chose the order's account (null: no route). */
  route?: string | null;
  variant?: string | null;
}

/** The fields that tag a call of `order` (or its refund) with its merchant, kind, route and side. */
export function routeTags(order: { merchantId: string; route: string | null; variant: string | null }) {
  return {
    merchantId: order.merchantId,
    subjectKind: 'payment' as const,
    route: order.route,
    variant: order.variant,
  };
}

export async function gatewayCall<T>(
  context: ServiceContext,
  call: CallDescription,
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  const log = (error?: PayError) => {
    const ms = performance.now() - started;
    for (const observe of context.gatewayObservers) {
      try {
        observe({
          provider: call.provider,
          type: call.type,
          ms,
          ok: !error,
          route: call.route ?? null,
          variant: call.variant ?? null,
        });
      } catch {
        // Metrics must never fail a payment.
      }
    }
    return recordLog(context, {
      type: call.type,
      status: error ? 'ERROR' : 'SUCCESS',
      outTradeNo: call.outTradeNo ?? null,
      provider: call.provider,
      amount: call.amount ?? null,
      userId: call.userId ?? null,
      ip: call.ip ?? null,
      userAgent: call.userAgent ?? null,
      error: error
        ? {
            code: error.code,
            gatewayCode: error.gatewayCode,
            message: error.message,
            outcomeUnknown: error.outcomeUnknown,
          }
        : undefined,
      responseMs: Math.round(ms),
      subjectKind: call.subjectKind,
      merchantId: call.merchantId,
      route: call.route ?? null,
      variant: call.variant ?? null,
    });
  };
  try {
    const result = await work();
    await log();
    return result;
  } catch (error) {
    const payError = isPayError(error)
      ? error
      : new PayError(50000, { message: `${call.provider} ${call.type} failed unexpectedly`, cause: error });
    await recordError(context, payError, {
      subjectKind: call.subjectKind,
      merchantId: call.merchantId,
      outTradeNo: call.outTradeNo ?? null,
      provider: call.provider,
    });
    await log(payError);
    throw payError;
  }
}

export function providerFor(context: ServiceContext, name: string): Provider {
  const provider = context.providers.get(name);
  if (!provider) {
    throw new PayError(40001, { field: 'provider', message: `provider ${name} is not configured` });
  }
  return provider;
}
