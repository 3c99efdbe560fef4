/**
 * The console's Reconciliation page: reconciled days of each gateway account of the operator's
 * merchants (viewer), and a day of one merchant (every account, or one) reconciled now (operator) through the same call as `/admin/reconcile`, its
 * outcome or failure written to the audit log. Registered inside the console's scope (`pages`).
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { reconciliationDays } from '../../console/reviews.ts';
import { toPayError } from '../../core/errors.ts';
import { audit } from '../../service/console/audit.ts';
import { yesterdayInChina } from '../../service/reconcile.ts';
import type { VkPay } from '../../vk-pay.ts';
import { consolePageKit } from '../console/page-kit.ts';
import { type ReconciliationFilter, reconciliationPage } from '../console/reconciliation-pages.ts';
import { DATE, LANG } from '../console/schemas.ts';
import { merchantScope, requireMerchant, requireRole, wantsHtml } from '../console-access.ts';
import { ok } from '../envelope.ts';

const NAME = { type: 'string', maxLength: 64 };
const ACCOUNT = { type: 'string', maxLength: 32 };

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    merchant: NAME,
    provider: NAME,
    account: ACCOUNT,
    from: DATE,
    to: DATE,
    ran: DATE,
    lang: LANG,
  },
} as const;
const runBody = {
  type: 'object',
  additionalProperties: false,
  required: ['merchant', 'provider'],
  properties: {
    merchant: { type: 'string', minLength: 1, maxLength: 64 },
    provider: { type: 'string', minLength: 1, maxLength: 32 },
    account: ACCOUNT,
    date: DATE,
    _csrf: { type: 'string', maxLength: 200 },
    lang: LANG,
  },
} as const;

export interface ConsoleReconciliationOptions {
  vkPay: VkPay;
  production: boolean;
}

export function consoleReconciliationPages(options: ConsoleReconciliationOptions) {
  const { vkPay } = options;
  const kit = consolePageKit(options.production);
  const now = () => vkPay.context.now();

  /** Gateways with bills, and the merchants of them the operator may see, and their accounts. */
  const choices = (request: FastifyRequest) => {
    const scope = merchantScope(request);
    const providers: string[] = [];
    const merchants = new Set<string>();
    const accounts = new Set<string>();
    for (const provider of vkPay.context.providers.values()) {
      if (!provider.downloadTradeBill) continue;
      providers.push(provider.name);
      for (const id of provider.merchantIds?.() ?? [])
        if (scope === null || scope.includes(id)) {
          merchants.add(id);
          for (const account of provider.accounts?.(id) ?? []) accounts.add(account);
        }
    }
    return { providers: providers.sort(), merchants: [...merchants].sort(), accounts: [...accounts].sort() };
  };

  const view = async (
    request: FastifyRequest,
    reply: FastifyReply,
    filter: ReconciliationFilter & { ran?: string },
    state: { status?: number; error?: string; report?: unknown } = {},
  ) => {
    if (filter.merchant) requireMerchant(request, filter.merchant);
    const scope = merchantScope(request);
    const days = await reconciliationDays(vkPay.context, {
      merchantIds: filter.merchant ? [filter.merchant] : (scope ?? undefined),
      provider: filter.provider || undefined,
      account: filter.account || undefined,
      from: filter.from || undefined,
      to: filter.to || undefined,
    });
    const { merchants, providers, accounts } = choices(request);
    const role = request.console.active?.user.role;
    const { ran, ...shown } = filter;
    return kit.answer(request, reply, {
      ...(state.status ? { status: state.status } : {}),
      path: '/console/reconciliation',
      data: { days, ...(state.report ? { report: state.report } : {}) },
      page: (ctx) =>
        reconciliationPage(ctx, {
          days,
          merchants,
          providers,
          accounts,
          filter: shown,
          defaultDate: yesterdayInChina(now()),
          mayRun: role === 'operator' || role === 'admin',
          ran:
            ran && filter.merchant && filter.provider
              ? {
                  provider: filter.provider,
                  merchant: filter.merchant,
                  date: ran,
                  ...(filter.account ? { account: filter.account } : {}),
                }
              : undefined,
          error: state.error,
        }),
    });
  };

  return async (scope: FastifyInstance) => {
    scope.get(
      '/reconciliation',
      { preHandler: requireRole('viewer'), schema: { querystring: listQuery } },
      async (request, reply) => {
        const query = request.query as ReconciliationFilter & { ran?: string };
        const filter = Object.fromEntries(
          Object.entries(query).filter(([name, value]) => value && name !== 'lang'),
        );
        return view(request, reply, filter);
      },
    );

    scope.post(
      '/reconciliation/run',
      { preHandler: requireRole('operator'), schema: { body: runBody } },
      async (request, reply) => {
        const body = request.body as { merchant: string; provider: string; account?: string; date?: string };
        requireMerchant(request, body.merchant);
        const date = body.date || yesterdayInChina(now());
        const account = body.account || undefined;
        const target = `${body.provider}:${body.merchant}:${date}${account ? `:${account}` : ''}`;
        let report: Awaited<ReturnType<VkPay['reconcile']>>;
        try {
          report = await vkPay.reconcile(body.provider, body.merchant, date, account);
        } catch (error) {
          const problem = toPayError(error);
          // The attempt is kept too: who asked for which day, and why it did not run.
          await audit(vkPay.store.db, {
            actor: kit.actorOf(request),
            action: 'reconciliation.failed',
            target,
            after: { code: problem.code, message: problem.message },
          });
          if (!wantsHtml(request) || problem.httpStatus >= 500) throw problem;
          return view(
            request,
            reply,
            { merchant: body.merchant, provider: body.provider, ...(account ? { account } : {}) },
            { status: problem.httpStatus, error: `${problem.code}: ${problem.message}` },
          );
        }
        // The run writes its day and reviews itself; its audit row follows with what it found.
        await audit(vkPay.store.db, {
          actor: kit.actorOf(request),
          action: 'reconciliation.run',
          target,
          after: report,
        });
        if (wantsHtml(request))
          return kit.redirect(
            request,
            reply,
            `/console/reconciliation?${new URLSearchParams({ merchant: body.merchant, provider: body.provider, ...(account ? { account } : {}), ran: date })}`,
          );
        return ok({ report, csrfToken: kit.csrfToken(request, reply) });
      },
    );
  };
}
