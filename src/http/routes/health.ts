/** Liveness, readiness (database and cache reachable) and Prometheus metrics. */
import type { FastifyPluginAsync } from 'fastify';
import { sql } from 'kysely';
import { PayError } from '../../core/errors.ts';
import type { VkPay } from '../../vk-pay.ts';
import type { ServiceMetrics } from '../metrics.ts';
import { createAllowlist } from '../plugins/allowlist.ts';

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

  // Metrics describe the business (orders by status, gateway latency): for the operators only.
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (!admins.allows(request.ip))
      throw new PayError(40009, { message: `IP ${request.ip} may not read metrics` });
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
