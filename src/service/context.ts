/** What every use case needs: the store, the cache, the handlers, a clock and a logger. */
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Cache } from '../cache/cache.ts';
import { ERROR_TABLE, type PayError } from '../core/errors.ts';
import type { SubjectKind } from '../core/journal-subject.ts';
import { sanitize } from '../core/sanitize.ts';
import type { ValidationRules } from '../core/validate.ts';
import type { Provider } from '../providers/provider.ts';
import type { Store } from '../store/db.ts';
import { type ErrorEntry, insertError, insertLog, type LogEntry } from '../store/journal.ts';
import type { Database } from '../store/schema.ts';
import type { HandlerRegistry } from './handlers.ts';
import type { MicropaySettings } from './micropay.ts';
import type { ProfitSharingSettings } from './profit-sharing-settings.ts';
import type { Route } from './routing.ts';
import type { FieldSealer } from './sealing.ts';
import type { TransferSettings } from './transfer-settings.ts';
import type { WebhookRuntime } from './webhook-settings.ts';

/** What an observer learns of each gateway call; route and variant are null for an order no route chose. */
export interface GatewayCallObserved {
  provider: string;
  type: string;
  ms: number;
  ok: boolean;
  route: string | null;
  variant: string | null;
}

export interface ServiceContext {
  store: Store;
  cache: Cache;
  handlers: HandlerRegistry;
  logger: Logger;
  now: () => Date;
  /** Rules for payment parameters; order types come from the handler registry. */
  rules: Omit<ValidationRules, 'orderTypes'>;
  /** How long a query answer stays in the cache. */
  resultCacheTtlMs: number;
  /** How long an order without its own expiry may be paid. */
  orderExpireMs: number;
  /** The configured gateways by name (wxpay, alipay, ...). */
  providers: Map<string, Provider>;
  /** Each merchant's routes, which choose the gateway account of a new payment (first match wins). */
  routes: Map<string, Route[]>;
  /** Seals configured fields of `custom` before they are stored; handlers get them open. */
  sealer: FieldSealer | null;
  /** Told of every gateway call (metrics). A throwing observer is ignored. */
  gatewayObservers: Array<(call: GatewayCallObserved) => void>;
  /** The public base URL gateways call back on: notifications go to {publicUrl}/notify/{provider}/{merchant}. */
  publicUrl: string;
  /** Merchant webhooks: settings, sealed secrets and the delivery worker's wake-up call. */
  webhooks: WebhookRuntime;
  /** Transfer limits and approval; the defaults when unset. */
  transfers?: TransferSettings;
  /** Split rules per order type and the split job's schedule; the defaults when unset. */
  profitSharing?: ProfitSharingSettings;
  /** Payment codes: the confirmation window and its polling (DEFAULT_MICROPAY where unset). */
  micropay?: Partial<MicropaySettings>;
}

/**
 * A write that commits with a change or not at all (the console's audit row of an operator's
 * action): run in the change's transaction after its own writes; throwing rolls the change back.
 */
export type WithChange<T> = (tx: Transaction<Database>, change: T) => Promise<void>;

/** Writes a payment_logs row. A failure to log never fails the payment; it goes to the process log. */
export async function recordLog(context: ServiceContext, entry: LogEntry): Promise<void> {
  try {
    await insertLog(context.store.db, {
      ...entry,
      error: entry.error === undefined ? undefined : sanitize(entry.error),
    });
  } catch (error) {
    context.logger.error({ err: error, type: entry.type }, 'could not write payment_logs row');
  }
}

/** Writes a payment_errors row for a failure, with its payload sanitised. */
export async function recordError(
  context: ServiceContext,
  error: PayError,
  where: {
    subjectKind: SubjectKind;
    merchantId: string | null;
    outTradeNo?: string | null;
    provider?: string | null;
    payload?: unknown;
  },
): Promise<void> {
  const spec = ERROR_TABLE[error.code];
  const entry: ErrorEntry = {
    code: error.code,
    message: error.message,
    action: spec.actionZh,
    gatewayCode: error.gatewayCode ?? null,
    subjectKind: where.subjectKind,
    merchantId: where.merchantId,
    outTradeNo: where.outTradeNo ?? null,
    provider: where.provider ?? null,
    payload: sanitize({
      ...(where.payload === undefined ? {} : { payload: where.payload }),
      details: error.details,
    }),
    stack: describeCause(error),
  };
  try {
    await insertError(context.store.db, entry);
  } catch (failure) {
    context.logger.error({ err: failure, code: error.code }, 'could not write payment_errors row');
  }
  context.logger.warn(
    { code: error.code, gatewayCode: error.gatewayCode, outTradeNo: where.outTradeNo },
    error.message,
  );
}

function describeCause(error: PayError): string | null {
  const cause = error.cause;
  if (cause instanceof Error) return cause.stack ?? cause.message;
  return error.stack ?? null;
}

export function orderCacheKey(merchantId: string, outTradeNo: string): string {
  return `order:${merchantId}:${outTradeNo}`;
}
