/**
 * The merchant's webhooks over the signed API: endpoints (make, list, change, disable, rotate the
 * secret, ping), events with their delivery attempts, and replays. Registered inside the API's
 * scope, so the same signature, allowlist and rate limits apply; everything acts for the request's
 * merchant only.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { PayError } from '../../core/errors.ts';
import { PING_EVENT, WEBHOOK_EVENT_TYPES } from '../../core/webhooks.ts';
import type { VkPay } from '../../vk-pay.ts';
import { ok } from '../envelope.ts';
import { FIELD } from './fields.ts';

const endpointId = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;
const eventId = { type: 'string', pattern: '^evt_[0-9a-f]{24}$' } as const;
const idParams = { type: 'object', properties: { id: endpointId }, required: ['id'] } as const;
const eventParams = { type: 'object', properties: { id: eventId }, required: ['id'] } as const;
const merchantQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { merchant: FIELD.merchant },
} as const;
/** A time as the event routes take it: ISO 8601 or Unix seconds. */
const time = { type: 'string', maxLength: 40, description: 'ISO 8601 or Unix seconds' } as const;

const endpointFields = {
  url: { type: 'string', maxLength: 2048, description: 'where events are POSTed; https in production' },
  order_types: {
    type: ['array', 'null'],
    items: { type: 'string', maxLength: 32 },
    minItems: 1,
    maxItems: 32,
    description: 'the order types this endpoint is for; null or absent: the default endpoint',
  },
  events: {
    type: ['array', 'null'],
    items: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES] },
    minItems: 1,
    maxItems: WEBHOOK_EVENT_TYPES.length,
    description: 'event types wanted; null or absent: all',
  },
  description: { type: ['string', 'null'], maxLength: 200 },
  timeout_ms: {
    type: 'integer',
    minimum: 1000,
    maximum: 30_000,
    description: 'answer timeout, 1000 to 30000 (default 10000)',
  },
  enabled: { type: 'boolean' },
} as const;

/** The times a query may name: within what the store keeps (PostgreSQL's years start at 4713 BC). */
const EARLIEST_MS = Date.UTC(1970, 0, 1);
const LATEST_MS = Date.UTC(9999, 11, 31);

/** A time given as ISO 8601 or Unix seconds, from 1970 to 9999; 40001 otherwise. */
function timeOf(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = /^[0-9]{1,12}$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  const ms = date.getTime();
  if (Number.isNaN(ms) || ms < EARLIEST_MS || ms > LATEST_MS)
    throw new PayError(40001, {
      field,
      message: `${field} must be an ISO 8601 time or Unix seconds, from 1970 to 9999`,
    });
  return date;
}

export const webhookApiRoutes: FastifyPluginAsync<{ vkPay: VkPay }> = async (app, { vkPay }) => {
  const merchantOf = (request: FastifyRequest) => request.merchantId!;
  const tags = ['webhooks'];

  app.post<{ Body: Record<string, unknown> }>(
    '/api/webhooks/endpoints',
    {
      schema: {
        tags,
        summary: 'make a webhook endpoint; its signing secret is in this answer only',
        querystring: merchantQuery,
        body: { type: 'object', additionalProperties: false, required: ['url'], properties: endpointFields },
      },
    },
    async (request) => ok(await vkPay.createWebhookEndpoint(merchantOf(request), request.body)),
  );

  app.get(
    '/api/webhooks/endpoints',
    { schema: { tags, summary: 'the webhook endpoints', querystring: merchantQuery } },
    async (request) => ok({ endpoints: await vkPay.listWebhookEndpoints(merchantOf(request)) }),
  );

  app.get<{ Params: { id: string } }>(
    '/api/webhooks/endpoints/:id',
    { schema: { tags, summary: 'one webhook endpoint', params: idParams, querystring: merchantQuery } },
    async (request) =>
      ok({ endpoint: await vkPay.getWebhookEndpoint(merchantOf(request), request.params.id) }),
  );

  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>(
    '/api/webhooks/endpoints/:id',
    {
      schema: {
        tags,
        summary:
          'change a webhook endpoint (enabled: false disables it and cancels what it still had to receive)',
        params: idParams,
        querystring: merchantQuery,
        body: { type: 'object', additionalProperties: false, properties: endpointFields },
      },
    },
    async (request) =>
      ok({
        endpoint: await vkPay.updateWebhookEndpoint(merchantOf(request), request.params.id, request.body),
      }),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/webhooks/endpoints/:id',
    {
      schema: {
        tags,
        summary: 'disable a webhook endpoint (kept, with its history; PATCH enabled: true brings it back)',
        params: idParams,
        querystring: merchantQuery,
      },
    },
    async (request) =>
      ok({ endpoint: await vkPay.disableWebhookEndpoint(merchantOf(request), request.params.id) }),
  );

  app.post<{ Params: { id: string }; Body: { grace_seconds?: number } | undefined }>(
    '/api/webhooks/endpoints/:id/rotate-secret',
    {
      schema: {
        tags,
        summary: 'a new signing secret; the old one signs beside it for grace_seconds (default 86400)',
        params: idParams,
        querystring: merchantQuery,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            grace_seconds: { type: 'integer', minimum: 0, maximum: 604_800, description: '0 to 604800' },
          },
        },
      },
    },
    async (request) =>
      ok(
        await vkPay.rotateWebhookSecret(
          merchantOf(request),
          request.params.id,
          request.body?.grace_seconds ?? 86_400,
        ),
      ),
  );

  app.post<{ Params: { id: string } }>(
    '/api/webhooks/endpoints/:id/ping',
    {
      schema: {
        tags,
        summary: `send a ${PING_EVENT} event and answer with the first attempt`,
        params: idParams,
        querystring: merchantQuery,
      },
    },
    async (request) => ok(await vkPay.pingWebhookEndpoint(merchantOf(request), request.params.id)),
  );

  app.get<{
    Querystring: {
      type?: string;
      out_trade_no?: string;
      status?: string;
      from?: string;
      to?: string;
      limit?: string;
    };
  }>(
    '/api/webhooks/events',
    {
      schema: {
        tags,
        summary: 'events, newest first, with where each delivery stands',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            type: { type: 'string', enum: [...WEBHOOK_EVENT_TYPES, PING_EVENT] },
            out_trade_no: { type: 'string', maxLength: 32 },
            status: {
              type: 'string',
              enum: ['PENDING', 'DELIVERING', 'DELIVERED', 'FAILED', 'CANCELLED'],
              description: 'events with a delivery in this status (FAILED: retries exhausted)',
            },
            from: time,
            to: time,
            limit: { type: 'string', pattern: '^[0-9]{1,3}$' },
            merchant: FIELD.merchant,
          },
        },
      },
    },
    async (request) => {
      const { type, out_trade_no, status, from, to, limit } = request.query;
      const events = await vkPay.listWebhookEvents(merchantOf(request), {
        type,
        outTradeNo: out_trade_no,
        deliveryStatus: status,
        from: timeOf(from, 'from'),
        to: timeOf(to, 'to'),
        ...(limit ? { limit: Number(limit) } : {}),
      });
      return ok({ events });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/webhooks/events/:id',
    {
      schema: {
        tags,
        summary: 'one event as receivers get it, with every delivery attempt',
        params: eventParams,
        querystring: merchantQuery,
      },
    },
    async (request) => ok(await vkPay.getWebhookEvent(merchantOf(request), request.params.id)),
  );

  app.post<{ Params: { id: string }; Body: { endpoint_id?: string } | undefined }>(
    '/api/webhooks/events/:id/replay',
    {
      schema: {
        tags,
        summary: 'send an event again (to every endpoint it went to, or to endpoint_id)',
        params: eventParams,
        querystring: merchantQuery,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { endpoint_id: endpointId },
        },
      },
    },
    async (request) =>
      ok({
        deliveries: await vkPay.replayWebhookEvent(
          merchantOf(request),
          request.params.id,
          request.body?.endpoint_id,
        ),
      }),
  );

  app.post<{ Body: { from: string; to: string; endpoint_id?: string } }>(
    '/api/webhooks/replay',
    {
      schema: {
        tags,
        summary: 'send again every delivery that exhausted its retries, for events made from .. to',
        querystring: merchantQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['from', 'to'],
          properties: { from: time, to: time, endpoint_id: endpointId },
        },
      },
    },
    async (request) =>
      ok(
        await vkPay.replayFailedWebhooks(merchantOf(request), {
          from: timeOf(request.body.from, 'from')!,
          to: timeOf(request.body.to, 'to')!,
          endpointId: request.body.endpoint_id,
        }),
      ),
  );
};
