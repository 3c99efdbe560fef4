/** The VK-Pay HTTP service: a Fastify app of encapsulated plugins over one VkPay instance. */
import Fastify, { type FastifyInstance } from 'fastify';
import type { VkPay } from '../vk-pay.ts';
import { notifyRoutes } from './routes/notify.ts';

export interface AppOptions {
  vkPay: VkPay;
  /** Fastify's logger setting; the service passes its pino instance. */
  logger?: boolean | object;
}

export async function buildApp({ vkPay, logger = false }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger, trustProxy: false, bodyLimit: 1024 * 1024 });
  app.get('/health', async () => ({
    code: 0,
    msg: 'ok',
    data: { storage: vkPay.store.backend, cache: vkPay.cache.kind, providers: [...vkPay.context.providers.keys()] },
  }));
  await app.register(notifyRoutes, { vkPay });
  return app;
}
