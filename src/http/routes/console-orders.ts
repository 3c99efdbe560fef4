/**
 * The console's order pages: search (with keyset pages and a streamed CSV export), one order with
 * its timeline, and the operator's actions on it: refund (a confirmation step first), close, and
 * query the gateway now. Every action goes through the same service calls as the merchant API,
 * inside the operator's merchant scope (another merchant's order is not found, 40005), and writes
 * its audit row in the transaction of the change it makes.
 */

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { orderProfitSharing } from '../../console/profit-sharing.ts';
import {
  exportOrdersCsv,
  type OrderSearch,
  type OrderTimeline,
  searchOrders,
} from '../../console/queries.ts';
import { orderTimeline } from '../../console/timeline.ts';
import { ERROR_TABLE, type Lang, PayError, toPayError } from '../../core/errors.ts';
import { fenToYuan, yuanToFen } from '../../core/money.ts';
import { isFinal, isPaid, type OrderStatus, refundHoldsAmount } from '../../core/states.ts';
import { PROVIDERS } from '../../core/validate.ts';
import { audit } from '../../service/console/audit.ts';
import { refundView } from '../../service/views.ts';
import {
  type OrderFilterForm,
  type OrderView,
  orderPage,
  orderPath,
  ordersSearchPage,
  refundConfirmPage,
} from '../console/orders-pages.ts';
import { ordersText } from '../console/orders-texts.ts';
import { LANG } from '../console/schemas.ts';
import { consoleUser, merchantScope, requireMerchant, requireRole, wantsHtml } from '../console-access.ts';
import { type ConsolePageKit, dayStart } from './console.ts';

const TEXT = { type: 'string', maxLength: 128 } as const;
const NAMES = {
  anyOf: [
    { type: 'string', maxLength: 64 },
    { type: 'array', maxItems: 10, items: { type: 'string', maxLength: 64 } },
  ],
} as const;
const DAY = { type: 'string', pattern: '^([0-9]{4}-[0-9]{2}-[0-9]{2})?$' } as const;
const CURSOR = { type: 'string', maxLength: 300 } as const;

const searchQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    out_trade_no: TEXT,
    transaction_id: TEXT,
    user_id: TEXT,
    status: NAMES,
    provider: NAMES,
    min: { type: 'string', maxLength: 16 },
    max: { type: 'string', maxLength: 16 },
    from: DAY,
    to: DAY,
    after: CURSOR,
    before: CURSOR,
    limit: { type: 'string', pattern: '^[0-9]{1,3}$' },
    lang: LANG,
  },
} as const;

const orderParams = {
  type: 'object',
  required: ['merchant', 'outTradeNo'],
  properties: {
    merchant: { type: 'string', minLength: 1, maxLength: 64 },
    outTradeNo: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

const CSRF = { _csrf: { type: 'string', maxLength: 200 }, lang: LANG } as const;

const refundBody = {
  type: 'object',
  additionalProperties: false,
  required: ['out_refund_no'],
  properties: {
    out_refund_no: { type: 'string', minLength: 1, maxLength: 64 },
    /** Yuan, as the form has it ("12.50"). */
    amount: { type: 'string', maxLength: 16 },
    /** Fen, for JSON clients. */
    refund_fee: { type: 'integer' },
    reason: { type: 'string', maxLength: 80 },
    /** Without it the answer is the confirmation step, and nothing is refunded. */
    confirm: { anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['1', 'true'] }] },
    ...CSRF,
  },
} as const;
const emptyBody = { type: 'object', additionalProperties: false, properties: CSRF } as const;

type SearchQuery = OrderFilterForm & {
  status?: string | string[];
  provider?: string | string[];
  after?: string;
  before?: string;
  limit?: string;
};

interface OrderParams {
  merchant: string;
  outTradeNo: string;
}

const UNPAID: readonly OrderStatus[] = ['NOTPAY', 'USERPAYING', 'FAILED'];

const list = (value: string | string[] | undefined): string[] | undefined =>
  value === undefined ? undefined : (Array.isArray(value) ? value : [value]).filter(Boolean);

/** The refund number a form carries, so a second submit of the same form is the same refund. */
const newRefundNo = () => `C${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;

/** The code's message from the table, then what exactly went wrong. */
function problemText(lang: Lang, error: PayError, specific?: string): string {
  const spec = ERROR_TABLE[error.code];
  const general = lang === 'zh' ? spec.zh : spec.en;
  const detail = specific ?? (error.code === 50000 || error.message === spec.en ? '' : error.message);
  return detail ? `${general}${lang === 'zh' ? '：' : ': '}${detail}` : general;
}

function refundableOf(timeline: OrderTimeline): number {
  let held = 0;
  for (const entry of timeline.entries)
    if (entry.kind === 'refund' && refundHoldsAmount(entry.status)) held += entry.refundFen;
  return Math.max(timeline.order.totalFen - held, 0);
}

export function consoleOrderPages() {
  return async (scope: FastifyInstance, kit: ConsolePageKit): Promise<void> => {
    const { vkPay, answer, redirect, actorOf } = kit;
    const db = vkPay.store.db;
    const providers = [...new Set([...PROVIDERS, ...vkPay.context.providers.keys()])];

    /** The operator's scope as the data layer takes it: undefined for every merchant. */
    const scopeOf = (request: FastifyRequest) => {
      const ids = merchantScope(request);
      return ids === null ? undefined : [...ids];
    };

    const searchOf = (request: FastifyRequest, query: SearchQuery): OrderSearch => ({
      merchantIds: scopeOf(request),
      outTradeNo: query.out_trade_no?.trim() || undefined,
      transactionId: query.transaction_id?.trim() || undefined,
      userId: query.user_id?.trim() || undefined,
      status: list(query.status) as OrderStatus[] | undefined,
      provider: list(query.provider),
      minFen: query.min?.trim() ? yuanToFen(query.min.trim(), 'min') : undefined,
      maxFen: query.max?.trim() ? yuanToFen(query.max.trim(), 'max') : undefined,
      from: dayStart(query.from, 'from'),
      to: dayStart(query.to, 'to', 1),
      after: query.after || undefined,
      before: query.before || undefined,
      limit: query.limit ? Number(query.limit) : undefined,
    });

    const formOf = (query: SearchQuery): OrderFilterForm => {
      const one = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
      const filter: OrderFilterForm = {};
      for (const name of ['out_trade_no', 'transaction_id', 'user_id', 'min', 'max', 'from', 'to'] as const)
        if (query[name]) filter[name] = query[name];
      const status = one(query.status);
      const provider = one(query.provider);
      if (status) filter.status = status;
      if (provider) filter.provider = provider;
      return filter;
    };

    // Search.

    scope.get(
      '/orders',
      { preHandler: requireRole('viewer'), schema: { querystring: searchQuery } },
      async (request, reply) => {
        const query = request.query as SearchQuery;
        const filter = formOf(query);
        const lang = request.console.lang;
        try {
          const page = await searchOrders(db, searchOf(request, query));
          return answer(request, reply, {
            path: '/console/orders',
            data: { rows: page.rows, next: page.next, previous: page.previous },
            page: (ctx) => ordersSearchPage(ctx, { filter, page, providers }),
          });
        } catch (error) {
          const problem = toPayError(error);
          if (!wantsHtml(request) || problem.code !== 40001) throw error;
          const amount = problem.field === 'min' || problem.field === 'max';
          return answer(request, reply, {
            status: 400,
            path: '/console/orders',
            data: {},
            page: (ctx) =>
              ordersSearchPage(ctx, {
                filter,
                page: { rows: [], next: null, previous: null },
                providers,
                error: {
                  message: problemText(lang, problem, amount ? ordersText(lang, 'errAmount') : undefined),
                  field: problem.field,
                },
              }),
          });
        }
      },
    );

    scope.get(
      '/orders.csv',
      { preHandler: requireRole('viewer'), schema: { querystring: searchQuery } },
      async (request, reply) => {
        const query = request.query as SearchQuery;
        const { after: _after, before: _before, limit: _limit, ...search } = searchOf(request, query);
        const lines = exportOrdersCsv(db, search);
        // The header line comes after the search is checked: a refused filter is an answer, not a broken download.
        const header = await lines.next();
        await audit(db, {
          actor: actorOf(request),
          action: 'orders.exported',
          target: null,
          after: { filter: formOf(query), merchants: scopeOf(request) ?? 'all' },
        });
        async function* body() {
          // The byte-order mark lets spreadsheet programs read the Chinese subjects as UTF-8.
          yield `\uFEFF${header.value ?? ''}`;
          yield* lines;
        }
        const day = new Date().toISOString().slice(0, 10);
        return reply
          .header('content-disposition', `attachment; filename="vkpay-orders-${day}.csv"`)
          .type('text/csv; charset=utf-8')
          .send(Readable.from(body()));
      },
    );

    // One order.

    const loadOrder = async (request: FastifyRequest, params: OrderParams) => {
      requireMerchant(request, params.merchant);
      const timeline = await orderTimeline(db, params.merchant, params.outTradeNo, scopeOf(request));
      return { timeline, refundableFen: refundableOf(timeline) };
    };

    /** The order as its page and JSON show it: with its profit sharing. */
    const loadShown = async (request: FastifyRequest, params: OrderParams) => {
      const loaded = await loadOrder(request, params);
      const profitSharing = await orderProfitSharing(vkPay.context, loaded.timeline.order);
      // A gateway that cannot take splits back with a refund (WeChat Pay) refunds only what is
      // unsplit: the page offers no more than the service would send.
      const returnsWithRefund =
        vkPay.context.providers.get(loaded.timeline.order.provider)?.profitSharing?.returnsWithRefund ?? true;
      const refundableFen =
        profitSharing && !returnsWithRefund
          ? Math.min(loaded.refundableFen, profitSharing.splittableFen)
          : loaded.refundableFen;
      return { ...loaded, refundableFen, profitSharing };
    };

    const canAct = (request: FastifyRequest) => consoleUser(request).role !== 'viewer';

    const orderAnswer = async (
      request: FastifyRequest,
      reply: FastifyReply,
      params: OrderParams,
      state: Pick<OrderView, 'notice' | 'error' | 'refundForm'> & { status?: number } = {},
      extra: Record<string, unknown> = {},
    ) => {
      const { timeline, refundableFen, profitSharing } = await loadShown(request, params);
      const path = orderPath(params.merchant, params.outTradeNo);
      return answer(request, reply, {
        ...(state.status ? { status: state.status } : {}),
        path,
        data: { order: timeline.order, refundableFen, profitSharing, entries: timeline.entries, ...extra },
        page: (ctx) =>
          orderPage(ctx, {
            timeline,
            refundableFen,
            profitSharing,
            canAct: canAct(request),
            outRefundNo: newRefundNo(),
            notice: state.notice,
            error: state.error,
            refundForm: state.refundForm,
          }),
      });
    };

    const noticeOf = (request: FastifyRequest, timeline: OrderTimeline): string | undefined => {
      const query = request.query as { done?: string; refund?: string };
      const lang = request.console.lang;
      const { order } = timeline;
      switch (query.done) {
        case 'refund': {
          const refund = timeline.entries.find(
            (entry) => entry.kind === 'refund' && entry.outRefundNo === query.refund,
          );
          if (refund?.kind !== 'refund') return undefined;
          const current = timeline.entries.findLast(
            (entry) => entry.kind === 'refund_settled' && entry.outRefundNo === query.refund,
          );
          return ordersText(lang, 'doneRefund', {
            refund: refund.outRefundNo,
            amount: fenToYuan(refund.refundFen),
            status: current?.kind === 'refund_settled' ? current.status : refund.status,
          });
        }
        case 'repeat':
          return ordersText(lang, 'doneRefundRepeat', { refund: query.refund ?? '' });
        case 'close':
          return ordersText(lang, 'doneClose');
        case 'closed':
          return ordersText(lang, 'doneAlreadyClosed');
        case 'query':
          return ordersText(lang, 'doneQuery', {
            status: order.status,
            refunded: fenToYuan(order.refundedFen),
          });
        case 'final':
          return ordersText(lang, 'doneNothingToAsk');
        default:
          return undefined;
      }
    };

    scope.get(
      '/orders/:merchant/:outTradeNo',
      {
        preHandler: requireRole('viewer'),
        schema: {
          params: orderParams,
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              done: { type: 'string', enum: ['refund', 'repeat', 'close', 'closed', 'query', 'final'] },
              refund: { type: 'string', maxLength: 64 },
              lang: LANG,
            },
          },
        },
      },
      async (request, reply) => {
        const params = request.params as OrderParams;
        const { timeline, refundableFen, profitSharing } = await loadShown(request, params);
        const notice = noticeOf(request, timeline);
        return answer(request, reply, {
          path: orderPath(params.merchant, params.outTradeNo),
          data: { order: timeline.order, refundableFen, profitSharing, entries: timeline.entries },
          page: (ctx) =>
            orderPage(ctx, {
              timeline,
              refundableFen,
              profitSharing,
              canAct: canAct(request),
              outRefundNo: newRefundNo(),
              notice,
            }),
        });
      },
    );

    /** Back to the order page with what was done, or (JSON) the order as it is now. */
    const afterAction = async (
      request: FastifyRequest,
      reply: FastifyReply,
      params: OrderParams,
      done: Record<string, string>,
      extra: Record<string, unknown> = {},
    ) => {
      if (wantsHtml(request))
        return redirect(
          request,
          reply,
          `${orderPath(params.merchant, params.outTradeNo)}?${new URLSearchParams(done)}`,
        );
      return orderAnswer(request, reply, params, {}, extra);
    };

    /** A refused action: the order page again with the message at its form (or the envelope for JSON). */
    const refused = (
      request: FastifyRequest,
      reply: FastifyReply,
      params: OrderParams,
      error: unknown,
      form: 'refund' | 'close' | 'query',
      message: (problem: PayError) => string | undefined,
      refundForm?: OrderView['refundForm'],
    ) => {
      const problem = toPayError(error);
      // Not found and not allowed stay what they are: the error page, or the envelope.
      if (!wantsHtml(request) || problem.code === 50000 || problem.code === 40005 || problem.code === 40009)
        throw error;
      const lang = request.console.lang;
      const specific = message(problem);
      // A refund refused before its reservation changed nothing; a close or a query that failed
      // half-way may have (the gateway may have acted), so only the refund says so.
      const text =
        specific || form !== 'refund'
          ? problemText(lang, problem, specific)
          : `${problemText(lang, problem)} ${ordersText(lang, 'nothingChanged')}`;
      return orderAnswer(request, reply, params, {
        status: problem.httpStatus,
        error: { form, message: text },
        refundForm,
      });
    };

    const target = (params: OrderParams) => `${params.merchant}/${params.outTradeNo}`;

    scope.post(
      '/orders/:merchant/:outTradeNo/refund',
      { preHandler: requireRole('operator'), schema: { params: orderParams, body: refundBody } },
      async (request, reply) => {
        const params = request.params as OrderParams;
        const body = request.body as {
          out_refund_no: string;
          amount?: string;
          refund_fee?: number;
          reason?: string;
          confirm?: boolean | string;
        };
        const lang = request.console.lang;
        const { timeline, refundableFen } = await loadOrder(request, params);
        const { order } = timeline;
        const refundForm = { amount: body.amount ?? '', reason: body.reason ?? '' };
        const explain = (problem: PayError) => {
          const left = (problem.details as { refundableFen?: number } | undefined)?.refundableFen;
          if (problem.field === 'refund_fee' && typeof left === 'number')
            return ordersText(lang, 'errOverRefundable', {
              amount: refundFen === null ? '' : fenToYuan(refundFen),
              left: fenToYuan(left),
            });
          if (problem.field === 'amount') return ordersText(lang, 'errAmount');
          if (problem.field === 'out_trade_no' && !isPaid(order.status))
            return ordersText(lang, 'errNotPaid', { status: order.status });
          return undefined;
        };
        let refundFen: number | null = null;
        try {
          refundFen =
            body.refund_fee !== undefined
              ? body.refund_fee
              : yuanToFen((body.amount ?? '').trim(), 'amount', vkPay.context.rules.maxFen);
          if (refundFen < 1)
            throw new PayError(40001, { field: 'amount', message: 'amount must be at least 0.01' });
          if (!isPaid(order.status))
            throw new PayError(40001, {
              field: 'out_trade_no',
              message: `order is ${order.status}; only paid orders can be refunded`,
            });
          if (refundFen > refundableFen)
            throw new PayError(40001, {
              field: 'refund_fee',
              message: `refund_fee ${refundFen} exceeds the refundable ${refundableFen} fen`,
              details: { refundableFen },
            });
        } catch (error) {
          return refused(request, reply, params, error, 'refund', explain, refundForm);
        }
        const amount = refundFen;
        const confirmed = body.confirm === true || body.confirm === '1' || body.confirm === 'true';
        if (!confirmed) {
          // The confirmation step: what would be refunded, nothing changed yet.
          const view = {
            order,
            refundFen: amount,
            refundableFen,
            outRefundNo: body.out_refund_no,
            reason: body.reason ?? '',
          };
          return answer(request, reply, {
            // The language switch of the confirmation leads back to the order, not to a POST-only path.
            path: orderPath(params.merchant, params.outTradeNo),
            data: {
              confirmed: false,
              refundFen: amount,
              refundableFen,
              outRefundNo: body.out_refund_no,
              order,
            },
            page: (ctx) => refundConfirmPage(ctx, view),
          });
        }
        let reserved = false;
        let result: Awaited<ReturnType<typeof vkPay.refund>>;
        try {
          result = await vkPay.refund(
            {
              merchantId: params.merchant,
              out_trade_no: params.outTradeNo,
              out_refund_no: body.out_refund_no,
              refund_fee: amount,
              ...(body.reason?.trim() ? { reason: body.reason.trim() } : {}),
            },
            async (tx, change) => {
              reserved = true;
              await audit(tx, {
                actor: actorOf(request),
                action: 'refund.created',
                target: target(params),
                before: { status: change.order.status, refundedFen: change.order.refundedFen, refundableFen },
                after: {
                  outRefundNo: change.refund.outRefundNo,
                  refundFen: change.refund.refundFen,
                  refundStatus: change.refund.status,
                  reason: change.refund.reason,
                  refundableFen: refundableFen - change.refund.refundFen,
                },
              });
            },
          );
        } catch (error) {
          const problem = toPayError(error);
          if (reserved && wantsHtml(request)) {
            // Reserved, then the gateway's answer was lost: the refund stands, PROCESSING, and the
            // page says so. Refused by the gateway (a short balance): nothing was refunded.
            if (problem.outcomeUnknown || problem.retryable)
              return afterAction(request, reply, params, { done: 'refund', refund: body.out_refund_no });
            return refused(request, reply, params, error, 'refund', () =>
              ordersText(lang, 'errGatewayRefused', { refund: body.out_refund_no }),
            );
          }
          return refused(request, reply, params, error, 'refund', explain, refundForm);
        }
        return afterAction(
          request,
          reply,
          params,
          { done: reserved ? 'refund' : 'repeat', refund: body.out_refund_no },
          { confirmed: true, created: reserved, refund: refundView(result.refund) },
        );
      },
    );

    scope.post(
      '/orders/:merchant/:outTradeNo/close',
      { preHandler: requireRole('operator'), schema: { params: orderParams, body: emptyBody } },
      async (request, reply) => {
        const params = request.params as OrderParams;
        const lang = request.console.lang;
        const { timeline } = await loadOrder(request, params);
        const before = timeline.order;
        if (before.status === 'CLOSED')
          return afterAction(request, reply, params, { done: 'closed' }, { closed: false });
        let closed = false;
        try {
          await vkPay.closePayment(params.merchant, params.outTradeNo, async (tx, order) => {
            closed = true;
            await audit(tx, {
              actor: actorOf(request),
              action: 'order.closed',
              target: target(params),
              before: { status: before.status },
              after: { status: order.status, closedAt: order.closedAt },
            });
          });
        } catch (error) {
          return refused(request, reply, params, error, 'close', (problem) =>
            problem.code === 40006
              ? ordersText(lang, 'errPaid', {
                  status: (problem.details as { status?: string } | undefined)?.status ?? 'SUCCESS',
                })
              : undefined,
          );
        }
        return afterAction(request, reply, params, { done: closed ? 'close' : 'closed' }, { closed });
      },
    );

    scope.post(
      '/orders/:merchant/:outTradeNo/query',
      { preHandler: requireRole('operator'), schema: { params: orderParams, body: emptyBody } },
      async (request, reply) => {
        const params = request.params as OrderParams;
        const { timeline } = await loadOrder(request, params);
        const before = { status: timeline.order.status, refundedFen: timeline.order.refundedFen };
        const asked: string[] = [];
        let changes = 0;
        const row = (after: { status: OrderStatus; refundedFen: number }, what: string) => ({
          actor: actorOf(request),
          action: 'order.queried',
          target: target(params),
          before,
          after: { status: after.status, refundedFen: after.refundedFen, asked: what },
        });
        try {
          if (UNPAID.includes(before.status)) {
            asked.push('payment');
            await vkPay.queryPayment(params.merchant, params.outTradeNo, {
              withApplied: async (tx, order) => {
                changes += 1;
                await audit(tx, row(order, 'payment'));
              },
            });
          }
          const open = timeline.entries.filter(
            (entry) =>
              entry.kind === 'refund' && (entry.status === 'PROCESSING' || entry.status === 'ABNORMAL'),
          );
          for (const entry of open) {
            if (entry.kind !== 'refund') continue;
            asked.push(`refund ${entry.outRefundNo}`);
            await vkPay.queryRefund(params.merchant, entry.outRefundNo, async (tx, change) => {
              changes += 1;
              await audit(tx, row(change.order, `refund ${entry.outRefundNo}`));
            });
          }
        } catch (error) {
          return refused(request, reply, params, error, 'query', () => undefined);
        }
        // Nothing changed: the query is recorded on its own, with what was asked.
        if (changes === 0) {
          const now = await vkPay.getOrder(params.merchant, params.outTradeNo);
          await audit(db, row(now, asked.join(', ') || 'nothing: the order is final here'));
        }
        const final = asked.length === 0 && (isFinal(before.status) || isPaid(before.status));
        return afterAction(request, reply, params, { done: final ? 'final' : 'query' }, { asked, changes });
      },
    );
  };
}
