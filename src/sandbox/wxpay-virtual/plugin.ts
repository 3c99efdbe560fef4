/** The emulator as one Fastify plugin: WeChat's server API at its root, the control API under /sandbox. */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { WxVirtualGateway } from './gateway.ts';
import { apiRoutes, controlRoutes } from './routes.ts';

export type WxVirtualSandboxPlugin = FastifyPluginAsync & { gateway: WxVirtualGateway };

export function wxVirtualSandboxPlugin(gateway: WxVirtualGateway): WxVirtualSandboxPlugin {
  const plugin = async (app: FastifyInstance) => {
    app.addHook('preClose', async () => {
      gateway.stop();
    });
    await app.register(apiRoutes, { gateway });
    await app.register(controlRoutes, { prefix: '/sandbox', gateway });
  };
  return Object.assign(plugin, { gateway });
}
