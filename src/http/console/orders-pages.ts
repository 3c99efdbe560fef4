/**
 * The console's order pages, rendered on the server: the search with its filters, keyset pages and
 * CSV export, one order with its fields, refunds, timeline and actions, and the refund's
 * confirmation step. Plain forms with a label on every field; the script only asks before a close.
 */

import type { ConsoleProfitSharing } from '../../console/profit-sharing.ts';
import type { ConsoleOrderDetail, OrderPage, OrderTimeline, TimelineEntry } from '../../console/queries.ts';
import { fenToYuan } from '../../core/money.ts';
import { isPaid, ORDER_STATUSES } from '../../core/states.ts';
import { alert, escapeHtml, field, form, layout, type PageContext } from '../console-pages.ts';
import { type OrdersTextKey, ordersText } from './orders-texts.ts';

const t = (ctx: PageContext, key: OrdersTextKey, values?: Record<string, string | number>) =>
  escapeHtml(ordersText(ctx.lang, key, values));

const yuan = (fen: number) => fenToYuan(fen);

function time(value: string | null): string {
  if (!value) return '';
  return `<time datetime="${escapeHtml(value)}">${escapeHtml(value.replace('T', ' ').slice(0, 19))}</time>`;
}

export function orderPath(merchantId: string, outTradeNo: string): string {
  return `/console/orders/${encodeURIComponent(merchantId)}/${encodeURIComponent(outTradeNo)}`;
}

/** The search as the form shows it: what the operator typed, before it was checked. */
export interface OrderFilterForm {
  out_trade_no?: string;
  transaction_id?: string;
  user_id?: string;
  status?: string;
  provider?: string;
  min?: string;
  max?: string;
  from?: string;
  to?: string;
}

export const FILTER_FIELDS: ReadonlyArray<keyof OrderFilterForm> = [
  'out_trade_no',
  'transaction_id',
  'user_id',
  'status',
  'provider',
  'min',
  'max',
  'from',
  'to',
];

/** The filters as a query string, empty ones left out. */
function filterParams(filter: OrderFilterForm, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams();
  for (const name of FILTER_FIELDS) if (filter[name]) query.set(name, filter[name]!);
  for (const [name, value] of Object.entries(extra)) query.set(name, value);
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** The search page with these filters (and a page cursor), the page's language kept. */
function filterQuery(ctx: PageContext, filter: OrderFilterForm, extra: Record<string, string> = {}) {
  return ctx.href(`/console/orders${filterParams(filter, extra)}`);
}

export interface SearchView {
  filter: OrderFilterForm;
  page: OrderPage;
  providers: readonly string[];
  /** A filter the service refused: the message and the field. */
  error?: { message: string; field?: string | undefined };
}

function options(ctx: PageContext, values: readonly string[], selected: string | undefined): string {
  return [`<option value="">${t(ctx, 'any')}</option>`]
    .concat(
      values.map(
        (value) =>
          `<option value="${escapeHtml(value)}"${value === selected ? ' selected' : ''}>${escapeHtml(value)}</option>`,
      ),
    )
    .join('');
}

export function ordersSearchPage(ctx: PageContext, view: SearchView): string {
  const { filter } = view;
  const value = (name: keyof OrderFilterForm) => escapeHtml(filter[name] ?? '');
  const invalid = (name: string) =>
    view.error?.field === name ? ' aria-invalid="true" aria-describedby="form-error"' : '';
  const input = (id: string, name: keyof OrderFilterForm, attributes: string) =>
    `<input id="${id}" name="${name}" value="${value(name)}" ${attributes}${invalid(name)}>`;
  const filters = `<form method="get" action="/console/orders" class="filters" role="search" aria-label="${t(ctx, 'searchOrders')}">
${ctx.href('') ? `<input type="hidden" name="lang" value="${ctx.lang}">` : ''}
${field('o-out-trade-no', ordersText(ctx.lang, 'outTradeNo'), input('o-out-trade-no', 'out_trade_no', 'maxlength="64" autocomplete="off"'))}
${field('o-transaction', ordersText(ctx.lang, 'transactionId'), input('o-transaction', 'transaction_id', 'maxlength="64" autocomplete="off"'))}
${field('o-user', ordersText(ctx.lang, 'userId'), input('o-user', 'user_id', 'maxlength="128" autocomplete="off"'))}
${field('o-status', ordersText(ctx.lang, 'status'), `<select id="o-status" name="status"${invalid('status')}>${options(ctx, ORDER_STATUSES, filter.status)}</select>`)}
${field('o-provider', ordersText(ctx.lang, 'provider'), `<select id="o-provider" name="provider"${invalid('provider')}>${options(ctx, view.providers, filter.provider)}</select>`)}
${field('o-min', ordersText(ctx.lang, 'minYuan'), input('o-min', 'min', 'inputmode="decimal" maxlength="13" aria-describedby="o-min-help" autocomplete="off"'), ordersText(ctx.lang, 'yuanHelp'))}
${field('o-max', ordersText(ctx.lang, 'maxYuan'), input('o-max', 'max', 'inputmode="decimal" maxlength="13" autocomplete="off"'))}
${field('o-from', ordersText(ctx.lang, 'createdFrom'), input('o-from', 'from', 'type="date"'))}
${field('o-to', ordersText(ctx.lang, 'createdTo'), input('o-to', 'to', 'type="date"'))}
<div class="buttons"><button type="submit">${t(ctx, 'search')}</button>
<a href="${escapeHtml(ctx.href('/console/orders'))}">${t(ctx, 'clear')}</a></div></form>`;
  const csv = `/console/orders.csv${filterParams(filter)}`;
  const rows = view.page.rows
    .map(
      (row) =>
        `<tr data-testid="order-row"><th scope="row"><a href="${escapeHtml(ctx.href(orderPath(row.merchantId, row.outTradeNo)))}">${escapeHtml(row.outTradeNo)}</a></th><td>${escapeHtml(row.merchantId)}</td><td>${escapeHtml(row.provider)}</td><td><code>${escapeHtml(row.status)}</code></td><td class="num">${yuan(row.totalFen)}</td><td class="num">${yuan(row.refundedFen)}</td><td>${escapeHtml(row.userId ?? '')}</td><td>${time(row.createdAt)}</td></tr>`,
    )
    .join('\n');
  const pager: string[] = [];
  if (view.page.previous)
    pager.push(
      `<li><a href="${escapeHtml(filterQuery(ctx, filter, { before: view.page.previous }))}" rel="prev" data-testid="previous">${t(ctx, 'previous')}</a></li>`,
    );
  if (view.page.next)
    pager.push(
      `<li><a href="${escapeHtml(filterQuery(ctx, filter, { after: view.page.next }))}" rel="next" data-testid="next">${t(ctx, 'next')}</a></li>`,
    );
  const table =
    view.page.rows.length === 0
      ? `<p data-testid="no-orders">${t(ctx, 'noOrders')}</p>`
      : `<div class="table-wrap"><table>
<caption>${t(ctx, 'rowsShown', { n: view.page.rows.length })}</caption>
<thead><tr><th scope="col">${t(ctx, 'outTradeNo')}</th><th scope="col">${t(ctx, 'merchant')}</th><th scope="col">${t(ctx, 'provider')}</th><th scope="col">${t(ctx, 'status')}</th><th scope="col">${t(ctx, 'amount')} (¥)</th><th scope="col">${t(ctx, 'refunded')} (¥)</th><th scope="col">${t(ctx, 'userId')}</th><th scope="col">${t(ctx, 'created')}</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
  return layout(
    ctx,
    ordersText(ctx.lang, 'ordersTitle'),
    `${alert(view.error?.message)}${filters}
<p><a href="${escapeHtml(csv)}" download data-testid="export-csv">${t(ctx, 'exportCsv')}</a></p>
<h2>${t(ctx, 'results')}</h2>
${table}
${pager.length ? `<nav aria-label="${t(ctx, 'pages')}"><ul class="pager">${pager.join('')}</ul></nav>` : ''}`,
  );
}

export interface OrderView {
  timeline: OrderTimeline;
  refundableFen: number;
  /** The order's splits and returns; null when it was neither created for splitting nor split. */
  profitSharing: ConsoleProfitSharing | null;
  /** The operator may act (operator or admin). */
  canAct: boolean;
  /** The out_refund_no this page's refund form uses, so a second submit is the same refund. */
  outRefundNo: string;
  notice?: string | undefined;
  /** An action refused: the message, and the form it belongs to. */
  error?: { message: string; form: 'refund' | 'close' | 'query' } | undefined;
  refundForm?: { amount?: string; reason?: string } | undefined;
}

const UNPAID = new Set(['NOTPAY', 'USERPAYING', 'FAILED']);
const REFUNDABLE = new Set(['SUCCESS', 'PARTIAL_REFUNDED']);

function json(value: unknown): string {
  return escapeHtml(JSON.stringify(value, null, 2));
}

function detailsList(ctx: PageContext, order: ConsoleOrderDetail, refundableFen: number): string {
  const row = (key: OrdersTextKey, value: string, testid?: string) =>
    `<dt>${t(ctx, key)}</dt><dd${testid ? ` data-testid="${testid}"` : ''}>${value}</dd>`;
  const text = (value: string | null) => escapeHtml(value ?? '');
  return `<dl class="facts" data-testid="order-details">
${row('merchant', text(order.merchantId))}
${row('outTradeNo', `<code>${text(order.outTradeNo)}</code>`)}
${row('status', `<code>${text(order.status)}</code>`, 'order-status')}
${row('total', `¥${yuan(order.totalFen)}`, 'order-total')}
${row('refunded', `¥${yuan(order.refundedFen)}`, 'order-refunded')}
${row('refundable', `¥${yuan(refundableFen)}`, 'order-refundable')}
${row('provider', text(order.provider))}
${row('scene', text(order.scene))}
${row('type', text(order.type))}
${row('subject', text(order.subject))}
${row('transactionId', text(order.transactionId))}
${row('userId', text(order.userId))}
${row('openid', text(order.openid))}
${row('mchId', text(order.mchId))}
${row('appId', text(order.appId))}
${row('clientIp', text(order.clientIp))}
${row('handlerDone', order.userOrderSuccess ? t(ctx, 'yes') : t(ctx, 'no'))}
${row('created', time(order.createdAt))}
${row('paidAt', time(order.paidAt))}
${row('closedAt', time(order.closedAt))}
${row('expireAt', time(order.expireAt))}
${row('custom', Object.keys(order.custom).length ? `<pre>${json(order.custom)}</pre>` : '')}
</dl>`;
}

function payload(ctx: PageContext, value: unknown): string {
  if (value === null || value === undefined) return '';
  return `<details><summary>${t(ctx, 'payload')}</summary><pre>${json(value)}</pre></details>`;
}

function entryHtml(ctx: PageContext, entry: TimelineEntry): string {
  const head = (key: OrdersTextKey, detail: string) =>
    `${time(entry.at)} <strong>${t(ctx, key)}</strong> ${detail}`;
  switch (entry.kind) {
    case 'created':
      return head('evCreated', `¥${yuan(entry.totalFen)} · ${escapeHtml(entry.scene)}`);
    case 'journal':
      return `${head(
        entry.gateway ? 'evGateway' : 'evStep',
        `<code>${escapeHtml(entry.operation)}</code> ${escapeHtml(entry.provider ?? '')} · <code>${entry.status}</code>${
          entry.latencyMs === null ? '' : ` · ${t(ctx, 'latency', { ms: entry.latencyMs })}`
        }${entry.amountFen === null ? '' : ` · ¥${yuan(entry.amountFen)}`}`,
      )}${payload(ctx, entry.error)}`;
    case 'error':
      return `${head('evError', `${entry.code}${entry.gatewayCode ? ` (${escapeHtml(entry.gatewayCode)})` : ''} · ${escapeHtml(entry.message)}`)}${payload(ctx, entry.payload)}`;
    case 'callback':
      return `${head('evCallback', `${escapeHtml(entry.provider)} · <code>${escapeHtml(entry.result)}</code>`)}${payload(ctx, entry.payload)}`;
    case 'paid':
      return head('evPaid', escapeHtml(entry.transactionId ?? ''));
    case 'closed':
      return head('evClosed', '');
    case 'refund':
      return head(
        'evRefund',
        `<code>${escapeHtml(entry.outRefundNo)}</code> ¥${yuan(entry.refundFen)}${entry.reason ? ` · ${escapeHtml(entry.reason)}` : ''}`,
      );
    case 'refund_settled':
      return head(
        'evRefundSettled',
        `<code>${escapeHtml(entry.outRefundNo)}</code> · <code>${entry.status}</code>`,
      );
    case 'webhook_event':
      return `${head('evWebhook', `<code>${escapeHtml(entry.type)}</code>`)}${
        entry.deliveries.length
          ? `<ul>${entry.deliveries
              .map(
                (delivery) =>
                  `<li>${escapeHtml(delivery.endpointId)} · <code>${escapeHtml(delivery.status)}</code> · ${delivery.attempts}${
                    delivery.lastStatusCode === null ? '' : ` · HTTP ${delivery.lastStatusCode}`
                  }</li>`,
              )
              .join('')}</ul>`
          : ''
      }`;
    case 'webhook_attempt':
      return head(
        'evAttempt',
        `${escapeHtml(entry.endpointId)} #${entry.attempt} · ${entry.ok ? 'OK' : escapeHtml(entry.error ?? 'failed')}${
          entry.statusCode === null ? '' : ` · HTTP ${entry.statusCode}`
        } · ${t(ctx, 'latency', { ms: entry.latencyMs })}`,
      );
    case 'review':
      return head(
        'evReview',
        `#${entry.id} <code>${escapeHtml(entry.reviewKind)}</code> · ${escapeHtml(entry.reference)} · <code>${entry.status}</code>`,
      );
    case 'split':
      return head(
        'evSplit',
        `<code>${escapeHtml(entry.outSplitNo)}</code> ${t(ctx, entry.splitKind === 'unfreeze' ? 'kind_unfreeze' : 'kind_split')} · ¥${yuan(entry.amountFen)} · <code>${entry.status}</code>`,
      );
    case 'split_return':
      return head(
        'evSplitReturn',
        `<code>${escapeHtml(entry.outReturnNo)}</code> ¥${yuan(entry.amountFen)} · <code>${entry.status}</code>${
          entry.withRefund ? ` · ${t(ctx, 'withRefund')}` : ''
        }`,
      );
    case 'review_resolved':
      return head(
        'evReviewResolved',
        `#${entry.id} <code>${escapeHtml(entry.reviewKind)}</code>${entry.note ? ` · ${escapeHtml(entry.note)}` : ''}`,
      );
  }
}

function actionsHtml(ctx: PageContext, view: OrderView): string {
  const { order } = view.timeline;
  if (!view.canAct) return `<p>${t(ctx, 'viewerOnly')}</p>`;
  const path = orderPath(order.merchantId, order.outTradeNo);
  const errorFor = (which: 'refund' | 'close' | 'query') =>
    view.error?.form === which ? alert(view.error.message) : '';
  const refundable = REFUNDABLE.has(order.status) && view.refundableFen > 0;
  const amountState =
    view.error?.form === 'refund'
      ? 'aria-invalid="true" aria-describedby="form-error refund-amount-help"'
      : 'aria-describedby="refund-amount-help"';
  const refund = refundable
    ? `<section aria-labelledby="refund-title" class="card"><h3 id="refund-title">${t(ctx, 'refund')}</h3>
${errorFor('refund')}${form(
  ctx,
  `${path}/refund`,
  `<input type="hidden" name="out_refund_no" value="${escapeHtml(view.outRefundNo)}">
${field('refund-amount', ordersText(ctx.lang, 'refundAmount'), `<input id="refund-amount" name="amount" inputmode="decimal" required maxlength="13" autocomplete="off" value="${escapeHtml(view.refundForm?.amount ?? '')}" ${amountState}>`, ordersText(ctx.lang, 'refundAmountHelp', { max: yuan(view.refundableFen) }))}
${field('refund-reason', ordersText(ctx.lang, 'reason'), `<input id="refund-reason" name="reason" maxlength="80" autocomplete="off" value="${escapeHtml(view.refundForm?.reason ?? '')}" aria-describedby="refund-reason-help">`, ordersText(ctx.lang, 'reasonHelp'))}
<button type="submit" data-testid="refund-review">${t(ctx, 'reviewRefund')}</button>`,
  'refund',
)}</section>`
    : `<p data-testid="not-refundable">${t(ctx, 'notRefundable', { status: order.status, left: yuan(view.refundableFen) })}</p>`;
  const close = UNPAID.has(order.status)
    ? `<section aria-labelledby="close-title" class="card"><h3 id="close-title">${t(ctx, 'close')}</h3>
<p>${t(ctx, 'closeHelp')}</p>${errorFor('close')}${form(
        ctx,
        `${path}/close`,
        `<button type="submit" class="danger" data-testid="close" data-confirm="${t(ctx, 'confirmClose', { no: order.outTradeNo })}">${t(ctx, 'close')}</button>`,
        'close',
      )}</section>`
    : '';
  const query = `<section aria-labelledby="query-title" class="card"><h3 id="query-title">${t(ctx, 'queryNow')}</h3>
<p>${t(ctx, 'queryHelp')}</p>${errorFor('query')}${form(
    ctx,
    `${path}/query`,
    `<button type="submit" class="secondary" data-testid="query">${t(ctx, 'queryNow')}</button>`,
    'query',
  )}</section>`;
  // A refusal of a form this page no longer shows (the order changed meanwhile) leads the actions.
  const shown = { refund: refundable, close: close !== '', query: true };
  const orphan = view.error && !shown[view.error.form] ? alert(view.error.message) : '';
  return `${orphan}${refund}${close}${query}`;
}

/** The order's profit sharing: what may still be split, each split with its lines, each return. */
function profitSharingHtml(ctx: PageContext, sharing: ConsoleProfitSharing, paid: boolean): string {
  const head = (keys: OrdersTextKey[]) =>
    `<thead><tr>${keys.map((key) => `<th scope="col">${t(ctx, key)}${key === 'amount' ? ' (¥)' : ''}</th>`).join('')}</tr></thead>`;
  const code = (value: string) => `<code>${escapeHtml(value)}</code>`;
  const splits = sharing.splits
    .map((split) => {
      const lines = split.lines.length
        ? `<div class="table-wrap" tabindex="0" role="region" aria-label="${t(ctx, 'splitLinesCaption', { no: split.out_split_no })}"><table data-testid="split-lines"><caption>${t(ctx, 'splitLinesCaption', { no: split.out_split_no })}</caption>${head(['receiverType', 'receiverAccount', 'amount', 'description', 'result', 'failReason'])}<tbody>${split.lines
            .map(
              (line) =>
                `<tr data-testid="split-line"><td>${code(line.type)}</td><th scope="row">${escapeHtml(line.account)}</th><td class="num">${yuan(line.amount)}</td><td>${escapeHtml(line.description)}</td><td>${code(line.result)}</td><td data-testid="line-fail-reason">${escapeHtml(line.fail_reason ?? '')}</td></tr>`,
            )
            .join('')}</tbody></table></div>`
        : `<p>${t(ctx, 'noLines')}</p>`;
      return `<section class="card split" data-testid="split" aria-labelledby="split-${escapeHtml(split.out_split_no)}">
<h4 id="split-${escapeHtml(split.out_split_no)}">${code(split.out_split_no)}</h4>
<dl class="facts">
<dt>${t(ctx, 'splitKind')}</dt><dd>${t(ctx, split.kind === 'unfreeze' ? 'kind_unfreeze' : 'kind_split')}</dd>
<dt>${t(ctx, 'status')}</dt><dd data-testid="split-status">${code(split.status)}</dd>
<dt>${t(ctx, 'amount')}</dt><dd data-testid="split-amount">¥${yuan(split.amount)}</dd>
<dt>${t(ctx, 'created')}</dt><dd>${time(split.create_date)}</dd>
${split.fail_reason ? `<dt>${t(ctx, 'failReason')}</dt><dd>${escapeHtml(split.fail_reason)}</dd>` : ''}
</dl>
${lines}</section>`;
    })
    .join('\n');
  const returns = sharing.returns.length
    ? `<div class="table-wrap" tabindex="0" role="region" aria-labelledby="split-returns-title"><table data-testid="split-returns">${head(['outReturnNo', 'outSplitNo', 'receiverType', 'receiverAccount', 'amount', 'status', 'withRefund', 'failReason', 'created'])}<tbody>${sharing.returns
        .map(
          (ret) =>
            `<tr data-testid="split-return"><th scope="row">${code(ret.out_return_no)}</th><td>${code(ret.out_split_no)}</td><td>${code(ret.receiver_type)}</td><td>${escapeHtml(ret.receiver_account)}</td><td class="num">${yuan(ret.amount)}</td><td>${code(ret.status)}</td><td>${t(ctx, ret.with_refund ? 'yes' : 'no')}</td><td>${escapeHtml(ret.fail_reason ?? '')}</td><td>${time(ret.create_date)}</td></tr>`,
        )
        .join('')}</tbody></table></div>`
    : `<p>${t(ctx, 'noSplitReturns')}</p>`;
  return `<section aria-labelledby="profit-sharing-title" data-testid="profit-sharing">
<h2 id="profit-sharing-title">${t(ctx, 'profitSharing')}</h2>
<dl class="facts">
<dt>${t(ctx, 'createdForSplitting')}</dt><dd>${t(ctx, sharing.createdForSplitting ? 'yes' : 'no')}</dd>
<dt>${t(ctx, 'splittable')}</dt><dd data-testid="splittable">¥${yuan(sharing.splittableFen)} <span class="help">${t(ctx, 'splittableHelp')}</span></dd>
</dl>
${sharing.splittingFinished ? `<p data-testid="splitting-finished">${t(ctx, 'splittingFinished')}</p>` : paid ? '' : `<p data-testid="split-needs-paid">${t(ctx, 'splitNeedsPaid')}</p>`}
<h3>${t(ctx, 'splits')}</h3>
${splits || `<p>${t(ctx, 'noSplits')}</p>`}
<h3 id="split-returns-title">${t(ctx, 'splitReturns')}</h3>
${returns}
</section>`;
}

export function orderPage(ctx: PageContext, view: OrderView): string {
  const { order, entries, journalShared } = view.timeline;
  const refunds = entries.filter(
    (entry): entry is Extract<TimelineEntry, { kind: 'refund' }> => entry.kind === 'refund',
  );
  const refundRows = refunds
    .map(
      (refund) =>
        `<tr data-testid="refund-row"><th scope="row"><code>${escapeHtml(refund.outRefundNo)}</code></th><td class="num">${yuan(refund.refundFen)}</td><td><code>${refund.status}</code></td><td>${escapeHtml(refund.reason ?? '')}</td><td>${time(refund.at)}</td></tr>`,
    )
    .join('');
  const timeline = entries
    .map(
      (entry) => `<li data-testid="timeline-entry" data-kind="${entry.kind}">${entryHtml(ctx, entry)}</li>`,
    )
    .join('\n');
  return layout(
    ctx,
    ordersText(ctx.lang, 'orderTitle', { no: order.outTradeNo }),
    `<p><a href="${escapeHtml(ctx.href('/console/orders'))}">${t(ctx, 'backToSearch')}</a></p>
${view.notice ? `<p class="notice" role="status" data-testid="notice">${escapeHtml(view.notice)}</p>` : ''}
<h2>${t(ctx, 'details')}</h2>
${detailsList(ctx, order, view.refundableFen)}
<h2>${t(ctx, 'actions')}</h2>
${actionsHtml(ctx, view)}
<h2>${t(ctx, 'refunds')}</h2>
${
  refunds.length
    ? `<div class="table-wrap"><table><thead><tr><th scope="col">${t(ctx, 'outRefundNo')}</th><th scope="col">${t(ctx, 'amount')} (¥)</th><th scope="col">${t(ctx, 'status')}</th><th scope="col">${t(ctx, 'reason')}</th><th scope="col">${t(ctx, 'created')}</th></tr></thead><tbody>${refundRows}</tbody></table></div>`
    : `<p>${t(ctx, 'noRefunds')}</p>`
}
${view.profitSharing ? profitSharingHtml(ctx, view.profitSharing, isPaid(order.status)) : ''}
<h2>${t(ctx, 'timeline')}</h2>
${journalShared ? `<p class="notice">${t(ctx, 'journalShared')}</p>` : ''}
<ol class="timeline" data-testid="timeline">${timeline}</ol>`,
  );
}

export interface RefundConfirmView {
  order: ConsoleOrderDetail;
  refundFen: number;
  refundableFen: number;
  outRefundNo: string;
  reason: string;
}

/** The confirmation step: what will be refunded, and a form that sends it with `confirm`. */
export function refundConfirmPage(ctx: PageContext, view: RefundConfirmView): string {
  const path = orderPath(view.order.merchantId, view.order.outTradeNo);
  const amount = yuan(view.refundFen);
  return layout(
    ctx,
    ordersText(ctx.lang, 'confirmRefundTitle'),
    `<p data-testid="confirm-text">${t(ctx, 'confirmRefundText', {
      no: view.order.outTradeNo,
      amount,
      total: yuan(view.order.totalFen),
      left: yuan(view.refundableFen - view.refundFen),
    })}</p>
${view.reason ? `<p>${t(ctx, 'reason')}: ${escapeHtml(view.reason)}</p>` : ''}
${form(
  ctx,
  `${path}/refund`,
  `<input type="hidden" name="out_refund_no" value="${escapeHtml(view.outRefundNo)}">
<input type="hidden" name="amount" value="${amount}">
<input type="hidden" name="reason" value="${escapeHtml(view.reason)}">
<input type="hidden" name="confirm" value="1">
<div class="buttons"><button type="submit" class="danger" data-testid="refund-confirm">${t(ctx, 'confirmRefund', { amount })}</button>
<a href="${escapeHtml(ctx.href(path))}">${t(ctx, 'cancel')}</a></div>`,
  'card',
)}`,
  );
}
