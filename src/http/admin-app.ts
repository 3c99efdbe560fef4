/**
 * The admin listener: liveness, readiness, Prometheus metrics and the operators' /admin routes on
 * a port of their own, for probes and scrapers inside the cluster. Plain HTTP even in production
 * (nothing here takes a payment or a secret), guarded by its own IP allowlist, and answering in the
 * same envelope as the service. Proxies are not trusted: the allowlist sees the connecting address.
 * The operator console is served here as well, for operators inside the cluster.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { PayError } from '../core/errors.ts';
import type { VkPay } from '../vk-pay.ts';
import { consoleOptions } from './app.ts';
import { installErrorHandler } from './error-handler.ts';
import type { ServiceMetrics } from './metrics.ts';
import { createAllowlist } from './plugins/allowlist.ts';
import { consoleRoutes } from './routes/console.ts';
import { healthRoutes } from './routes/health.ts';

export interface AdminAppOptions {
  vkPay: VkPay;
  /** The service's metrics, so both listeners show one registry. */
  metrics: ServiceMetrics;
  /** IPs or CIDR ranges that may use this listener. */
  allowlist: string[];
  logger?: FastifyBaseLogger;
  /** Serve the operator console at /console here too (default true). */
  console?: boolean;
}

export async function buildAdminApp(options: AdminAppOptions): Promise<FastifyInstance> {
  const allowlist = createAllowlist(options.allowlist);
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    trustProxy: false,
    bodyLimit: 16 * 1024,
    connectionTimeout: 20_000,
    requestTimeout: 10_000,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // As the service's: unknown fields are refused, every problem listed.
    ajv: {
      customOptions: { removeAdditional: false, allErrors: true, coerceTypes: false, useDefaults: true },
    },
  });
  installErrorHandler(app);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    if (!allowlist.allows(request.ip)) {
      done(new PayError(40009, { message: `IP ${request.ip} may not use the admin listener` }));
      return;
    }
    done();
  });
  await app.register(healthRoutes, {
    vkPay: options.vkPay,
    metrics: options.metrics,
    adminAllowlist: options.allowlist,
  });
  if (options.console !== false) await app.register(consoleRoutes, consoleOptions(options.vkPay));
  return app;
}
