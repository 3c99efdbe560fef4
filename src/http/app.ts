/** The VK-Pay HTTP service: a Fastify app of encapsulated plugins over one VkPay instance. */
import { randomUUID } from 'node:crypto';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { type ApiApp, DEFAULT_SECURITY, type SecurityConfig } from '../config/security.ts';
import { PayError } from '../core/errors.ts';
import type { GatewayCallObserved } from '../service/context.ts';
import type { VkPay } from '../vk-pay.ts';
import { configureCheckoutMerchants } from './checkout-merchants.ts';
import { type CheckoutSettings, configureCheckout } from './checkout-token.ts';
import { answerError, installErrorHandler } from './error-handler.ts';
import { createMetrics, routeLabels, type ServiceMetrics } from './metrics.ts';
import { installCheckoutCors } from './plugins/checkout-cors.ts';
import { installTextGuard } from './plugins/text-guard.ts';
import { apiRoutes } from './routes/api.ts';
import { checkoutRoutes } from './routes/checkout.ts';
import { consoleRoutes } from './routes/console.ts';
import { alertPages } from './routes/console-alerts.ts';
import { deliveryPages } from './routes/console-deliveries.ts';
import { consoleMerchantPages } from './routes/console-merchants.ts';
import { consoleOrderPages } from './routes/console-orders.ts';
import { consoleOverviewPages } from './routes/console-overview.ts';
import { consoleReconciliationPages } from './routes/console-reconciliation.ts';
import { reviewPages } from './routes/console-reviews.ts';
import { consoleRoutePages } from './routes/console-routes.ts';
import { transferPages } from './routes/console-transfers.ts';
import { healthRoutes } from './routes/health.ts';
import { notifyRoutes } from './routes/notify.ts';
import { profitSharingNotifyRoutes } from './routes/profit-sharing.ts';
import { transferNotifyRoutes } from './routes/transfers.ts';

/** Every answer's security headers; helmet adds the rest on HTML pages. */
const BASE_SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'referrer-policy': 'no-referrer',
};
const SECURITY_HEADER_ENTRIES = Object.entries(BASE_SECURITY_HEADERS);

export interface AppOptions {
  vkPay: VkPay;
  apps?: ApiApp[];
  security?: Partial<SecurityConfig>;
  /** The service's pino logger; without one, Fastify logs nothing. */
  logger?: FastifyBaseLogger;
  /** Serve HTTPS directly with this certificate and key (PEM). */
  https?: { cert: string; key: string } | null;
  /** The checkout tokens' HMAC key; every instance behind one load balancer needs the same. */
  checkout?: CheckoutSettings;
  /** Serve the API reference at /docs (default true; the service turns it off in production). */
  docs?: boolean;
  /** Serve the operator console at /console (default true). */
  console?: boolean;
  /** Extra plugins mounted beside the API (the gateway emulators in development). */
  mount?: (app: FastifyInstance) => Promise<void>;
  now?: () => number;
}

export interface VkPayApp extends FastifyInstance {
  metrics: ServiceMetrics;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { vkPay } = options;
  const security: SecurityConfig = { ...DEFAULT_SECURITY, ...options.security };
  const app = Fastify({
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key } } : {}),
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    trustProxy: security.trustedProxies.length > 0 ? security.trustedProxies : false,
    bodyLimit: security.bodyLimitBytes,
    connectionTimeout: security.requestTimeoutMs * 2,
    requestTimeout: security.requestTimeoutMs,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Long enough for any identifier the routes take, so their schemas name a too-long one.
    routerOptions: { maxParamLength: 512 },
    // Errors before routing (bad URL encoding, an overlong parameter) answer in the envelope too.
    frameworkErrors: (error, request, reply) => {
      for (const [name, value] of SECURITY_HEADER_ENTRIES) reply.header(name, value);
      answerError(error, request, reply);
    },
    ajv: {
      customOptions: { removeAdditional: false, allErrors: true, coerceTypes: false, useDefaults: true },
    },
  });
  installErrorHandler(app);
  installTextGuard(app);
  if (options.checkout) configureCheckout(vkPay, options.checkout);
  configureCheckoutMerchants(vkPay, options.apps ?? []);
  installCheckoutCors(app, vkPay);
  const metrics = createMetrics(vkPay);
  app.decorate('metrics', metrics);
  const configuredRoutes = new Set(
    [...vkPay.context.routes.values()].flatMap((routes) => routes.map((route) => route.id)),
  );
  const observe = (call: GatewayCallObserved) =>
    metrics.gatewayLatency.observe(
      {
        provider: call.provider,
        operation: call.type,
        result: call.ok ? 'ok' : 'error',
        ...routeLabels(configuredRoutes, call),
      },
      call.ms / 1000,
    );
  vkPay.context.gatewayObservers.push(observe);
  app.addHook('onClose', async () => {
    vkPay.context.gatewayObservers.splice(vkPay.context.gatewayObservers.indexOf(observe), 1);
  });

  // A callback hook, not an async one: it runs on every request and has nothing to wait for.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    for (const [name, value] of SECURITY_HEADER_ENTRIES) reply.header(name, value);
    // The seed's requireHTTPS: plain HTTP only from a trusted proxy that says the client used https.
    if (security.requireHttps && request.protocol !== 'https' && !request.url.startsWith('/healthz')) {
      done(new PayError(40009, { message: 'HTTPS is required' }));
      return;
    }
    done();
  });
  // One counter child per method, route and status, found by a string key, instead of hashing the
  // labels on every request.
  const requestCounters = new Map<string, { inc(): void }>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unknown';
    const key = `${request.method} ${route} ${reply.statusCode}`;
    let counter = requestCounters.get(key);
    if (!counter) {
      counter = metrics.requests.labels(request.method, route, String(reply.statusCode));
      requestCounters.set(key, counter);
    }
    counter.inc();
    done();
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'VK-Pay API',
        version: '0.1.0',
        description: 'Unified payments over WeChat Pay and Alipay',
      },
    },
  });
  await app.register(healthRoutes, { vkPay, metrics, adminAllowlist: security.adminAllowlist });
  await app.register(notifyRoutes, { vkPay, metrics });
  await app.register(transferNotifyRoutes(vkPay));
  await app.register(profitSharingNotifyRoutes(vkPay));
  await app.register(apiRoutes, {
    vkPay,
    apps: options.apps ?? [],
    security,
    ...(options.now ? { now: options.now } : {}),
  });
  // Pages for people (the cashier, the API docs) get helmet's full set; JSON answers need only the
  // few headers set for every request above, which keeps helmet's work off the hot API paths.
  await app.register(async (pages) => {
    await pages.register(helmet, { contentSecurityPolicy: false, global: true });
    if (options.docs !== false) await pages.register(swaggerUi, { routePrefix: '/docs' });
    await pages.register(checkoutRoutes, { vkPay, security, ...(options.now ? { now: options.now } : {}) });
  });
  if (options.console !== false) await app.register(consoleRoutes, consoleOptions(vkPay));
  if (options.mount) await options.mount(app);
  return app;
}

/** The console's settings on a listener: production from the configuration, the public URL's origin. */
export function consoleOptions(vkPay: VkPay) {
  let origins: string[] = [];
  try {
    origins = [new URL(vkPay.context.publicUrl).origin];
  } catch {
    // No usable public URL: the console accepts its own origin only.
  }
  const production = vkPay.config.env === 'production';
  const pages = [
    consoleOverviewPages({ vkPay }),
    consoleOrderPages(),
    reviewPages(vkPay),
    transferPages(vkPay),
    deliveryPages(vkPay),
    alertPages(vkPay),
    consoleReconciliationPages({ vkPay, production }),
    consoleMerchantPages({ vkPay, production }),
    consoleRoutePages({ vkPay, production }),
  ];
  return { prefix: '/console', vkPay, production, origins, pages };
}
