/**
 * The emulator as a Fastify plugin: gateway.do (query string and form body merged), the payer
 * pages and the control API under /sandbox/alipay. Encapsulated, so its form parser and error
 * handlers stay inside; register it with a prefix to mount it anywhere.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AppRegistration } from './apps.ts';
import { controlRoutes } from './control-routes.ts';
import { AlipayGateway, type AlipayGatewayOptions, type GatewayAnswer, PAGE_METHODS } from './gateway.ts';
import { pageRoutes } from './page-routes.ts';
import { errorPage, payerPage } from './payer-html.ts';
import { royaltyControlRoutes } from './royalty.ts';
import type { WireParams } from './signing.ts';
import { fundControlRoutes } from './transfers.ts';

export interface AlipaySandboxOptions extends AlipayGatewayOptions {
  /** Use this gateway (e.g. one a test holds) instead of creating one. */
  gateway?: AlipayGateway;
  /** Apps registered at start. */
  apps?: AppRegistration[];
  /** Absolute base URL of the plugin as browsers reach it; default: from the request's Host. */
  publicBaseUrl?: string;
}

export const SANDBOX_PATH = '/sandbox/alipay';

/** Form values are decoded once; a repeated key keeps its last value. */
function parseForm(text: string): WireParams {
  return Object.fromEntries(new URLSearchParams(text));
}

function mergedParams(request: FastifyRequest): WireParams {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const body = request.body;
  const params: WireParams = {};
  for (const [key, value] of Object.entries(query))
    params[key] = Array.isArray(value) ? String(value.at(-1)) : String(value);
  if (body && typeof body === 'object') {
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) params[key] = String(value);
  }
  return params;
}

export function alipaySandboxPlugin(options: AlipaySandboxOptions = {}): FastifyPluginAsync {
  return async (scope: FastifyInstance) => {
    const gateway = options.gateway ?? (await AlipayGateway.create(options));
    for (const registration of options.apps ?? []) await gateway.apps.register(registration);
    if (options.apps?.length) gateway.changed();
    // Stopped with the server, like the WeChat Pay plugin: timers end and the state file is saved.
    scope.addHook('onClose', async () => gateway.stop());
    // Any request may change trades or apps: the state file (if any) is saved soon after.
    scope.addHook('onResponse', async () => gateway.changed());
    scope.decorate('alipayGateway', gateway);

    const prefix = scope.prefix;
    const basePath = `${prefix}${SANDBOX_PATH}`;
    const sandboxBaseUrl = (request: FastifyRequest) =>
      `${options.publicBaseUrl ?? `${request.protocol}://${request.host}${prefix}`}${SANDBOX_PATH}`;

    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_request, body, done) => {
        done(null, parseForm(body as string));
      },
    );

    const send = (
      request: FastifyRequest,
      reply: FastifyReply,
      answer: GatewayAnswer,
      params: WireParams,
    ) => {
      if (answer.kind === 'hang') {
        reply.hijack();
        gateway.holdForever(() => request.raw.socket.destroy());
        return reply;
      }
      if (answer.kind === 'cashier') {
        return reply
          .type('text/html; charset=utf-8')
          .send(payerPage(answer.trade, `${basePath}/pay/${answer.trade.payToken}`));
      }
      // A browser that posted a page.pay form sees an error page, as at Alipay, not JSON.
      if (PAGE_METHODS.has(params.method ?? '')) {
        const inner = JSON.parse(answer.body) as Record<string, Record<string, unknown>>;
        const response = Object.values(inner)[0] ?? {};
        return reply.type('text/html; charset=utf-8').send(errorPage(response));
      }
      return reply.type('application/json; charset=utf-8').send(answer.body);
    };

    const gatewayHandler = async (request: FastifyRequest, reply: FastifyReply) => {
      const params = mergedParams(request);
      return send(request, reply, await gateway.answer(params, sandboxBaseUrl(request)), params);
    };
    scope.get('/gateway.do', gatewayHandler);
    scope.post('/gateway.do', gatewayHandler);

    await scope.register(pageRoutes, { prefix: SANDBOX_PATH, gateway, basePath });
    await scope.register(controlRoutes, { prefix: SANDBOX_PATH, gateway, sandboxBaseUrl });
    await scope.register(fundControlRoutes, { prefix: `${SANDBOX_PATH}/transfers`, gateway });
    await scope.register(royaltyControlRoutes, { prefix: `${SANDBOX_PATH}/royalty`, gateway });
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    alipayGateway?: AlipayGateway;
  }
}
