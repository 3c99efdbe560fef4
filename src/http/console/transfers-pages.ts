/**
 * The console's transfer pages, rendered on the server: the list with its views (waiting for
 * approval, all), filters and keyset pages; one transfer with its facts, its timeline and, while
 * it waits for approval, the approve and reject form. Amounts in yuan; the payee's identity and
 * name never appear (they are sealed), only the identity's type.
 */

import type { TransferDetail, TransferPage, TransferTimelineEntry } from '../../console/transfers.ts';
import { fenToYuan } from '../../core/money.ts';
import { TRANSFER_STATUSES } from '../../core/transfer-states.ts';
import { alert, escapeHtml, field, form, layout, type PageContext } from '../console-pages.ts';
import { selectInput, timeCell } from './cells.ts';
import { type TransfersTextKey, transfersText } from './transfers-texts.ts';

const t = (ctx: PageContext, key: TransfersTextKey, values?: Record<string, string | number>) =>
  escapeHtml(transfersText(ctx.lang, key, values));

export const TRANSFER_PROVIDERS = ['wxpay', 'alipay'] as const;

export function transferPath(merchantId: string, outTransferNo: string): string {
  return `/console/transfers/${encodeURIComponent(merchantId)}/${encodeURIComponent(outTransferNo)}`;
}

/** The filters as the form shows them. */
export interface TransferFilter {
  status?: string | undefined;
  provider?: string | undefined;
  merchant?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  /** Rows a page (kept from the link that asked for it). */
  limit?: string | undefined;
}

const FILTER_FIELDS: ReadonlyArray<keyof TransferFilter> = [
  'status',
  'provider',
  'merchant',
  'from',
  'to',
  'limit',
];

function listHref(ctx: PageContext, filter: TransferFilter, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams();
  for (const name of FILTER_FIELDS) if (filter[name]) query.set(name, filter[name]!);
  for (const [name, value] of Object.entries(extra)) query.set(name, value);
  const text = query.toString();
  return ctx.href(`/console/transfers${text ? `?${text}` : ''}`);
}

export interface TransfersView {
  filter: TransferFilter;
  page: TransferPage;
  /** The merchants the operator may see, or null for all (then the field is free text). */
  merchants: readonly string[] | null;
  /** Transfers waiting for approval within the operator's merchants. */
  waitingCount: number;
  error?: { message: string; field?: string | undefined } | undefined;
}

export function transfersPage(ctx: PageContext, view: TransfersView): string {
  const { filter } = view;
  const waiting = filter.status === 'PENDING_APPROVAL';
  const invalid = (name: string) =>
    view.error?.field === name ? ' aria-invalid="true" aria-describedby="form-error"' : '';
  const tabs = `<nav aria-label="${t(ctx, 'views')}"><ul class="pager views" data-testid="transfer-views">
<li><a href="${escapeHtml(ctx.href('/console/transfers?status=PENDING_APPROVAL'))}"${waiting ? ' class="current" aria-current="page"' : ''} data-testid="view-waiting">${t(ctx, 'waiting')} (${view.waitingCount})</a></li>
<li><a href="${escapeHtml(ctx.href('/console/transfers'))}"${!filter.status ? ' class="current" aria-current="page"' : ''} data-testid="view-all">${t(ctx, 'allTransfers')}</a></li>
</ul></nav>`;
  const merchantInput = view.merchants
    ? selectInput(
        't-merchant',
        'merchant',
        [
          ['', transfersText(ctx.lang, 'any')],
          ...view.merchants.map((merchant): [string, string] => [merchant, merchant]),
        ],
        filter.merchant,
      )
    : `<input id="t-merchant" name="merchant" value="${escapeHtml(filter.merchant ?? '')}" maxlength="64" autocomplete="off"${invalid('merchant')}>`;
  const filters = `<form method="get" action="/console/transfers" class="filters" role="search" aria-label="${t(ctx, 'searchTransfers')}">
${ctx.href('') ? `<input type="hidden" name="lang" value="${ctx.lang}">` : ''}
${field(
  't-status',
  transfersText(ctx.lang, 'status'),
  selectInput(
    't-status',
    'status',
    [
      ['', transfersText(ctx.lang, 'any')],
      ...TRANSFER_STATUSES.map((status): [string, string] => [status, status]),
    ],
    filter.status,
  ),
)}
${field(
  't-provider',
  transfersText(ctx.lang, 'provider'),
  selectInput(
    't-provider',
    'provider',
    [['', transfersText(ctx.lang, 'any')], ...TRANSFER_PROVIDERS.map((p): [string, string] => [p, p])],
    filter.provider,
  ),
)}
${field('t-merchant', transfersText(ctx.lang, 'merchant'), merchantInput)}
${field('t-from', transfersText(ctx.lang, 'createdFrom'), `<input id="t-from" name="from" type="date" value="${escapeHtml(filter.from ?? '')}"${invalid('from')}>`)}
${field('t-to', transfersText(ctx.lang, 'createdTo'), `<input id="t-to" name="to" type="date" value="${escapeHtml(filter.to ?? '')}"${invalid('to')}>`)}
<div class="buttons"><button type="submit">${t(ctx, 'search')}</button>
<a href="${escapeHtml(ctx.href('/console/transfers'))}">${t(ctx, 'clear')}</a></div></form>`;
  const rows = view.page.rows
    .map(
      (row) =>
        `<tr data-testid="transfer-row" data-status="${escapeHtml(row.status)}"><th scope="row"><a href="${escapeHtml(ctx.href(transferPath(row.merchantId, row.outTransferNo)))}" aria-label="${t(ctx, 'viewTransfer', { no: row.outTransferNo })}">${escapeHtml(row.outTransferNo)}</a></th><td>${escapeHtml(row.merchantId)}</td><td>${escapeHtml(row.provider)}</td><td class="num">${fenToYuan(row.amountFen)}</td><td><code>${escapeHtml(row.status)}</code></td><td>${escapeHtml(row.payeeType)}</td><td>${escapeHtml(row.requestedBy)}</td><td>${escapeHtml(row.decidedBy ?? '')}</td><td>${timeCell(row.createdAt)}</td></tr>`,
    )
    .join('\n');
  const pager: string[] = [];
  if (view.page.previous)
    pager.push(
      `<li><a href="${escapeHtml(listHref(ctx, filter, { before: view.page.previous }))}" rel="prev" data-testid="previous">${t(ctx, 'previous')}</a></li>`,
    );
  if (view.page.next)
    pager.push(
      `<li><a href="${escapeHtml(listHref(ctx, filter, { after: view.page.next }))}" rel="next" data-testid="next">${t(ctx, 'next')}</a></li>`,
    );
  const table =
    view.page.rows.length === 0
      ? `<p data-testid="no-transfers">${t(ctx, 'noTransfers')}</p>`
      : `<div class="table-wrap"><table>
<caption>${t(ctx, 'rowsShown', { n: view.page.rows.length })}</caption>
<thead><tr><th scope="col">${t(ctx, 'outTransferNo')}</th><th scope="col">${t(ctx, 'merchant')}</th><th scope="col">${t(ctx, 'provider')}</th><th scope="col">${t(ctx, 'amount')}</th><th scope="col">${t(ctx, 'status')}</th><th scope="col">${t(ctx, 'payeeType')}</th><th scope="col">${t(ctx, 'requestedBy')}</th><th scope="col">${t(ctx, 'decidedBy')}</th><th scope="col">${t(ctx, 'created')}</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
  return layout(
    ctx,
    transfersText(ctx.lang, waiting ? 'waitingTitle' : 'transfersTitle'),
    `${tabs}
${alert(view.error?.message)}${filters}
<h2>${t(ctx, 'results')}</h2>
${table}
${pager.length ? `<nav aria-label="${t(ctx, 'pages')}"><ul class="pager">${pager.join('')}</ul></nav>` : ''}`,
  );
}

export interface TransferView {
  detail: TransferDetail;
  /** The signed-in user's name and whether the role may decide (operator or admin). */
  user: { name: string; mayDecide: boolean };
  notice?: string | undefined;
  /** A decision refused: shown above the decision's place in the error style. */
  error?: string | undefined;
  note?: string | undefined;
}

function entryHtml(ctx: PageContext, entry: TransferTimelineEntry): string {
  const head = (key: TransfersTextKey, detail: string) =>
    `${timeCell(entry.at)} <strong>${t(ctx, key)}</strong> ${detail}`;
  switch (entry.kind) {
    case 'created':
      return head('evCreated', t(ctx, 'evCreatedBy', { by: entry.by, amount: fenToYuan(entry.amountFen) }));
    case 'decided':
      return head(
        entry.approved ? 'evApproved' : 'evRejected',
        `${t(ctx, 'evBy', { by: entry.by })}${entry.note ? ` · ${escapeHtml(entry.note)}` : ''}`,
      );
    case 'journal':
      return `${head(
        entry.gateway ? 'evJournal' : 'evStep',
        `<code>${escapeHtml(entry.operation)}</code> · <code>${entry.status}</code>${
          entry.latencyMs === null ? '' : ` · ${t(ctx, 'latency', { ms: entry.latencyMs })}`
        }`,
      )}${
        entry.error === null
          ? ''
          : `<details><summary>${t(ctx, 'payload')}</summary><pre>${escapeHtml(JSON.stringify(entry.error, null, 2))}</pre></details>`
      }`;
    case 'error':
      return head(
        'evError',
        `${entry.code}${entry.gatewayCode ? ` (${escapeHtml(entry.gatewayCode)})` : ''} · ${escapeHtml(entry.message)}`,
      );
    case 'callback':
      return `${head('evCallback', `<code>${escapeHtml(entry.result)}</code>`)}<details><summary>${t(ctx, 'payload')}</summary><pre>${escapeHtml(JSON.stringify(entry.payload, null, 2))}</pre></details>`;
    case 'settled':
      return head(
        entry.status === 'SUCCESS' ? 'evSucceeded' : entry.status === 'FAILED' ? 'evFailed' : 'evCancelled',
        entry.failReason ? `${t(ctx, 'failReason')}: <code>${escapeHtml(entry.failReason)}</code>` : '',
      );
    case 'webhook_event':
      return `${head('evWebhook', `<code>${escapeHtml(entry.type)}</code>`)}${
        entry.deliveries.length
          ? `<ul>${entry.deliveries
              .map(
                (delivery) =>
                  `<li><a href="${escapeHtml(ctx.href(`/console/deliveries/${delivery.id}`))}">#${delivery.id}</a> ${escapeHtml(delivery.endpointId)} · <code>${escapeHtml(delivery.status)}</code> · ${delivery.attempts}</li>`,
              )
              .join('')}</ul>`
          : ''
      }`;
  }
}

function decisionHtml(ctx: PageContext, view: TransferView): string {
  const { transfer } = view.detail;
  const path = transferPath(transfer.merchantId, transfer.outTransferNo);
  const refusal = alert(view.error);
  if (transfer.status !== 'PENDING_APPROVAL') {
    const decided = view.detail.entries.find((entry) => entry.kind === 'decided');
    const at = decided ? decided.at.replace('T', ' ').slice(0, 19) : '';
    const said =
      transfer.decidedBy && transfer.status === 'REJECTED'
        ? t(ctx, 'decidedRejected', { by: transfer.decidedBy, at })
        : transfer.decidedBy
          ? t(ctx, 'decidedApproved', { by: transfer.decidedBy, at })
          : t(ctx, 'notWaiting', { status: transfer.status });
    return `${refusal}<p data-testid="decision">${said}${
      transfer.decisionNote ? ` ${t(ctx, 'decisionNote')}: ${escapeHtml(transfer.decisionNote)}` : ''
    }</p>`;
  }
  if (!view.user.mayDecide) return `${refusal}<p data-testid="viewer-only">${t(ctx, 'viewerOnly')}</p>`;
  if (view.user.name === transfer.requestedBy)
    return `${refusal || `<p class="error" data-testid="own-transfer">${t(ctx, 'ownTransfer', { by: transfer.requestedBy })}</p>`}`;
  const amount = fenToYuan(transfer.amountFen);
  const noteState = view.error
    ? ' aria-invalid="true" aria-describedby="form-error decision-note-help"'
    : ' aria-describedby="decision-note-help"';
  return `${refusal}<p>${t(ctx, 'approveHelp')}</p>${form(
    ctx,
    `${path}/approve`,
    `${field('decision-note', transfersText(ctx.lang, 'note'), `<textarea id="decision-note" name="note" rows="3" maxlength="200"${noteState}>${escapeHtml(view.note ?? '')}</textarea>`, transfersText(ctx.lang, 'noteHelp'))}
<div class="buttons"><button type="submit" data-testid="approve" data-confirm="${t(ctx, 'confirmApprove', { no: transfer.outTransferNo, amount })}">${t(ctx, 'approve')}</button>
<button type="submit" class="danger" formaction="${escapeHtml(ctx.href(`${path}/reject`))}" data-testid="reject" data-confirm="${t(ctx, 'confirmReject', { no: transfer.outTransferNo })}">${t(ctx, 'reject')}</button></div>`,
    'card',
  )}`;
}

export function transferPage(ctx: PageContext, view: TransferView): string {
  const { transfer, entries } = view.detail;
  const row = (key: TransfersTextKey, value: string, testid?: string) =>
    `<dt>${t(ctx, key)}</dt><dd${testid ? ` data-testid="${testid}"` : ''}>${value}</dd>`;
  const text = (value: string | null) => escapeHtml(value ?? '');
  const facts = `<dl class="facts" data-testid="transfer-facts">
${row('status', `<code>${text(transfer.status)}</code>`, 'transfer-status')}
${row('merchant', text(transfer.merchantId))}
${row('outTransferNo', `<code>${text(transfer.outTransferNo)}</code>`)}
${row('amount', `¥${fenToYuan(transfer.amountFen)}`, 'transfer-amount')}
${row('provider', text(transfer.provider))}
${row('account', text(transfer.account))}
${row('payeeType', `${text(transfer.payeeType)} <span class="help">${t(ctx, 'payeeSealed')}</span>`)}
${row('remark', text(transfer.remark))}
${row('requestedBy', text(transfer.requestedBy), 'transfer-requested-by')}
${row('decidedBy', text(transfer.decidedBy), 'transfer-decided-by')}
${transfer.decisionNote ? row('decisionNote', text(transfer.decisionNote), 'transfer-note') : ''}
${row('transferId', text(transfer.transferId))}
${transfer.failReason ? row('failReason', text(transfer.failReason), 'transfer-fail-reason') : ''}
${transfer.successTime ? row('successTime', timeCell(transfer.successTime)) : ''}
${row('created', timeCell(transfer.createdAt))}
${row('updated', timeCell(transfer.updatedAt))}
</dl>`;
  const timeline = entries.length
    ? `<ol class="timeline" data-testid="timeline">${entries
        .map((entry) => `<li data-kind="${entry.kind}">${entryHtml(ctx, entry)}</li>`)
        .join('\n')}</ol>`
    : `<p>${t(ctx, 'noEvents')}</p>`;
  return layout(
    ctx,
    transfersText(ctx.lang, 'transferTitle', { no: transfer.outTransferNo }),
    `${view.notice ? `<p class="notice" role="status" data-testid="notice">${escapeHtml(view.notice)}</p>` : ''}
${facts}
<section aria-labelledby="decision-title"><h2 id="decision-title">${t(ctx, 'decision')}</h2>
${decisionHtml(ctx, view)}</section>
<h2>${t(ctx, 'timeline')}</h2>
${timeline}
<p><a href="${escapeHtml(ctx.href('/console/transfers?status=PENDING_APPROVAL'))}">${t(ctx, 'waiting')}</a> · <a href="${escapeHtml(ctx.href('/console/transfers'))}">${t(ctx, 'allTransfers')}</a></p>`,
  );
}
