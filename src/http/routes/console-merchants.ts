/**
 * The console's Merchants and gateways page (viewer, within the operator's merchants): the gateway
 * accounts as in force and the webhook endpoints, with no secret in the page or the envelope.
 */
import type { FastifyInstance } from 'fastify';
import { merchantConfiguration } from '../../console/merchants.ts';
import type { VkPay } from '../../vk-pay.ts';
import { merchantsPage } from '../console/merchants-pages.ts';
import { consolePageKit } from '../console/page-kit.ts';
import { merchantScope, requireMerchant, requireRole } from '../console-access.ts';

const query = {
  type: 'object',
  additionalProperties: false,
  properties: { merchant: { type: 'string', maxLength: 64 }, lang: { type: 'string', enum: ['zh', 'en'] } },
} as const;

export function consoleMerchantPages(options: { vkPay: VkPay; production: boolean }) {
  const { vkPay } = options;
  const kit = consolePageKit(options.production);
  return async (scope: FastifyInstance) => {
    scope.get(
      '/merchants',
      { preHandler: requireRole('viewer'), schema: { querystring: query } },
      async (request, reply) => {
        const { merchant } = request.query as { merchant?: string };
        if (merchant) requireMerchant(request, merchant);
        const merchants = await merchantConfiguration(vkPay.context, {
          merchantIds: merchant ? [merchant] : (merchantScope(request) ?? undefined),
          now: vkPay.context.now(),
        });
        return kit.answer(request, reply, {
          path: '/console/merchants',
          data: { merchants },
          page: (ctx) => merchantsPage(ctx, merchants),
        });
      },
    );
  };
}
