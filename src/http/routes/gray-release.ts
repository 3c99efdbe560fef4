/**
 * The merchant's gray release routes over the signed API: list them with the share in force, set a
 * route's share or remove the stored one, roll a route back. Registered inside the API's scope, so the same signature,
 * allowlist and rate limits apply; everything acts for the request's merchant only, and every
 * change is recorded with the app that made it.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { RouteState } from '../../service/route-overrides.ts';
import type { VkPay } from '../../vk-pay.ts';
import { ok } from '../envelope.ts';
import { FIELD } from './fields.ts';

const routeParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } },
} as const;
const merchantQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { merchant: FIELD.merchant },
} as const;

/** A route as the API shows it: `share` is the one in force, `configured_share` the file's. */
function routeView(route: RouteState) {
  return {
    id: route.id,
    match: route.match,
    stable: route.stable,
    canary: route.canary,
    share: route.effectiveShare,
    configured_share: route.share,
    overridden: route.overridden,
  };
}

export const routeApiRoutes: FastifyPluginAsync<{ vkPay: VkPay }> = async (app, { vkPay }) => {
  const merchantOf = (request: FastifyRequest) => request.merchantId!;
  const changedBy = (request: FastifyRequest) => `app:${request.apiApp?.appId ?? 'unknown'}`;
  const tags = ['routes'];

  app.get(
    '/api/routes',
    {
      schema: {
        tags,
        summary: "the merchant's routes as configured, each with the share in force",
        querystring: merchantQuery,
      },
    },
    async (request) => ok({ routes: (await vkPay.listRoutes(merchantOf(request))).map(routeView) }),
  );

  // Only the share changes: orders already made keep their account, and nothing is closed.
  app.put<{ Params: { id: string }; Body: { share: number } }>(
    '/api/routes/:id/share',
    {
      schema: {
        tags,
        summary: "set a route's share (percent of payers on its canary account) on every instance",
        params: routeParams,
        querystring: merchantQuery,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['share'],
          properties: {
            share: {
              type: 'number',
              minimum: 0,
              maximum: 100,
              description: 'percent of payers on the canary account, 0 to 100 in steps of 0.01',
            },
          },
        },
      },
    },
    async (request) => {
      const route = await vkPay.setRouteShare(
        merchantOf(request),
        request.params.id,
        request.body.share,
        changedBy(request),
      );
      return ok({ route: routeView(route) });
    },
  );

  // The stored share goes, and the config file's is in force again: recorded like a set.
  app.delete<{ Params: { id: string } }>(
    '/api/routes/:id/share',
    {
      schema: {
        tags,
        summary: "remove a route's stored share: the config file's is in force again on every instance",
        params: routeParams,
        querystring: merchantQuery,
      },
    },
    async (request) => {
      const route = await vkPay.clearRouteShare(merchantOf(request), request.params.id, changedBy(request));
      return ok({ route: routeView(route) });
    },
  );

  // Every new payment of the route goes to its stable account on every instance at once; then the
  // canary side's unpaid orders are closed at their gateway (a failed close opens a review).
  app.post<{ Params: { id: string } }>(
    '/api/routes/:id/rollback',
    {
      schema: {
        tags,
        summary: 'roll a route back to its stable account',
        params: routeParams,
        querystring: merchantQuery,
      },
    },
    async (request) => {
      const report = await vkPay.rollbackRoute(merchantOf(request), request.params.id, changedBy(request));
      return ok({
        route: { id: report.route.id, share: report.route.effectiveShare, stable: report.route.stable },
        closed: report.closed,
        paid: report.paid,
        reviewed: report.reviewed,
      });
    },
  );
};
