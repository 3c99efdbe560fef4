/**
 * The console's webhook deliveries: every delivery of the operator's merchants (viewer), one with
 * its event and attempts, and replaying it (operator) through the service's replayEvent as the
 * API's replay, with the audit row in the transaction of the change.
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type ConsoleDelivery,
  DELIVERY_STATUSES,
  findDelivery,
  searchDeliveries,
} from '../../console/deliveries.ts';
import { PayError } from '../../core/errors.ts';
import { audit } from '../../service/console/audit.ts';
import { getEvent, replayEvent } from '../../service/webhook-ops.ts';
import type { DeliveryStatus } from '../../store/schema.ts';
import type { VkPay } from '../../vk-pay.ts';
import { type DeliveryFilter, deliveriesPage, deliveryPage } from '../console/deliveries-pages.ts';
import { DATE, detailQuery, idParams, LANG } from '../console/schemas.ts';
import { consoleUser, mayActOn, merchantScope, requireRole, wantsHtml } from '../console-access.ts';
import { text } from '../console-texts.ts';
import { ok } from '../envelope.ts';
import type { ConsolePageKit } from './console.ts';

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    merchant: { type: 'string', maxLength: 64 },
    endpoint: { type: 'string', maxLength: 64 },
    type: { type: 'string', maxLength: 64 },
    status: {
      type: 'string',
      enum: ['', ...DELIVERY_STATUSES.map((status) => status.toLowerCase()), ...DELIVERY_STATUSES],
    },
    from: DATE,
    to: DATE,
    after: { type: 'string', maxLength: 200 },
    lang: LANG,
  },
} as const;
const replayBody = {
  type: 'object',
  additionalProperties: false,
  properties: { _csrf: { type: 'string', maxLength: 200 }, lang: LANG },
} as const;

/** The delivery, if it is among the operator's merchants; another merchant's answers as not found. */
async function deliveryInScope(vkPay: VkPay, request: FastifyRequest): Promise<ConsoleDelivery> {
  const id = Number((request.params as { id: string }).id);
  const delivery = await findDelivery(vkPay.store.db, id);
  if (!delivery || !mayActOn(request, delivery.merchantId))
    throw new PayError(40005, { field: 'id', message: `delivery ${id} not found` });
  return delivery;
}

export function deliveryPages(vkPay: VkPay) {
  return async (scope: FastifyInstance, kit: ConsolePageKit): Promise<void> => {
    const db = vkPay.store.db;

    scope.get(
      '/deliveries',
      { preHandler: requireRole('viewer'), schema: { querystring: listQuery } },
      async (request, reply) => {
        const query = request.query as Record<string, string | undefined>;
        const allowed = merchantScope(request);
        const status = query.status ? (query.status.toUpperCase() as DeliveryStatus) : undefined;
        const page = await searchDeliveries(db, {
          merchantIds: allowed ?? undefined,
          merchantId: query.merchant?.trim() || undefined,
          endpointId: query.endpoint?.trim() || undefined,
          eventType: query.type || undefined,
          status: status ? [status] : undefined,
          from: kit.dayStart(query.from, 'from'),
          to: kit.dayStart(query.to, 'to', 1),
          after: query.after || undefined,
        });
        const filter: DeliveryFilter = {
          merchant: query.merchant?.trim() || undefined,
          endpoint: query.endpoint?.trim() || undefined,
          type: query.type || undefined,
          status: status?.toLowerCase(),
          from: query.from || undefined,
          to: query.to || undefined,
        };
        return kit.answer(request, reply, {
          path: '/console/deliveries',
          data: { rows: page.rows, next: page.next },
          page: (ctx) => deliveriesPage(ctx, { ...page, filter }),
        });
      },
    );

    const detailView = async (
      request: FastifyRequest,
      reply: FastifyReply,
      delivery: ConsoleDelivery,
      notice?: string,
    ) => {
      const { event, deliveries } = await getEvent(vkPay.context, delivery.merchantId, delivery.eventId);
      const attempts = deliveries.find((entry) => entry.id === delivery.id)?.attempt_log ?? [];
      return kit.answer(request, reply, {
        path: `/console/deliveries/${delivery.id}`,
        data: { delivery, attempts, event },
        page: (ctx) =>
          deliveryPage(
            ctx,
            { delivery, attempts, event },
            { mayReplay: consoleUser(request).role !== 'viewer', ...(notice ? { notice } : {}) },
          ),
      });
    };

    scope.get(
      '/deliveries/:id',
      { preHandler: requireRole('viewer'), schema: { params: idParams, querystring: detailQuery } },
      async (request, reply) => {
        const delivery = await deliveryInScope(vkPay, request);
        const done = (request.query as { done?: string }).done === '1';
        return detailView(
          request,
          reply,
          delivery,
          done ? text(request.console.lang, 'replayed') : undefined,
        );
      },
    );

    scope.post(
      '/deliveries/:id/replay',
      { preHandler: requireRole('operator'), schema: { params: idParams, body: replayBody } },
      async (request, reply) => {
        const delivery = await deliveryInScope(vkPay, request);
        const actor = kit.actorOf(request);
        await replayEvent(
          vkPay.context,
          delivery.merchantId,
          delivery.eventId,
          delivery.endpointId,
          async (tx, before, after) => {
            const mine = (states: typeof before) => states.find((state) => state.id === delivery.id) ?? null;
            await audit(tx, {
              actor,
              action: 'delivery.replayed',
              target: `delivery:${delivery.id}`,
              before: { merchantId: delivery.merchantId, eventId: delivery.eventId, ...mine(before) },
              after: { merchantId: delivery.merchantId, eventId: delivery.eventId, ...mine(after) },
            });
          },
        );
        if (wantsHtml(request))
          return kit.redirect(request, reply, `/console/deliveries/${delivery.id}?done=1`);
        const replayed = await findDelivery(db, delivery.id);
        return ok({ delivery: replayed, csrfToken: kit.csrfToken(request, reply) });
      },
    );
  };
}
