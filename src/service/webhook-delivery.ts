/**
 * The delivery worker: on every instance, claims due deliveries (row locks skipped by the others,
 * so no attempt is sent twice), signs them (Standard Webhooks), POSTs them, and records each
 * attempt. A 2xx within the endpoint's timeout acknowledges; anything else is retried on the
 * schedule; an exhausted delivery opens one review. Every endpoint gets its share of each claim,
 * so one failing or slow endpoint never holds back another's.
 */
import { sql } from 'kysely';
import { Agent, request } from 'undici';
import {
  ENDPOINT_PAUSE_AFTER_FAILURES,
  endpointPauseMs,
  retryDelayMs,
  signWebhook,
} from '../core/webhooks.ts';
import { insertLog } from '../store/journal.ts';
import type { OrderRow } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';
import { announceOrderChange, type WebhookEvent } from './events.ts';
import { toOrder } from './model.ts';
import { cacheOrder } from './payments.ts';
import { recordReview } from './reviews.ts';
import { signingSecrets } from './webhook-endpoints.ts';

/** A claimed delivery with what is needed to send it. */
interface Claimed {
  id: number;
  event_id: string;
  endpoint_id: string;
  merchant_id: string;
  attempts: number;
  step: number;
  confirms_order: boolean;
  payload: WebhookEvent;
  out_trade_no: string | null;
  url: string;
  timeout_ms: number;
  source: 'api' | 'config';
  secret_sealed: unknown;
  previous_secret_sealed: unknown;
  previous_secret_until: Date | null;
  failures: number;
}

export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  excerpt: string | null;
  error: string | null;
}

const EXCERPT_BYTES = 256;
const USER_AGENT = 'VK-Pay-Webhooks/1';

/**
 * Claims up to `free` due deliveries for this instance: for each enabled endpoint (in random order)
 * its oldest due deliveries, no more than it may still take in flight from here; a failing endpoint
 * gets one at a time. A claim moves next_attempt_at to the lease's end, so a claimant that dies
 * leaves the delivery due again for the others.
 */
async function claimDue(
  context: ServiceContext,
  free: number,
  inFlight: Map<string, number>,
): Promise<Claimed[]> {
  const { settings, instanceId } = context.webhooks;
  const now = context.now();
  const busy = JSON.stringify(Object.fromEntries(inFlight));
  const { rows } = await sql<Claimed>`
    with chosen as (
      select d.id
      from (select id, failures from webhook_endpoints where enabled order by random()) e
      cross join lateral (
        select w.id from webhook_deliveries w
        where w.endpoint_id = e.id and w.status in ('PENDING', 'DELIVERING') and w.next_attempt_at <= ${now}
        order by w.next_attempt_at, w.id
        limit greatest(
          (case when e.failures >= ${ENDPOINT_PAUSE_AFTER_FAILURES} then 1 else ${settings.concurrencyPerEndpoint} end)
          - coalesce((${busy}::jsonb ->> e.id)::int, 0), 0)
        for update of w skip locked
      ) d
      limit ${free}
    )
    update webhook_deliveries w
    set status = 'DELIVERING', attempts = w.attempts + 1, claimed_by = ${instanceId}, update_date = ${now},
        next_attempt_at = ${now}::timestamptz + (ep.timeout_ms + ${settings.leaseMarginMs}) * interval '1 millisecond'
    from chosen, webhook_events ev, webhook_endpoints ep
    where w.id = chosen.id and ev.id = w.event_id and ep.id = w.endpoint_id
    returning w.id, w.event_id, w.endpoint_id, w.merchant_id, w.attempts, w.step, w.confirms_order,
              ev.payload, ev.out_trade_no, ep.url, ep.timeout_ms, ep.source, ep.secret_sealed,
              ep.previous_secret_sealed, ep.previous_secret_until, ep.failures
  `.execute(context.store.db);
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}

/** The event body as the receiver gets it: the order's sealed fields opened. */
function bodyOf(context: ServiceContext, payload: WebhookEvent): string {
  const order = payload.data.order as { custom?: Record<string, unknown> } | undefined;
  if (!context.sealer || !order?.custom) return JSON.stringify(payload);
  return JSON.stringify({
    ...payload,
    data: { ...payload.data, order: { ...order, custom: context.sealer.unseal(order.custom) } },
  });
}

/** Text a row can hold: no NUL, whatever bytes the receiver answered with. */
function storable(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD');
}

async function send(context: ServiceContext, agent: Agent, delivery: Claimed): Promise<AttemptOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let body: string;
  let signature: string;
  const timestamp = Math.floor(context.now().getTime() / 1000);
  try {
    body = bodyOf(context, delivery.payload);
    signature = signWebhook(
      signingSecrets(
        context,
        {
          id: delivery.endpoint_id,
          source: delivery.source,
          secret_sealed: delivery.secret_sealed,
          previous_secret_sealed: delivery.previous_secret_sealed,
          previous_secret_until: delivery.previous_secret_until,
        },
        context.now(),
      ),
      delivery.event_id,
      timestamp,
      body,
    );
  } catch (error) {
    return { ok: false, statusCode: null, latencyMs: elapsed(), excerpt: null, error: describe(error) };
  }
  const signal = AbortSignal.timeout(delivery.timeout_ms);
  try {
    const answer = await request(delivery.url, {
      method: 'POST',
      dispatcher: agent,
      signal,
      headersTimeout: delivery.timeout_ms,
      bodyTimeout: delivery.timeout_ms,
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'webhook-id': delivery.event_id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
      },
      body,
    });
    const excerpt = await readExcerpt(answer.body);
    const ok = answer.statusCode >= 200 && answer.statusCode < 300;
    return {
      ok,
      statusCode: answer.statusCode,
      latencyMs: elapsed(),
      excerpt,
      error: ok ? null : `answered HTTP ${answer.statusCode}`,
    };
  } catch (error) {
    const timedOut = signal.aborted || /timeout/i.test(describe(error));
    return {
      ok: false,
      statusCode: null,
      latencyMs: elapsed(),
      excerpt: null,
      error: timedOut ? `no answer within ${delivery.timeout_ms} ms` : describe(error),
    };
  }
}

/** The first bytes of the answer, then the rest is thrown away unread. */
async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= EXCERPT_BYTES) break;
    }
  } catch {
    // A body cut off after the status line: the status decides, the excerpt is what arrived.
  } finally {
    body.destroy();
  }
  const bytes = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES);
  return storable(new TextDecoder('utf-8', { fatal: false }).decode(bytes));
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const message = error instanceof Error ? error.message : String(error);
  return storable((cause?.code ? `${cause.code}: ${message}` : message).slice(0, 300));
}

/**
 * Records the attempt and moves the delivery on, in one transaction: delivered (and, for a
 * payment.succeeded of an order waiting on it, the order's user_order_success), or due again per
 * the schedule, or exhausted with its review. A result that arrives after another instance took the
 * delivery over is kept as an attempt and changes nothing else.
 */
async function complete(context: ServiceContext, delivery: Claimed, outcome: AttemptOutcome) {
  const { settings, instanceId } = context.webhooks;
  const now = context.now();
  const attempt = {
    delivery_id: delivery.id,
    event_id: delivery.event_id,
    endpoint_id: delivery.endpoint_id,
    attempt: delivery.attempts,
    instance: instanceId,
    started_at: new Date(now.getTime() - outcome.latencyMs),
    latency_ms: outcome.latencyMs,
    status_code: outcome.statusCode,
    response_excerpt: outcome.excerpt,
    error: outcome.error,
    ok: outcome.ok,
  };

  if (outcome.ok) {
    // One statement, one round trip: the attempt, the delivered mark and the order's confirmation
    // (only if the mark was ours) commit together. As a five-round-trip transaction it held a pool
    // connection, and a slot of the endpoint, long enough to hold deliveries back at callback rates.
    const delivered = context.store.db
      .with('recorded', (db) => db.insertInto('webhook_attempts').values(attempt).returning('id'))
      .with('done', (db) =>
        db
          .updateTable('webhook_deliveries')
          .set({
            status: 'DELIVERED',
            delivered_at: now,
            next_attempt_at: null,
            last_status_code: outcome.statusCode,
            last_error: null,
            update_date: now,
          })
          .where('id', '=', delivery.id)
          .where('attempts', '=', delivery.attempts)
          .where('status', '=', 'DELIVERING')
          .returning('id'),
      );
    if (delivery.confirms_order && delivery.out_trade_no !== null) {
      const confirmed = await delivered
        .updateTable('payment_orders')
        .set((eb) => ({ user_order_success: true, version: eb('version', '+', 1), update_date: now }))
        .where('merchant_id', '=', delivery.merchant_id)
        .where('out_trade_no', '=', delivery.out_trade_no)
        .where('user_order_success', '=', false)
        .where((eb) => eb.exists(eb.selectFrom('done').select('done.id')))
        .returningAll('payment_orders')
        .executeTakeFirst();
      if (confirmed) await announceConfirmed(context, confirmed);
    } else {
      await delivered.selectFrom('done').select('done.id').execute();
    }
    // The failure count read at the claim may be stale; the reset only acts when there is one.
    const recovered =
      delivery.failures > 0 && (await clearEndpointFailures(context, delivery.endpoint_id, now));
    return { result: recovered ? ('recovered' as const) : ('delivered' as const) };
  }

  const delay = retryDelayMs(delivery.step + 1, settings.timeFactor, Math.random());
  const exhausted = delay === null;
  const nextAttemptAt = exhausted ? null : new Date(now.getTime() + delay);
  const moved = await context.store.db.transaction().execute(async (tx) => {
    await tx.insertInto('webhook_attempts').values(attempt).execute();
    const updated = await tx
      .updateTable('webhook_deliveries')
      .set({
        status: exhausted ? 'FAILED' : 'PENDING',
        step: delivery.step + 1,
        next_attempt_at: nextAttemptAt,
        last_status_code: outcome.statusCode,
        last_error: outcome.error,
        update_date: now,
      })
      .where('id', '=', delivery.id)
      .where('attempts', '=', delivery.attempts)
      .where('status', '=', 'DELIVERING')
      .returning('id')
      .executeTakeFirst();
    if (exhausted && updated) {
      await recordReview(
        context,
        {
          merchantId: delivery.merchant_id,
          kind: 'webhook_exhausted',
          reference: `delivery:${delivery.id}`,
          outTradeNo: delivery.out_trade_no,
          details: {
            eventId: delivery.event_id,
            eventType: delivery.payload.type,
            endpointId: delivery.endpoint_id,
            url: delivery.url,
            attempts: delivery.attempts,
            lastError: outcome.error,
          },
        },
        tx,
        // Replayed after its review was resolved and exhausted again: the same case, open again.
        { reopen: true },
      );
      // Counts toward the error-rate alert, like a failed gateway call.
      await insertLog(tx, {
        type: 'webhook',
        status: 'ERROR',
        subjectKind: delivery.payload.type.startsWith('transfer.') ? 'transfer' : 'payment',
        merchantId: delivery.merchant_id,
        outTradeNo: delivery.out_trade_no,
        error: {
          code: 50000,
          message: `webhook ${delivery.event_id} to ${delivery.endpoint_id} exhausted its retries: ${outcome.error}`,
        },
        responseMs: outcome.latencyMs,
      });
    }
    return updated !== undefined;
  });
  // An attempt another instance took over after our lease ran out says nothing more of the endpoint.
  if (moved) await countEndpointFailure(context, delivery.endpoint_id, now);
  return exhausted ? { result: 'exhausted' as const } : { result: 'retry' as const, nextAttemptAt };
}

/**
 * The endpoint failed once more. From the fifth failure in a row it is paused, and nothing goes to
 * it before the pause ends: backed off, not hammered. Kept out of the delivery's transaction, so
 * concurrent completions do not queue on the endpoint's row.
 */
async function countEndpointFailure(context: ServiceContext, endpointId: string, now: Date): Promise<void> {
  const { db } = context.store;
  const counted = await db
    .updateTable('webhook_endpoints')
    .set((eb) => ({ failures: eb('failures', '+', 1) }))
    .where('id', '=', endpointId)
    .returning('failures')
    .executeTakeFirst();
  if (!counted || counted.failures < ENDPOINT_PAUSE_AFTER_FAILURES) return;
  const pausedUntil = new Date(
    now.getTime() + endpointPauseMs(counted.failures, context.webhooks.settings.timeFactor),
  );
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('webhook_endpoints')
      .set({ paused_until: pausedUntil })
      .where('id', '=', endpointId)
      .where('failures', '>=', ENDPOINT_PAUSE_AFTER_FAILURES)
      .execute();
    await tx
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: pausedUntil })
      .where('endpoint_id', '=', endpointId)
      .where('status', '=', 'PENDING')
      .where('next_attempt_at', '<', pausedUntil)
      .execute();
  });
}

/** The endpoint answered: its failures are forgotten, and what waited for its pause is due now. */
async function clearEndpointFailures(
  context: ServiceContext,
  endpointId: string,
  now: Date,
): Promise<boolean> {
  const { rows } = await sql<{ id: string }>`
    with reset as (
      update webhook_endpoints set failures = 0, paused_until = null
      where id = ${endpointId} and failures > 0
      returning id
    ), released as (
      update webhook_deliveries set next_attempt_at = ${now}
      where endpoint_id in (select id from reset) and status = 'PENDING' and next_attempt_at > ${now}
    )
    select id from reset
  `.execute(context.store.db);
  return rows.length > 0;
}

async function announceConfirmed(context: ServiceContext, row: OrderRow): Promise<void> {
  const order = toOrder(row);
  await cacheOrder(context, order);
  announceOrderChange(context, order.merchantId, order.outTradeNo);
}

export interface WebhookWorker {
  /** Claims now: deliveries were committed. */
  wake(): void;
  /** Stops claiming and waits (up to `graceMs`) for the attempts in flight. */
  stop(graceMs?: number): Promise<void>;
  /** Deliveries in flight from this instance. */
  inFlight(): number;
}

/**
 * Starts this instance's delivery worker. It claims when woken by a local commit, when a retry it
 * scheduled falls due, and every pollIntervalMs for work made by other instances.
 */
export function startWebhookWorker(context: ServiceContext): WebhookWorker {
  const { settings } = context.webhooks;
  const agent = new Agent({
    connections: settings.concurrencyPerEndpoint,
    keepAliveTimeout: 4_000,
    connect: { timeout: settings.defaultTimeoutMs },
  });
  const perEndpoint = new Map<string, number>();
  let total = 0;
  let claiming = false;
  let again = false;
  /** The last claim found work: a finished delivery makes room for more. */
  let backlog = false;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let timerAt = Number.POSITIVE_INFINITY;
  const idle = new Set<() => void>();

  const schedule = (atMs: number) => {
    if (stopped || atMs >= timerAt) return;
    if (timer) clearTimeout(timer);
    timerAt = atMs;
    timer = setTimeout(
      () => {
        timer = null;
        timerAt = Number.POSITIVE_INFINITY;
        claim();
        schedule(Date.now() + settings.pollIntervalMs);
      },
      Math.max(atMs - Date.now(), 0),
    );
    timer.unref();
  };

  const finish = (delivery: Claimed) => {
    const left = (perEndpoint.get(delivery.endpoint_id) ?? 1) - 1;
    if (left <= 0) perEndpoint.delete(delivery.endpoint_id);
    else perEndpoint.set(delivery.endpoint_id, left);
    total -= 1;
    if (total === 0) for (const resolve of idle) resolve();
  };

  const deliver = async (delivery: Claimed) => {
    try {
      const outcome = await send(context, agent, delivery);
      const completed = await complete(context, delivery, outcome);
      if (completed.nextAttemptAt) schedule(completed.nextAttemptAt.getTime());
      // The endpoint is back: what waited for it is due now.
      if (completed.result === 'recovered') backlog = true;
    } catch (error) {
      // The attempt could not be recorded (the store is down): the lease runs out and the delivery
      // is due again, here or on another instance.
      context.logger.error(
        { err: error, deliveryId: delivery.id, eventId: delivery.event_id },
        'webhook delivery could not be recorded',
      );
    } finally {
      finish(delivery);
      if (backlog) claim();
    }
  };

  const claim = () => {
    if (stopped) return;
    if (claiming) {
      again = true;
      return;
    }
    claiming = true;
    void (async () => {
      try {
        do {
          again = false;
          const free = settings.maxInFlight - total;
          if (free <= 0) break;
          const claimed = await claimDue(context, free, perEndpoint);
          backlog = claimed.length > 0;
          for (const delivery of claimed) {
            perEndpoint.set(delivery.endpoint_id, (perEndpoint.get(delivery.endpoint_id) ?? 0) + 1);
            total += 1;
            void deliver(delivery);
          }
          // A full claim means more may be due.
          if (claimed.length === free) again = true;
        } while (again && !stopped);
      } catch (error) {
        if (!stopped) context.logger.warn({ err: error }, 'webhook claim failed; retrying on the next tick');
      } finally {
        claiming = false;
      }
    })();
  };

  schedule(Date.now());
  const worker: WebhookWorker = {
    wake: claim,
    inFlight: () => total,
    async stop(graceMs = 5_000) {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (total > 0) {
        await new Promise<void>((resolve) => {
          const done = () => {
            idle.delete(done);
            clearTimeout(limit);
            resolve();
          };
          const limit = setTimeout(done, graceMs);
          idle.add(done);
        });
      }
      await agent.close().catch(() => {});
    },
  };
  return worker;
}
