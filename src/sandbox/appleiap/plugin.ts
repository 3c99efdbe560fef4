/**
 * The emulator as one Fastify plugin: the production Server API at its root, the sandbox Server
 * API under /storekit-sandbox (the two hosts Apple has), each with the legacy POST /verifyReceipt,
 * and the control API under /sandbox.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { apiRoutes } from './api-routes.ts';
import { controlRoutes } from './control-routes.ts';
import type { AppleGateway } from './gateway.ts';
import { receiptRoutes } from './receipts.ts';

/** Where the sandbox environment's Server API lives, relative to the emulator's root. */
export const SANDBOX_HOST_PATH = '/storekit-sandbox';

export type AppleSandboxPlugin = FastifyPluginAsync & { gateway: AppleGateway };

export function appleSandboxPlugin(gateway: AppleGateway): AppleSandboxPlugin {
  const plugin = async (app: FastifyInstance) => {
    app.addHook('preClose', async () => {
      gateway.stop();
    });
    await app.register(apiRoutes, { gateway, environment: 'Production' });
    await app.register(apiRoutes, { prefix: SANDBOX_HOST_PATH, gateway, environment: 'Sandbox' });
    await app.register(controlRoutes, { prefix: '/sandbox', gateway });
    // The legacy verifyReceipt, on both hosts, outside the Server API's JWT.
    await app.register(receiptRoutes, { gateway, environment: 'Production' });
    await app.register(receiptRoutes, { prefix: SANDBOX_HOST_PATH, gateway, environment: 'Sandbox' });
  };
  return Object.assign(plugin, { gateway });
}
