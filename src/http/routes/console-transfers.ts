/**
 * The console's transfers: the list across the operator's merchants with its views (waiting for
 * approval, all), filters and keyset pages (viewer); one transfer with its timeline (viewer); and
 * the second person's decision on a transfer awaiting approval (operator): approve (then it is
 * sent) or reject, through the service's decide as the API's, never by the one who asked for the
 * transfer, with the audit row in the transaction of the change. A browser's decision answers with
 * a redirect to the transfer's page (POST-redirect-GET); a refusal is shown on that page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { searchTransfers, type TransferDetail, transferDetail } from '../../console/transfers.ts';
import { PayError, toPayError } from '../../core/errors.ts';
import { TRANSFER_STATUSES, type TransferStatus } from '../../core/transfer-states.ts';
import { transferView } from '../../service/transfers.ts';
import type { VkPay } from '../../vk-pay.ts';
import { DATE, LANG } from '../console/schemas.ts';
import {
  TRANSFER_PROVIDERS,
  type TransferFilter,
  transferPage,
  transferPath,
  transfersPage,
} from '../console/transfers-pages.ts';
import { transfersText } from '../console/transfers-texts.ts';
import { consoleUser, mayActOn, merchantScope, requireRole, wantsHtml } from '../console-access.ts';
import { ok } from '../envelope.ts';
import type { ConsolePageKit } from './console.ts';

const CURSOR = { type: 'string', maxLength: 200 } as const;
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['', ...TRANSFER_STATUSES] },
    provider: { type: 'string', enum: ['', ...TRANSFER_PROVIDERS] },
    merchant: { type: 'string', maxLength: 64 },
    from: DATE,
    to: DATE,
    after: CURSOR,
    before: CURSOR,
    limit: { type: 'string', pattern: '^[0-9]{1,3}$' },
    lang: LANG,
  },
} as const;
const transferParams = {
  type: 'object',
  required: ['merchant', 'outTransferNo'],
  properties: {
    merchant: { type: 'string', maxLength: 64 },
    outTransferNo: { type: 'string', pattern: '^[0-9A-Za-z]{6,32}$' },
  },
} as const;
const detailQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { done: { type: 'string', enum: ['approved', 'rejected'] }, lang: LANG },
} as const;
const decisionBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    note: { type: 'string', maxLength: 200 },
    _csrf: { type: 'string', maxLength: 200 },
    lang: LANG,
  },
} as const;

interface TransferParams {
  merchant: string;
  outTransferNo: string;
}

/** The merchants the operator may see, as the console's queries take them (undefined: all). */
const scopeOf = (request: FastifyRequest) => merchantScope(request) ?? undefined;

const mayDecide = (request: FastifyRequest) => consoleUser(request).role !== 'viewer';

export function transferPages(vkPay: VkPay) {
  return async (scope: FastifyInstance, kit: ConsolePageKit): Promise<void> => {
    const db = vkPay.store.db;

    scope.get(
      '/transfers',
      { preHandler: requireRole('viewer'), schema: { querystring: listQuery } },
      async (request, reply) => {
        const query = request.query as Record<string, string | undefined>;
        const allowed = merchantScope(request);
        const merchant = query.merchant?.trim() || undefined;
        // A merchant outside the operator's scope filters to nothing, as if it had no transfers.
        const merchantIds = merchant
          ? allowed === null || allowed.includes(merchant)
            ? [merchant]
            : []
          : (allowed ?? undefined);
        const filter: TransferFilter = {
          status: query.status || undefined,
          provider: query.provider || undefined,
          merchant,
          from: query.from || undefined,
          to: query.to || undefined,
          limit: query.limit || undefined,
        };
        const waitingCount = async () => {
          if (allowed !== null && allowed.length === 0) return 0;
          let count = db
            .selectFrom('payment_transfers')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .where('status', '=', 'PENDING_APPROVAL');
          if (allowed !== null) count = count.where('merchant_id', 'in', allowed);
          return Number((await count.executeTakeFirstOrThrow()).n);
        };
        let page: Awaited<ReturnType<typeof searchTransfers>>;
        let error: { message: string; field?: string | undefined } | undefined;
        try {
          page = await searchTransfers(db, {
            scope: merchantIds,
            status: filter.status as TransferStatus | undefined,
            provider: filter.provider,
            from: kit.dayStart(query.from, 'from'),
            to: kit.dayStart(query.to, 'to', 1),
            after: query.after || undefined,
            before: query.before || undefined,
            limit: query.limit ? Math.min(Math.max(Number(query.limit), 1), 200) : undefined,
          });
        } catch (problem) {
          // A filter or cursor refused is shown above the filters, with no rows.
          const payError = toPayError(problem);
          if (!wantsHtml(request) || payError.code !== 40001) throw problem;
          error = { message: payError.message, field: payError.field };
          page = { rows: [], next: null, previous: null };
        }
        const waiting = await waitingCount();
        return kit.answer(request, reply, {
          ...(error ? { status: 400 } : {}),
          path: '/console/transfers',
          data: {
            rows: page.rows.map((row) => ({ merchant_id: row.merchantId, ...transferView(row) })),
            next: page.next,
            previous: page.previous,
            waiting,
          },
          page: (ctx) =>
            transfersPage(ctx, { filter, page, merchants: allowed, waitingCount: waiting, error }),
        });
      },
    );

    const detailView = (
      request: FastifyRequest,
      reply: FastifyReply,
      detail: TransferDetail,
      state: { status?: number; notice?: string; error?: string; note?: string } = {},
    ) => {
      const { transfer } = detail;
      return kit.answer(request, reply, {
        ...(state.status ? { status: state.status } : {}),
        path: transferPath(transfer.merchantId, transfer.outTransferNo),
        data: {
          transfer: { merchant_id: transfer.merchantId, ...transferView(transfer) },
          entries: detail.entries,
        },
        page: (ctx) =>
          transferPage(ctx, {
            detail,
            user: { name: consoleUser(request).name, mayDecide: mayDecide(request) },
            ...state,
          }),
      });
    };

    scope.get(
      '/transfers/:merchant/:outTransferNo',
      { preHandler: requireRole('viewer'), schema: { params: transferParams, querystring: detailQuery } },
      async (request, reply) => {
        const { merchant, outTransferNo } = request.params as TransferParams;
        const detail = await transferDetail(db, merchant, outTransferNo, scopeOf(request));
        const done = (request.query as { done?: 'approved' | 'rejected' }).done;
        const lang = request.console.lang;
        return detailView(request, reply, detail, {
          ...(done
            ? {
                notice: transfersText(lang, done === 'approved' ? 'doneApproved' : 'doneRejected', {
                  no: outTransferNo,
                }),
              }
            : {}),
        });
      },
    );

    for (const [action, approve] of [
      ['approve', true],
      ['reject', false],
    ] as const) {
      scope.post(
        `/transfers/:merchant/:outTransferNo/${action}`,
        { preHandler: requireRole('operator'), schema: { params: transferParams, body: decisionBody } },
        async (request: FastifyRequest, reply) => {
          const { merchant, outTransferNo } = request.params as TransferParams;
          // Another merchant's transfer answers as not found.
          if (!mayActOn(request, merchant))
            throw new PayError(40005, {
              field: 'out_transfer_no',
              message: `transfer ${outTransferNo} not found`,
            });
          const actor = kit.actorOf(request);
          const name = consoleUser(request).name;
          const note = (request.body as { note?: string } | null)?.note?.trim() || null;
          const done = approve ? 'approved' : 'rejected';
          const back = `${transferPath(merchant, outTransferNo)}?done=${done}`;
          try {
            const transfer = await vkPay.decideTransfer({
              merchantId: merchant,
              outTransferNo,
              approve,
              decidedBy: name,
              note,
              actorId: actor.id,
              ip: actor.ip,
              userAgent: actor.userAgent,
            });
            if (wantsHtml(request)) return kit.redirect(request, reply, back);
            return ok({ transfer: transferView(transfer), csrfToken: kit.csrfToken(request, reply) });
          } catch (error) {
            const problem = toPayError(error);
            // Not found and the JSON API's answers stay what they are.
            if (!wantsHtml(request) || (problem.code !== 40001 && problem.code !== 40009)) throw error;
            const detail = await transferDetail(db, merchant, outTransferNo, scopeOf(request));
            const { transfer } = detail;
            const lang = request.console.lang;
            // The same decision sent twice (a double click, a resubmitted form): it stands, once.
            if (transfer.decidedBy === name && transfer.status === (approve ? 'APPROVED' : 'REJECTED'))
              return kit.redirect(request, reply, back);
            const message =
              problem.code === 40009
                ? transfersText(lang, 'errOwn', { by: name })
                : transfer.status !== 'PENDING_APPROVAL'
                  ? transfersText(lang, 'errDecidedMeanwhile', {
                      by: transfer.decidedBy ?? '—',
                      status: transfer.status,
                    })
                  : problem.message;
            return detailView(request, reply, detail, {
              status:
                problem.code === 40001 && transfer.status !== 'PENDING_APPROVAL' ? 409 : problem.httpStatus,
              error: message,
              ...(note ? { note } : {}),
            });
          }
        },
      );
    }
  };
}
