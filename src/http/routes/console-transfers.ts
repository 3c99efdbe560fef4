/**
 * The console's transfers: the list across the operator's merchants (viewer), and the second
 * person's decision on a transfer awaiting approval (operator): approve (then it is sent) or
 * reject, through the service's decide as the API's, never by the one who asked for the transfer,
 * with the audit row in the transaction of the change. The page is a plain list; decisions are
 * made through this JSON API (a form per row is left for later).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PayError } from '../../core/errors.ts';
import { isTransferStatus, TRANSFER_STATUSES, type TransferStatus } from '../../core/transfer-states.ts';
import { type Transfer, transferView } from '../../service/transfers.ts';
import type { VkPay } from '../../vk-pay.ts';
import { timeCell } from '../console/cells.ts';
import { LANG } from '../console/schemas.ts';
import { consoleUser, mayActOn, merchantScope, requireRole } from '../console-access.ts';
import { escapeHtml, layout, type PageContext } from '../console-pages.ts';
import { ok } from '../envelope.ts';
import type { ConsolePageKit } from './console.ts';

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['', ...TRANSFER_STATUSES] },
    merchant: { type: 'string', maxLength: 64 },
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
const decisionBody = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    note: { type: 'string', maxLength: 200 },
    _csrf: { type: 'string', maxLength: 200 },
    lang: LANG,
  },
} as const;

function transfersPage(ctx: PageContext, rows: Transfer[]): string {
  const zh = ctx.lang === 'zh';
  const head = (
    zh
      ? ['商户', '转账单号', '渠道', '金额（分）', '状态', '申请人', '审批人', '创建时间 (UTC)']
      : [
          'Merchant',
          'Transfer no.',
          'Gateway',
          'Amount (fen)',
          'Status',
          'Requested by',
          'Decided by',
          'Created (UTC)',
        ]
  )
    .map((cell) => `<th scope="col">${escapeHtml(cell)}</th>`)
    .join('');
  const body = rows
    .map(
      (row) =>
        `<tr data-testid="transfer-row"><td>${escapeHtml(row.merchantId)}</td><th scope="row">${escapeHtml(row.outTransferNo)}</th><td>${escapeHtml(row.provider)}</td><td>${row.amountFen}</td><td><code>${escapeHtml(row.status)}</code></td><td>${escapeHtml(row.requestedBy)}</td><td>${escapeHtml(row.decidedBy ?? '')}</td><td>${timeCell(row.createdAt)}</td></tr>`,
    )
    .join('\n');
  return layout(
    ctx,
    zh ? '转账' : 'Transfers',
    rows.length === 0
      ? `<p>${zh ? '没有转账' : 'No transfers'}</p>`
      : `<div class="table-wrap"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`,
  );
}

export function transferPages(vkPay: VkPay) {
  return async (scope: FastifyInstance, kit: ConsolePageKit): Promise<void> => {
    scope.get(
      '/transfers',
      { preHandler: requireRole('viewer'), schema: { querystring: listQuery } },
      async (request, reply) => {
        const query = request.query as { status?: string; merchant?: string };
        const allowed = merchantScope(request);
        const merchant = query.merchant?.trim() || undefined;
        const merchantIds = merchant
          ? allowed === null || allowed.includes(merchant)
            ? [merchant]
            : []
          : allowed;
        const rows = await vkPay.listTransfers(merchantIds, {
          status:
            query.status && isTransferStatus(query.status) ? (query.status as TransferStatus) : undefined,
          limit: 100,
        });
        return kit.answer(request, reply, {
          path: '/console/transfers',
          data: { rows: rows.map((row) => ({ merchant_id: row.merchantId, ...transferView(row) })) },
          page: (ctx) => transfersPage(ctx, rows),
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
          const { merchant, outTransferNo } = request.params as { merchant: string; outTransferNo: string };
          // Another merchant's transfer answers as not found.
          if (!mayActOn(request, merchant))
            throw new PayError(40005, {
              field: 'out_transfer_no',
              message: `transfer ${outTransferNo} not found`,
            });
          const actor = kit.actorOf(request);
          const transfer = await vkPay.decideTransfer({
            merchantId: merchant,
            outTransferNo,
            approve,
            decidedBy: consoleUser(request).name,
            note: (request.body as { note?: string } | null)?.note ?? null,
            actorId: actor.id,
            ip: actor.ip,
            userAgent: actor.userAgent,
          });
          return ok({ transfer: transferView(transfer), csrfToken: kit.csrfToken(request, reply) });
        },
      );
    }
  };
}
