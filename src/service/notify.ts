/**
 * The callback pipeline: verify and decrypt (the provider), apply in one transaction (the service),
 * answer in the gateway's format. Anything short of "applied or already applied" answers failure,
 * so the gateway calls again.
 */
import { isPayError, PayError } from '../core/errors.ts';
import type { NotifyAck, NotifyEvent } from '../providers/provider.ts';
import { recordError, recordLog, type ServiceContext } from './context.ts';
import { providerFor } from './gateway-call.ts';
import { applyPaymentResult } from './payments.ts';
import { applyRefundResult } from './refunds.ts';

export interface NotifyRequest {
  provider: string;
  merchantId: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  ip?: string | null;
}

export interface NotifyOutcome {
  ack: NotifyAck;
  /** What happened, for logs and tests: applied, already_applied, ignored, handler_failed, or a code. */
  outcome: string;
  error?: PayError;
}

export async function handleNotify(context: ServiceContext, request: NotifyRequest): Promise<NotifyOutcome> {
  let provider: ReturnType<typeof providerFor>;
  try {
    provider = providerFor(context, request.provider);
  } catch (error) {
    return {
      ack: { status: 404, headers: {}, body: '' },
      outcome: 'unknown_provider',
      error: error as PayError,
    };
  }
  const started = performance.now();
  let event: NotifyEvent;
  try {
    event = await provider.parseNotify(request.merchantId, request.headers, request.rawBody);
  } catch (error) {
    // A callback that does not verify leaves its own rows here; one that does is logged by the
    // apply below, inside the transaction that applies it (one commit per callback).
    const payError = isPayError(error) ? error : new PayError(50000, { cause: error });
    await recordError(context, payError, { provider: provider.name });
    await recordLog(context, {
      type: 'notify',
      status: 'ERROR',
      provider: provider.name,
      ip: request.ip ?? null,
      error: { code: payError.code, gatewayCode: payError.gatewayCode, message: payError.message },
      responseMs: Math.round(performance.now() - started),
    });
    return { ack: provider.ackNotify(false, payError), outcome: String(payError.code), error: payError };
  }
  try {
    if (event.kind === 'payment') {
      const applied = await applyPaymentResult(context, {
        ...event.result,
        merchantId: request.merchantId,
        source: 'notify',
      });
      const ok = applied.outcome !== 'handler_failed';
      return {
        ack: provider.ackNotify(ok, applied.outcome === 'handler_failed' ? applied.error : undefined),
        outcome: applied.outcome,
        ...(applied.outcome === 'handler_failed' ? { error: applied.error } : {}),
      };
    }
    const applied = await applyRefundResult(context, {
      ...event.result,
      merchantId: request.merchantId,
      source: 'notify',
    });
    return { ack: provider.ackNotify(true), outcome: applied.outcome };
  } catch (error) {
    const payError = isPayError(error) ? error : new PayError(50000, { cause: error });
    if (!isPayError(error)) await recordError(context, payError, { provider: request.provider });
    // Money the order cannot take, recorded for a person: asking again would change nothing.
    if ((payError.details as { reviewId?: unknown } | undefined)?.reviewId !== undefined) {
      return { ack: provider.ackNotify(true), outcome: 'review', error: payError };
    }
    return {
      ack: provider.ackNotify(false, payError),
      outcome: String(payError.code),
      error: payError,
    };
  }
}
