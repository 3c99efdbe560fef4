/** The review queue's pages: the list with its filters, and one case with its context and the resolve form. */
import type { ReviewDetail } from '../../console/review-detail.ts';
import { REVIEW_KINDS, type Review } from '../../service/reviews.ts';
import { alert, escapeHtml, field, form, layout, orderHref, type PageContext, t } from '../console-pages.ts';
import { text } from '../console-texts.ts';
import { filterForm, jsonBlock, nextLink, selectInput, timeCell } from './cells.ts';

export interface ReviewFilter {
  status?: string | undefined;
  kind?: string | undefined;
  merchant?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** Where an order's console page is. */
const statusText = (ctx: PageContext, status: Review['status']) =>
  t(ctx, status === 'OPEN' ? 'open' : 'resolved');

export function reviewsPage(
  ctx: PageContext,
  view: { rows: Review[]; next: string | null; filter: ReviewFilter },
): string {
  const { filter } = view;
  const filters = filterForm(
    ctx,
    '/console/reviews',
    `${field(
      'f-status',
      text(ctx.lang, 'status'),
      selectInput(
        'f-status',
        'status',
        [
          ['open', text(ctx.lang, 'open')],
          ['resolved', text(ctx.lang, 'resolved')],
          ['all', text(ctx.lang, 'anyValue')],
        ],
        filter.status ?? 'open',
      ),
    )}
${field(
  'f-kind',
  text(ctx.lang, 'kind'),
  selectInput(
    'f-kind',
    'kind',
    [['', text(ctx.lang, 'anyValue')], ...REVIEW_KINDS.map((kind): [string, string] => [kind, kind])],
    filter.kind,
  ),
)}
${field('f-merchant', text(ctx.lang, 'merchant'), `<input id="f-merchant" name="merchant" value="${escapeHtml(filter.merchant ?? '')}" maxlength="64">`)}
${field('f-from', text(ctx.lang, 'dateFrom'), `<input id="f-from" name="from" type="date" value="${escapeHtml(filter.from ?? '')}">`)}
${field('f-to', text(ctx.lang, 'dateTo'), `<input id="f-to" name="to" type="date" value="${escapeHtml(filter.to ?? '')}">`)}`,
  );
  const rows = view.rows
    .map(
      (review) =>
        `<tr data-testid="review-row"><th scope="row"><a href="${escapeHtml(ctx.href(`/console/reviews/${review.id}`))}" aria-label="${t(ctx, 'viewReview', { id: review.id })}">#${review.id}</a></th><td>${timeCell(review.createDate)}</td><td>${escapeHtml(review.merchantId)}</td><td><code>${escapeHtml(review.kind)}</code></td><td>${escapeHtml(review.outTradeNo ?? '')}</td><td>${escapeHtml(review.reference)}</td><td>${review.amountFen ?? ''}</td><td>${statusText(ctx, review.status)}</td></tr>`,
    )
    .join('\n');
  return layout(
    ctx,
    text(ctx.lang, 'reviews'),
    `${filters}
${
  view.rows.length === 0
    ? `<p>${t(ctx, 'noRows')}</p>`
    : `<div class="table-wrap"><table>
<thead><tr><th scope="col">#</th><th scope="col">${t(ctx, 'created')} (UTC)</th><th scope="col">${t(ctx, 'merchant')}</th><th scope="col">${t(ctx, 'kind')}</th><th scope="col">${t(ctx, 'orderNo')}</th><th scope="col">${t(ctx, 'reference')}</th><th scope="col">${t(ctx, 'amountFen')}</th><th scope="col">${t(ctx, 'status')}</th></tr></thead>
<tbody>${rows}</tbody></table></div>`
}
${nextLink(ctx, '/console/reviews', { ...filter }, 'after', view.next)}`,
  );
}

export function reviewPage(
  ctx: PageContext,
  detail: ReviewDetail,
  state: { mayResolve: boolean; notice?: string; error?: string; note?: string },
): string {
  const { review, order } = detail;
  const facts = `<dl class="facts" data-testid="review-facts">
<dt>${t(ctx, 'status')}</dt><dd data-testid="review-status">${statusText(ctx, review.status)}</dd>
<dt>${t(ctx, 'merchant')}</dt><dd>${escapeHtml(review.merchantId)}</dd>
<dt>${t(ctx, 'kind')}</dt><dd><code>${escapeHtml(review.kind)}</code></dd>
<dt>${t(ctx, 'reference')}</dt><dd>${escapeHtml(review.reference)}</dd>
<dt>${t(ctx, 'provider')}</dt><dd>${escapeHtml(review.provider ?? '')}</dd>
<dt>${t(ctx, 'amountFen')}</dt><dd>${review.amountFen ?? ''}</dd>
<dt>${t(ctx, 'created')} (UTC)</dt><dd>${timeCell(review.createDate)}</dd>
${review.resolveDate ? `<dt>${t(ctx, 'resolvedAt')} (UTC)</dt><dd>${timeCell(review.resolveDate)}</dd>` : ''}
${review.note !== null ? `<dt>${t(ctx, 'note')}</dt><dd data-testid="review-note">${escapeHtml(review.note)}</dd>` : ''}
<dt>${t(ctx, 'whatToDo')}</dt><dd>${escapeHtml(review.action)}</dd>
</dl>`;
  const orderSection = order
    ? `<dl class="facts" data-testid="review-order">
<dt>${t(ctx, 'orderNo')}</dt><dd><a href="${escapeHtml(ctx.href(orderHref(review.merchantId, order.outTradeNo)))}">${t(ctx, 'openOrder', { no: order.outTradeNo })}</a></dd>
<dt>${t(ctx, 'status')}</dt><dd><code>${escapeHtml(order.status)}</code></dd>
<dt>${t(ctx, 'provider')}</dt><dd>${escapeHtml(order.provider)}</dd>
<dt>${t(ctx, 'amountFen')}</dt><dd>${order.totalFen}</dd>
<dt>${t(ctx, 'refundedFen')}</dt><dd>${order.refundedFen}</dd>
<dt>${t(ctx, 'transactionId')}</dt><dd>${escapeHtml(order.transactionId ?? '')}</dd>
<dt>${t(ctx, 'created')} (UTC)</dt><dd>${timeCell(order.createDate)}</dd>
<dt>${t(ctx, 'paidAt')} (UTC)</dt><dd>${timeCell(order.payDate)}</dd>
</dl>`
    : `<p>${review.outTradeNo ? escapeHtml(review.outTradeNo) : t(ctx, 'noOrder')}</p>`;
  const deliveries =
    detail.deliveries.length === 0
      ? `<p>${t(ctx, 'noRows')}</p>`
      : `<div class="table-wrap"><table>
<thead><tr><th scope="col">#</th><th scope="col">${t(ctx, 'eventType')}</th><th scope="col">${t(ctx, 'status')}</th><th scope="col">${t(ctx, 'attempts')}</th></tr></thead>
<tbody>${detail.deliveries
          .map(
            (delivery) =>
              `<tr><th scope="row"><a href="${escapeHtml(ctx.href(`/console/deliveries/${delivery.id}`))}" aria-label="${t(ctx, 'viewDelivery', { id: delivery.id })}">#${delivery.id}</a></th><td><code>${escapeHtml(delivery.eventType)}</code></td><td>${t(ctx, `status_${delivery.status}` as 'status_PENDING')}</td><td>${delivery.attempts}</td></tr>`,
          )
          .join('')}</tbody></table></div>`;
  const invalid = state.error
    ? ' aria-invalid="true" aria-describedby="form-error note-help"'
    : ' aria-describedby="note-help"';
  const resolveForm =
    review.status === 'OPEN' && state.mayResolve
      ? `<h2 id="resolve-heading">${t(ctx, 'resolve')}</h2>${alert(state.error)}${form(
          ctx,
          `/console/reviews/${review.id}/resolve`,
          `${field('note', text(ctx.lang, 'note'), `<textarea id="note" name="note" rows="4" required minlength="2" maxlength="500"${invalid}>${escapeHtml(state.note ?? '')}</textarea>`, text(ctx.lang, 'noteHelp'))}
<button type="submit">${t(ctx, 'resolve')}</button>`,
          'card',
        )}`
      : '';
  return layout(
    ctx,
    text(ctx.lang, 'review', { id: review.id }),
    `${state.notice ? `<p class="notice" role="status" data-testid="notice">${escapeHtml(state.notice)}</p>` : ''}
${facts}
<h2>${t(ctx, 'details')}</h2>
${jsonBlock(review.details, text(ctx.lang, 'details'))}
<h2>${t(ctx, 'theOrder')}</h2>
${orderSection}
<h2>${t(ctx, 'relatedDeliveries')}</h2>
${deliveries}
${resolveForm}
<p><a href="${escapeHtml(ctx.href('/console/reviews'))}">${t(ctx, 'back')}</a></p>`,
  );
}
