/**
 * GET /console: the overview of a range (1 h to 90 days, ending now) for one merchant or all the
 * operator may see. A browser gets the page; anything else the same figures in the envelope, which
 * the page's script asks for every 10 seconds and on a change of range. A merchant outside the
 * operator's scope answers as not found (40005).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { overview } from '../../console/queries.ts';
import { type ConsoleUser, publicUser } from '../../service/console/accounts.ts';
import type { VkPay } from '../../vk-pay.ts';
import { type OverviewRange, type OverviewView, overviewPage, RANGES } from '../console/overview-page.ts';
import {
  consoleHref,
  consoleUser,
  cookieOptions,
  merchantScope,
  requireMerchant,
  requireRole,
  wantsHtml,
} from '../console-access.ts';
import { assetUrls, consoleAssets } from '../console-assets.ts';
import type { PageContext } from '../console-pages.ts';
import { text } from '../console-texts.ts';
import { ok } from '../envelope.ts';

const overviewQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    range: { type: 'string', enum: Object.keys(RANGES) },
    merchant: { type: 'string', minLength: 1, maxLength: 64 },
    enrolled: { type: 'string', maxLength: 8 },
    lang: { type: 'string', enum: ['zh', 'en'] },
  },
} as const;

/** The most merchants the unscoped operator's list offers. */
const MAX_MERCHANTS = 200;

/** Every merchant with orders, by a skip scan of the merchant index: one probe a merchant. */
async function merchantsWithOrders(vkPay: VkPay): Promise<string[]> {
  const result = await sql<{ merchant_id: string }>`
    with recursive merchants as (
      (select merchant_id from payment_orders order by merchant_id limit 1)
      union all
      select (select o.merchant_id from payment_orders o where o.merchant_id > m.merchant_id
              order by o.merchant_id limit 1)
      from merchants m where m.merchant_id is not null
    )
    select merchant_id from merchants where merchant_id is not null limit ${MAX_MERCHANTS}`.execute(
    vkPay.store.db,
  );
  return result.rows.map((row) => row.merchant_id);
}

export interface ConsoleOverviewOptions {
  vkPay: VkPay;
  now?: () => Date;
}

/** The overview's routes, for consoleRoutes' `pages`. */
export function consoleOverviewPages(
  options: ConsoleOverviewOptions,
): (scope: FastifyInstance) => Promise<void> {
  const { vkPay } = options;
  const now = options.now ?? (() => new Date());
  const production = vkPay.config.env === 'production';

  const view = async (request: FastifyRequest): Promise<OverviewView> => {
    const query = request.query as { range?: OverviewRange; merchant?: string };
    const range = query.range ?? '24h';
    const asked = query.merchant ?? 'all';
    const scope = merchantScope(request);
    if (asked !== 'all') requireMerchant(request, asked);
    const merchantIds = asked !== 'all' ? [asked] : scope === null ? undefined : [...scope];
    const to = now();
    const [figures, merchants] = await Promise.all([
      overview(vkPay.store.db, { from: new Date(to.getTime() - RANGES[range]), to, merchantIds }),
      scope === null ? merchantsWithOrders(vkPay) : Promise.resolve([...scope]),
    ]);
    return {
      user: publicUser(consoleUser(request)) as ConsoleUser,
      range,
      merchant: asked,
      merchants,
      scoped: scope !== null,
      at: to.toISOString(),
      overview: figures,
    };
  };

  const pageContext = async (
    request: FastifyRequest,
    reply: FastifyReply,
    path: string,
  ): Promise<PageContext> => {
    const user = consoleUser(request);
    return {
      lang: request.console.lang,
      href: (target) => consoleHref(request, target),
      assets: assetUrls(await consoleAssets()),
      csrf: reply.generateCsrf({ secure: cookieOptions(request, { production }).secure }),
      user: { name: user.name, role: user.role },
      path,
    };
  };

  return async (scope) => {
    scope.get(
      '/',
      { preHandler: requireRole('viewer'), schema: { querystring: overviewQuery } },
      async (request, reply) => {
        const shown = await view(request);
        if (!wantsHtml(request)) {
          const csrfToken = reply.generateCsrf({ secure: cookieOptions(request, { production }).secure });
          return reply.send(ok({ ...shown, csrfToken }));
        }
        const query = new URLSearchParams({ range: shown.range, merchant: shown.merchant });
        const ctx = await pageContext(request, reply, `/console?${query}`);
        const enrolled = (request.query as { enrolled?: string }).enrolled === '1';
        return reply
          .type('text/html; charset=utf-8')
          .send(overviewPage(ctx, shown, enrolled ? text(ctx.lang, 'enrolled') : undefined));
      },
    );
  };
}
