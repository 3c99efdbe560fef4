/** The Douyin emulator as one Fastify plugin: the platform's APIs at its root, the control API under /sandbox. */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { apiRoutes } from './api-routes.ts';
import { controlRoutes } from './control-routes.ts';
import type { DouyinGateway } from './gateway.ts';

export type DouyinSandboxPlugin = FastifyPluginAsync & { gateway: DouyinGateway };

export function douyinSandboxPlugin(gateway: DouyinGateway): DouyinSandboxPlugin {
  const plugin = async (app: FastifyInstance) => {
    app.addHook('preClose', async () => {
      gateway.stop();
    });
    await app.register(apiRoutes, { gateway });
    await app.register(controlRoutes, { prefix: '/sandbox', gateway });
  };
  return Object.assign(plugin, { gateway });
}
