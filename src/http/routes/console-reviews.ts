/**
 * The console's review queue: cases across the operator's merchants (viewer), one case with what
 * happened, and resolving it with a note (operator), through the service's resolveReview as the
 * API's resolve, with the audit row in the transaction of the change.
 */

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { searchReviews } from '../../console/queries.ts';
import { findReview, reviewDetail } from '../../console/review-detail.ts';
import { PayError, toPayError } from '../../core/errors.ts';
import { audit } from '../../service/console/audit.ts';
import { REVIEW_KINDS, type Review, type ReviewKind, resolveReview } from '../../service/reviews.ts';
import type { VkPay } from '../../vk-pay.ts';
import { type ReviewFilter, reviewPage, reviewsPage } from '../console/reviews-pages.ts';
import { DATE, detailQuery, idParams, LANG } from '../console/schemas.ts';
import { consoleUser, mayActOn, merchantScope, requireRole, wantsHtml } from '../console-access.ts';
import { text } from '../console-texts.ts';
import { ok } from '../envelope.ts';
import type { ConsolePageKit } from './console.ts';

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['open', 'resolved', 'all', 'OPEN', 'RESOLVED', 'ALL'] },
    kind: { type: 'string', enum: ['', ...REVIEW_KINDS] },
    merchant: { type: 'string', maxLength: 64 },
    from: DATE,
    to: DATE,
    after: { type: 'string', maxLength: 200 },
    lang: LANG,
  },
} as const;
const resolveBody = {
  type: 'object',
  additionalProperties: false,
  required: ['note'],
  properties: {
    // The service says what a note must be (2 to 500 characters); this only bounds the body.
    note: { type: 'string', maxLength: 2000 },
    _csrf: { type: 'string', maxLength: 200 },
    lang: LANG,
  },
} as const;

/** The case, if it is among the operator's merchants; another merchant's answers as not found. */
async function reviewInScope(vkPay: VkPay, request: FastifyRequest): Promise<Review> {
  const id = Number((request.params as { id: string }).id);
  const review = await findReview(vkPay.store.db, id);
  if (!review || !mayActOn(request, review.merchantId))
    throw new PayError(40005, { field: 'id', message: `review ${id} not found` });
  return review;
}

const mayResolve = (request: FastifyRequest) => consoleUser(request).role !== 'viewer';

export function reviewPages(vkPay: VkPay) {
  return async (scope: FastifyInstance, kit: ConsolePageKit): Promise<void> => {
    const db = vkPay.store.db;

    scope.get(
      '/reviews',
      { preHandler: requireRole('viewer'), schema: { querystring: listQuery } },
      async (request, reply) => {
        const query = request.query as Record<string, string | undefined>;
        const status = (query.status ?? 'open').toUpperCase() as 'OPEN' | 'RESOLVED' | 'ALL';
        const allowed = merchantScope(request);
        const merchant = query.merchant?.trim() || undefined;
        const merchantIds = merchant
          ? allowed === null || allowed.includes(merchant)
            ? [merchant]
            : []
          : (allowed ?? undefined);
        const page = await searchReviews(db, {
          merchantIds,
          status,
          kind: query.kind ? [query.kind as ReviewKind] : undefined,
          from: kit.dayStart(query.from, 'from'),
          to: kit.dayStart(query.to, 'to', 1),
          after: query.after || undefined,
        });
        const filter: ReviewFilter = {
          status: status.toLowerCase(),
          kind: query.kind || undefined,
          merchant,
          from: query.from || undefined,
          to: query.to || undefined,
        };
        return kit.answer(request, reply, {
          path: '/console/reviews',
          data: { rows: page.rows, next: page.next },
          page: (ctx) => reviewsPage(ctx, { ...page, filter }),
        });
      },
    );

    const detailView = async (
      request: FastifyRequest,
      reply: FastifyReply,
      review: Review,
      state: { status?: number; notice?: string; error?: string; note?: string } = {},
    ) => {
      const detail = await reviewDetail(db, review);
      return kit.answer(request, reply, {
        ...(state.status ? { status: state.status } : {}),
        path: `/console/reviews/${review.id}`,
        data: { ...detail },
        page: (ctx) => reviewPage(ctx, detail, { mayResolve: mayResolve(request), ...state }),
      });
    };

    scope.get(
      '/reviews/:id',
      { preHandler: requireRole('viewer'), schema: { params: idParams, querystring: detailQuery } },
      async (request, reply) => {
        const review = await reviewInScope(vkPay, request);
        const done = (request.query as { done?: string }).done === '1';
        return detailView(request, reply, review, {
          ...(done ? { notice: text(request.console.lang, 'reviewResolved', { id: review.id }) } : {}),
        });
      },
    );

    scope.post(
      '/reviews/:id/resolve',
      { preHandler: requireRole('operator'), schema: { params: idParams, body: resolveBody } },
      async (request, reply) => {
        const found = await reviewInScope(vkPay, request);
        const { note } = request.body as { note: string };
        const actor = kit.actorOf(request);
        let review: Review;
        try {
          review = await resolveReview(
            vkPay.context,
            found.merchantId,
            found.id,
            note,
            async (tx, before, after) =>
              audit(tx, {
                actor,
                action: 'review.resolved',
                target: `review:${after.id}`,
                before: { merchantId: before.merchantId, kind: before.kind, status: before.status },
                after: {
                  merchantId: after.merchantId,
                  kind: after.kind,
                  status: after.status,
                  note: after.note,
                },
              }),
          );
        } catch (error) {
          // A note that says too little is shown on the case's page, beside the field.
          const problem = toPayError(error);
          if (!wantsHtml(request) || problem.code !== 40001 || problem.field !== 'note') throw error;
          return detailView(request, reply, found, {
            status: 400,
            error: text(request.console.lang, 'noteInvalid'),
            note,
          });
        }
        if (wantsHtml(request)) return kit.redirect(request, reply, `/console/reviews/${review.id}?done=1`);
        return ok({ review, csrfToken: kit.csrfToken(request, reply) });
      },
    );
  };
}
