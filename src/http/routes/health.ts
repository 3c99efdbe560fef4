/**
 * Liveness, readiness (database and cache reachable), and for the operators (admin allowlist):
 * Prometheus metrics and payment statistics.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { PayError } from '../../core/errors.ts';
import { paymentStats } from '../../service/monitoring.ts';
import { yesterdayInChina } from '../../service/reconcile.ts';
import { routeStats } from '../../service/route-monitoring.ts';
import type { VkPay } from '../../vk-pay.ts';
import type { ServiceMetrics } from '../metrics.ts';
import { createAllowlist } from '../plugins/allowlist.ts';

const DAY_MS = 24 * 3600_000;

export const healthRoutes: FastifyPluginAsync<{
  vkPay: VkPay;
  metrics: ServiceMetrics;
  adminAllowlist: string[];
}> = async (app, { vkPay, metrics, adminAllowlist }) => {
  const admins = createAllowlist(adminAllowlist);
  app.get('/healthz', { schema: { hide: true } }, async () => ({
    code: 0,
    msg: 'ok',
    data: { status: 'alive' },
  }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const checks = await Promise.all([
      sql`select 1`.execute(vkPay.store.db).then(
        () => ['database', 'ok'] as const,
        () => ['database', 'unreachable'] as const,
      ),
      vkPay.cache.get('readyz').then(
        () => ['cache', 'ok'] as const,
        () => ['cache', 'unreachable'] as const,
      ),
    ]);
    const ready = checks.every(([, state]) => state === 'ok');
    const data = {
      ...Object.fromEntries(checks),
      storage: vkPay.store.backend,
      cache_kind: vkPay.cache.kind,
    };
    if (!ready)
      return reply
        .status(503)
        .send({ code: 40010, msg: 'not ready', action: 'check database and cache', data });
    return { code: 0, msg: 'ok', data };
  });

  // Metrics and statistics describe the business (orders, gateway latency): for the operators only.
  const adminOnly = async (request: FastifyRequest) => {
    if (!admins.allows(request.ip))
      throw new PayError(40009, { message: `IP ${request.ip} may not read ${request.routeOptions.url}` });
  };
  app.get('/metrics', { schema: { hide: true }, onRequest: adminOnly }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.post<{ Body: { provider: string; merchant: string; account?: string; date?: string } }>(
    '/admin/reconcile',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['operations'],
        summary:
          "match the gateway's trade bill of a China date, of each of the merchant's accounts (or of one), with the orders and refunds here",
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['provider', 'merchant'],
          properties: {
            provider: { type: 'string', maxLength: 32 },
            merchant: { type: 'string', maxLength: 64 },
            account: {
              type: 'string',
              maxLength: 32,
              description: "default: every one of the merchant's accounts",
            },
            date: {
              type: 'string',
              pattern: '^\\d{4}-\\d{2}-\\d{2}$',
              description: 'default: yesterday (China time)',
            },
          },
        },
      },
    },
    async (request) => {
      const { provider, merchant, account, date } = request.body;
      const report = await vkPay.reconcile(
        provider,
        merchant,
        date ?? yesterdayInChina(vkPay.context.now()),
        account,
      );
      return { code: 0, msg: 'ok', data: report };
    },
  );

  app.get<{
    Querystring: {
      provider?: string;
      merchant?: string;
      account?: string;
      from?: string;
      to?: string;
      limit?: string;
    };
  }>(
    '/admin/reconciliations',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['operations'],
        summary:
          "each reconciled (or failed) bill day of each merchant's account: matched, healed, mismatches",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            provider: { type: 'string', maxLength: 32 },
            merchant: { type: 'string', maxLength: 64 },
            account: { type: 'string', maxLength: 32 },
            from: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            to: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
          },
        },
      },
    },
    async (request) => {
      const { provider, merchant, account, from, to, limit } = request.query;
      const days = await vkPay.listReconciledDays({
        ...(provider ? { provider } : {}),
        ...(merchant ? { merchantId: merchant } : {}),
        ...(account ? { account } : {}),
        ...(from ? { from } : {}),
        ...(to ? { to } : {}),
        ...(limit ? { limit: Number(limit) } : {}),
      });
      return { code: 0, msg: 'ok', data: { days } };
    },
  );

  app.get<{ Querystring: { from?: string; to?: string } }>(
    '/admin/stats',
    {
      onRequest: adminOnly,
      schema: {
        tags: ['operations'],
        summary:
          'payment statistics: success rate, gateway response times, errors by code, and the stable and canary sides of each route',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: {
              type: 'string',
              format: 'date-time',
              maxLength: 40,
              description: 'default: 24 hours before `to`',
            },
            to: { type: 'string', format: 'date-time', maxLength: 40, description: 'default: now' },
          },
        },
      },
    },
    async (request) => {
      const to = request.query.to ? new Date(request.query.to) : vkPay.context.now();
      const from = request.query.from ? new Date(request.query.from) : new Date(to.getTime() - DAY_MS);
      if (!(from < to) || to.getTime() - from.getTime() > 31 * DAY_MS)
        throw new PayError(40001, {
          field: 'from',
          message: 'from must be before to, and the window at most 31 days',
        });
      const [stats, routes] = await Promise.all([
        paymentStats(vkPay.context, { from, to }),
        routeStats(vkPay.context, { from, to }),
      ]);
      return { code: 0, msg: 'ok', data: { ...stats, routes } };
    },
  );
};
