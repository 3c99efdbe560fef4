/**
 * The console's Routes page (gray release): a merchant's routes with the share in force and the
 * orders each side took (viewer); a share set (admin) and a rollback (operator) through the same
 * service calls as the API and the command line, recorded as made by `console:<user>`, with the
 * audit row (share before and after) written in the change's own transaction.
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ROUTE_COUNT_DAYS, routesWithCounts } from '../../console/routes.ts';
import { PayError } from '../../core/errors.ts';
import { audit } from '../../service/console/audit.ts';
import type { WithinShareChange } from '../../service/route-overrides.ts';
import type { VkPay } from '../../vk-pay.ts';
import { gatewayText } from '../console/gateway-texts.ts';
import { consolePageKit } from '../console/page-kit.ts';
import { routesPage } from '../console/routes-pages.ts';
import { LANG } from '../console/schemas.ts';
import { consoleUser, mayActOn, requireMerchant, requireRole, wantsHtml } from '../console-access.ts';
import { ok } from '../envelope.ts';

const CSRF = { type: 'string', maxLength: 200 };
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { merchant: { type: 'string', maxLength: 64 }, lang: LANG },
} as const;
const routeParams = {
  type: 'object',
  required: ['merchant', 'route'],
  properties: {
    merchant: { type: 'string', minLength: 1, maxLength: 64 },
    route: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
  },
} as const;
const shareBody = {
  type: 'object',
  additionalProperties: false,
  required: ['share'],
  properties: {
    // A form sends text; a JSON client a number.
    share: { anyOf: [{ type: 'number' }, { type: 'string', maxLength: 16 }] },
    _csrf: CSRF,
    lang: LANG,
  },
} as const;
const emptyBody = {
  type: 'object',
  additionalProperties: false,
  properties: { _csrf: CSRF, lang: LANG },
} as const;

/** A share from a form's text or a JSON number; the service checks its range and steps. */
function shareOf(value: number | string): number {
  if (typeof value === 'number') return value;
  if (!/^[0-9]{1,3}(\.[0-9]{1,2})?$/.test(value.trim()))
    throw new PayError(40001, {
      field: 'share',
      message: 'share must be a percent from 0 to 100, in steps of 0.01',
    });
  return Number(value.trim());
}

export function consoleRoutePages(options: { vkPay: VkPay; production: boolean }) {
  const { vkPay } = options;
  const kit = consolePageKit(options.production);

  /** Merchants with routes that the operator may see. */
  const merchantsOf = (request: FastifyRequest) =>
    [...vkPay.context.routes.keys()].filter((id) => mayActOn(request, id)).sort();

  const view = async (
    request: FastifyRequest,
    reply: FastifyReply,
    merchant: string | undefined,
    state: { notice?: string; data?: Record<string, unknown> } = {},
  ) => {
    if (merchant) requireMerchant(request, merchant);
    const merchants = merchantsOf(request);
    const chosen = merchant ?? merchants[0] ?? null;
    const routes = chosen ? await routesWithCounts(vkPay.context, chosen, vkPay.context.now()) : [];
    const role = consoleUser(request).role;
    return kit.answer(request, reply, {
      path: chosen ? `/console/routes?merchant=${encodeURIComponent(chosen)}` : '/console/routes',
      data: { merchant: chosen, merchants, routes, countDays: ROUTE_COUNT_DAYS, ...state.data },
      page: (ctx) =>
        routesPage(ctx, {
          merchant: chosen,
          merchants,
          routes,
          countDays: ROUTE_COUNT_DAYS,
          role,
          notice: state.notice,
        }),
    });
  };

  /** The console's audit row, in the transaction of the share's change. */
  const auditIn =
    (request: FastifyRequest, action: string, merchant: string, route: string): WithinShareChange =>
    (tx, change) =>
      audit(tx, {
        actor: kit.actorOf(request),
        action,
        target: `${merchant}:${route}`,
        before: { share: change.before },
        after: { share: change.after },
      });

  const changedBy = (request: FastifyRequest) => `console:${consoleUser(request).name}`;

  return async (scope: FastifyInstance) => {
    scope.get(
      '/routes',
      { preHandler: requireRole('viewer'), schema: { querystring: listQuery } },
      async (request, reply) =>
        view(request, reply, (request.query as { merchant?: string }).merchant || undefined),
    );

    // Changing how many payers go to a new account is a setting: admins only.
    scope.post(
      '/routes/:merchant/:route/share',
      { preHandler: requireRole('admin'), schema: { params: routeParams, body: shareBody } },
      async (request, reply) => {
        const { merchant, route } = request.params as { merchant: string; route: string };
        requireMerchant(request, merchant);
        const share = shareOf((request.body as { share: number | string }).share);
        const state = await vkPay.setRouteShare(
          merchant,
          route,
          share,
          changedBy(request),
          auditIn(request, 'route.share_set', merchant, route),
        );
        if (!wantsHtml(request)) return ok({ route: state, csrfToken: kit.csrfToken(request, reply) });
        return view(request, reply, merchant, {
          notice: gatewayText(request.console.lang, 'shareSet', { route, share: state.effectiveShare }),
        });
      },
    );

    // Rolling back only moves payers to the stable account: operators may do it in an incident.
    scope.post(
      '/routes/:merchant/:route/rollback',
      { preHandler: requireRole('operator'), schema: { params: routeParams, body: emptyBody } },
      async (request, reply) => {
        const { merchant, route } = request.params as { merchant: string; route: string };
        requireMerchant(request, merchant);
        const report = await vkPay.rollbackRoute(
          merchant,
          route,
          changedBy(request),
          auditIn(request, 'route.rolled_back', merchant, route),
        );
        const result = { closed: report.closed, paid: report.paid, reviewed: report.reviewed };
        if (!wantsHtml(request))
          return ok({ route: report.route, ...result, csrfToken: kit.csrfToken(request, reply) });
        return view(request, reply, merchant, {
          notice: gatewayText(request.console.lang, 'rolledBack', { route, ...result }),
        });
      },
    );
  };
}
