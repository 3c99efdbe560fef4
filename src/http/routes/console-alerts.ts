/** The console's alert history (viewer): the alerts the monitoring sent, newest first. */

import type { FastifyInstance } from 'fastify';
import { ALERT_KINDS, listAlerts } from '../../service/alert-history.ts';
import type { AlertKind } from '../../store/schema.ts';
import type { VkPay } from '../../vk-pay.ts';
import { type AlertFilterView, alertsPage } from '../console/alerts-pages.ts';
import { DATE } from '../console/schemas.ts';
import { requireRole } from '../console-access.ts';
import type { ConsolePageKit } from './console.ts';

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kind: { type: 'string', enum: ['', ...ALERT_KINDS] },
    from: DATE,
    to: DATE,
    before: { type: 'string', pattern: '^[0-9]{1,15}$' },
    lang: { type: 'string', enum: ['zh', 'en'] },
  },
} as const;

export function alertPages(vkPay: VkPay) {
  return async (scope: FastifyInstance, kit: ConsolePageKit): Promise<void> => {
    scope.get(
      '/alerts',
      { preHandler: requireRole('viewer'), schema: { querystring: listQuery } },
      async (request, reply) => {
        const query = request.query as Record<string, string | undefined>;
        const page = await listAlerts(vkPay.context, {
          kind: (query.kind || undefined) as AlertKind | undefined,
          from: kit.dayStart(query.from, 'from'),
          to: kit.dayStart(query.to, 'to', 1),
          before: query.before ? Number(query.before) : undefined,
        });
        const filter: AlertFilterView = {
          kind: query.kind || undefined,
          from: query.from || undefined,
          to: query.to || undefined,
        };
        return kit.answer(request, reply, {
          path: '/console/alerts',
          data: { rows: page.rows, next: page.next },
          page: (ctx) => alertsPage(ctx, { ...page, filter }),
        });
      },
    );
  };
}
