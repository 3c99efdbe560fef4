/**
 * The console's Reconciliation page: the reconciled days of each gateway account of the operator's
 * merchants with what each bill held and what matching it found, every mismatch with its kind and a link to its order, and
 * (operators) a form that reconciles one day of one merchant now.
 */

import type { ReconciliationDay } from '../../console/reviews.ts';
import { fenToYuan } from '../../core/money.ts';
import type { ReconcileReport } from '../../service/reconcile.ts';
import { alert, escapeHtml, field, form, layout, orderHref, type PageContext } from '../console-pages.ts';
import { text } from '../console-texts.ts';
import { type GatewayTextKey, gatewayText, hasGatewayText } from './gateway-texts.ts';

const g = (ctx: PageContext, key: GatewayTextKey, values?: Record<string, string | number>) =>
  escapeHtml(gatewayText(ctx.lang, key, values));

/** The console's page of one order: the orders page answers it. */
export const yuan = (fen: number | null | undefined): string =>
  typeof fen === 'number' ? `¥${fenToYuan(fen)}` : '—';

export interface ReconciliationFilter {
  merchant?: string;
  provider?: string;
  account?: string;
  from?: string;
  to?: string;
}

export interface ReconciliationView {
  days: ReconciliationDay[];
  /** Merchants in the operator's scope with a gateway that has bills, for the forms. */
  merchants: string[];
  providers: string[];
  /** The gateway accounts of those merchants. */
  accounts: string[];
  filter: ReconciliationFilter;
  /** The run form's default date: yesterday in China. */
  defaultDate: string;
  /** Whether the operator may run one (operator or admin). */
  mayRun: boolean;
  /** The day just run, for the notice. */
  ran?: { provider: string; merchant: string; date: string; account?: string } | undefined;
  error?: string | undefined;
}

function options(values: string[], selected: string | undefined, any?: string): string {
  return `${any === undefined ? '' : `<option value="">${escapeHtml(any)}</option>`}${values
    .map(
      (value) =>
        `<option value="${escapeHtml(value)}"${value === selected ? ' selected' : ''}>${escapeHtml(value)}</option>`,
    )
    .join('')}`;
}

const outcomeOf = (day: ReconciliationDay): Partial<ReconcileReport> & { code?: number; message?: string } =>
  (day.outcome ?? {}) as Partial<ReconcileReport> & { code?: number; message?: string };

function countCell(count: number | undefined, fen: number | undefined): string {
  if (count === undefined) return '<td class="num">—</td>';
  return `<td class="num">${count}${fen === undefined ? '' : `<br><span class="muted">${escapeHtml(yuan(fen))}</span>`}</td>`;
}

function dayRow(ctx: PageContext, day: ReconciliationDay): string {
  const outcome = outcomeOf(day);
  const status =
    day.status === 'DONE'
      ? `<span class="badge ok">${g(ctx, 'DONE')}</span>`
      : `<span class="badge bad">${g(ctx, 'FAILED')}</span><br><span class="muted">${escapeHtml(
          `${outcome.code ?? ''} ${outcome.message ?? ''}`.trim().slice(0, 300),
        )}</span>`;
  const done = day.status === 'DONE';
  return `<tr data-testid="day-row" data-day="${escapeHtml(`${day.provider}:${day.merchantId}:${day.date}`)}" data-account="${escapeHtml(day.account)}"><th scope="row">${escapeHtml(day.date)}</th><td>${escapeHtml(day.merchantId)}</td><td>${escapeHtml(day.provider)}</td><td>${escapeHtml(day.account)}</td><td>${status}</td>${
    done
      ? `${countCell(outcome.payments, outcome.paymentsFen)}${countCell(outcome.refunds, outcome.refundsFen)}${countCell(outcome.matched, undefined)}${countCell(outcome.healed, undefined)}<td class="num" data-testid="day-mismatches">${outcome.mismatches ?? '—'}</td>`
      : '<td class="num">—</td><td class="num">—</td><td class="num">—</td><td class="num">—</td><td class="num">—</td>'
  }<td class="num">${day.attempts}</td><td><time datetime="${escapeHtml(day.updatedAt)}">${escapeHtml(day.updatedAt.replace('T', ' ').slice(0, 19))}</time></td></tr>`;
}

function mismatchKind(ctx: PageContext, reason: unknown): string {
  const key = reason === 'amount' ? 'amount_kind' : String(reason);
  return hasGatewayText(key)
    ? `${g(ctx, key)} <code>${escapeHtml(String(reason))}</code>`
    : `<code>${escapeHtml(String(reason))}</code>`;
}

function mismatchRows(ctx: PageContext, days: ReconciliationDay[]): string {
  const rows = days.flatMap((day) =>
    day.mismatches.map((review) => {
      const reason = (review.details as { reason?: unknown } | null)?.reason ?? '';
      const order = review.outTradeNo
        ? `<a href="${escapeHtml(ctx.href(orderHref(review.merchantId, review.outTradeNo)))}">${escapeHtml(review.outTradeNo)}</a>`
        : '—';
      return `<tr data-testid="mismatch-row" data-account="${escapeHtml(day.account)}"><td>${escapeHtml(day.date)}</td><td>${escapeHtml(day.merchantId)}</td><td>${escapeHtml(day.provider)}</td><td>${escapeHtml(day.account)}</td><td>${mismatchKind(ctx, reason)}</td><td>${order}</td><td class="num">${escapeHtml(yuan(review.amountFen))}</td><td>${g(ctx, review.status)}</td></tr>`;
    }),
  );
  if (rows.length === 0) return `<p>${g(ctx, 'noMismatches')}</p>`;
  return `<div class="table-wrap"><table>
<caption class="visually-hidden">${g(ctx, 'mismatches')}</caption>
<thead><tr><th scope="col">${g(ctx, 'day')}</th><th scope="col">${g(ctx, 'merchant')}</th><th scope="col">${g(ctx, 'provider')}</th><th scope="col">${g(ctx, 'account')}</th><th scope="col">${g(ctx, 'kind')}</th><th scope="col">${g(ctx, 'order')}</th><th scope="col" class="num">${g(ctx, 'amount')}</th><th scope="col">${g(ctx, 'review')}</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>`;
}

function ranNotice(ctx: PageContext, view: ReconciliationView): string {
  if (!view.ran) return '';
  const { provider, merchant, date, account } = view.ran;
  // The run covered every account of the merchant, or the one asked for: the notice sums them.
  const days = view.days.filter(
    (candidate) =>
      candidate.provider === provider &&
      candidate.merchantId === merchant &&
      candidate.date === date &&
      (account === undefined || candidate.account === account),
  );
  if (days.length === 0 || days.some((day) => day.status !== 'DONE')) return '';
  const sum = (field: 'matched' | 'healed' | 'mismatches') =>
    days.reduce((total, day) => total + (outcomeOf(day)[field] ?? 0), 0);
  return `<p class="notice" role="status" data-testid="ran">${g(ctx, 'ran', {
    provider,
    date,
    matched: sum('matched'),
    healed: sum('healed'),
    mismatches: sum('mismatches'),
  })}</p>`;
}

export function reconciliationPage(ctx: PageContext, view: ReconciliationView): string {
  const title = text(ctx.lang, 'reconciliation');
  const lang = ctx.href('').includes('lang=') ? `<input type="hidden" name="lang" value="${ctx.lang}">` : '';
  const filters = `<form method="get" action="/console/reconciliation" class="filters" aria-label="${g(ctx, 'filter')}">${lang}
${field('f-merchant', gatewayText(ctx.lang, 'merchant'), `<select id="f-merchant" name="merchant">${options(view.merchants, view.filter.merchant, gatewayText(ctx.lang, 'anyMerchant'))}</select>`)}
${field('f-provider', gatewayText(ctx.lang, 'provider'), `<select id="f-provider" name="provider">${options(view.providers, view.filter.provider, gatewayText(ctx.lang, 'anyProvider'))}</select>`)}
${field('f-account', gatewayText(ctx.lang, 'account'), `<select id="f-account" name="account">${options(view.accounts, view.filter.account, gatewayText(ctx.lang, 'anyAccount'))}</select>`)}
${field('f-from', gatewayText(ctx.lang, 'dateFrom'), `<input id="f-from" name="from" type="date" value="${escapeHtml(view.filter.from ?? '')}">`)}
${field('f-to', gatewayText(ctx.lang, 'dateTo'), `<input id="f-to" name="to" type="date" value="${escapeHtml(view.filter.to ?? '')}">`)}
<button type="submit">${g(ctx, 'filter')}</button></form>`;
  const run =
    view.mayRun && view.merchants.length > 0
      ? `<h2 id="run-title">${g(ctx, 'runNow')}</h2>
<p class="help" id="run-help">${g(ctx, 'runHelp')}</p>
${form(
  ctx,
  '/console/reconciliation/run',
  `${field('run-merchant', gatewayText(ctx.lang, 'merchant'), `<select id="run-merchant" name="merchant" required>${options(view.merchants, view.filter.merchant ?? view.merchants[0])}</select>`)}
${field('run-provider', gatewayText(ctx.lang, 'provider'), `<select id="run-provider" name="provider" required>${options(view.providers, view.filter.provider ?? view.providers[0])}</select>`)}
${field('run-account', gatewayText(ctx.lang, 'account'), `<select id="run-account" name="account">${options(view.accounts, view.filter.account, gatewayText(ctx.lang, 'anyAccount'))}</select>`)}
${field('run-date', gatewayText(ctx.lang, 'date'), `<input id="run-date" name="date" type="date" required value="${escapeHtml(view.defaultDate)}" max="${escapeHtml(view.defaultDate)}">`)}
<button type="submit" aria-describedby="run-help">${g(ctx, 'run')}</button>`,
  'inline run',
)}`
      : '';
  const table =
    view.days.length === 0
      ? `<p>${g(ctx, 'noDays')}</p>`
      : `<div class="table-wrap"><table data-testid="days">
<thead><tr><th scope="col">${g(ctx, 'day')}</th><th scope="col">${g(ctx, 'merchant')}</th><th scope="col">${g(ctx, 'provider')}</th><th scope="col">${g(ctx, 'account')}</th><th scope="col">${g(ctx, 'status')}</th><th scope="col" class="num">${g(ctx, 'payments')}</th><th scope="col" class="num">${g(ctx, 'refunds')}</th><th scope="col" class="num">${g(ctx, 'matched')}</th><th scope="col" class="num">${g(ctx, 'healed')}</th><th scope="col" class="num">${g(ctx, 'mismatchCount')}</th><th scope="col" class="num">${g(ctx, 'attempts')}</th><th scope="col">${g(ctx, 'updated')}</th></tr></thead>
<tbody>${view.days.map((day) => dayRow(ctx, day)).join('\n')}</tbody></table></div>`;
  return layout(
    ctx,
    title,
    `${alert(view.error)}${ranNotice(ctx, view)}${filters}
${table}
<h2>${g(ctx, 'mismatches')}</h2>
${mismatchRows(ctx, view.days)}
${run}`,
  );
}
