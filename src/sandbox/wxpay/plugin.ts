/**
 * The emulator as one Fastify plugin: APIv3 endpoints under /v3, the control API under /sandbox,
 * and the payer page under /sandbox/payer, all relative to wherever the host mounts it.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { apiRoutes } from './api-routes.ts';
import { controlRoutes } from './control-routes.ts';
import { WxpayGateway, type WxpayGatewayOptions } from './gateway.ts';
import { payerPageRoutes } from './payer-page.ts';
import { profitSharingApiRoutes, profitSharingControlRoutes } from './profit-sharing-routes.ts';
import { transferApiRoutes, transferControlRoutes } from './transfers.ts';

export interface WxpaySandboxPluginOptions extends WxpayGatewayOptions {
  /** Use an existing gateway (to share it or drive it from code); one is created otherwise. */
  gateway?: WxpayGateway;
  /** The emulator's public base URL for h5_url and payer links; taken from each request if unset. */
  publicUrl?: string;
}

export type WxpaySandboxPlugin = FastifyPluginAsync & { gateway: WxpayGateway };

export function wxpaySandboxPlugin(options: WxpaySandboxPluginOptions = {}): WxpaySandboxPlugin {
  const gateway = options.gateway ?? new WxpayGateway(options);
  const plugin = async (app: FastifyInstance) => {
    const rootPrefix = app.prefix;
    const payerBaseUrl = (request: FastifyRequest) =>
      (options.publicUrl ?? `${request.protocol}://${request.host}${rootPrefix}`).replace(/\/+$/, '');
    // Timers and hung requests must go before the server waits for its connections to close.
    app.addHook('preClose', async () => {
      gateway.stop();
    });
    // Any request may change trades, refunds or merchants: the state file (if any) is saved soon after.
    app.addHook('onResponse', async () => {
      gateway.changed();
    });
    await app.register(apiRoutes, { prefix: '/v3', gateway, payerBaseUrl });
    await app.register(controlRoutes, { prefix: '/sandbox', gateway, payerBaseUrl });
    await app.register(payerPageRoutes, { prefix: '/sandbox/payer', gateway });
    await app.register(transferApiRoutes, { prefix: '/v3/fund-app/mch-transfer', gateway });
    await app.register(transferControlRoutes, { prefix: '/sandbox/transfers', gateway });
    await app.register(profitSharingApiRoutes, { prefix: '/v3/profitsharing', gateway });
    await app.register(profitSharingControlRoutes, { prefix: '/sandbox/profitsharing', gateway });
  };
  return Object.assign(plugin, { gateway });
}
