/** The alert history's page: every alert the monitoring sent, newest first, filtered by kind and dates. */
import { ALERT_KINDS, type AlertRecord } from '../../service/alert-history.ts';
import { escapeHtml, field, layout, type PageContext, t } from '../console-pages.ts';
import { type TextKey, text } from '../console-texts.ts';
import { filterForm, nextLink, selectInput, timeCell } from './cells.ts';

export interface AlertFilterView {
  kind?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

const percent = (value: number | null) => (value === null ? '' : `${(value * 100).toFixed(1)}%`);

export function alertsPage(
  ctx: PageContext,
  view: { rows: AlertRecord[]; next: number | null; filter: AlertFilterView },
): string {
  const { filter } = view;
  const filters = filterForm(
    ctx,
    '/console/alerts',
    `${field(
      'f-kind',
      text(ctx.lang, 'kind'),
      selectInput(
        'f-kind',
        'kind',
        [
          ['', text(ctx.lang, 'anyValue')],
          ...ALERT_KINDS.map((kind): [string, string] => [kind, text(ctx.lang, `alert_${kind}` as TextKey)]),
        ],
        filter.kind,
      ),
    )}
${field('f-from', text(ctx.lang, 'dateFrom'), `<input id="f-from" name="from" type="date" value="${escapeHtml(filter.from ?? '')}">`)}
${field('f-to', text(ctx.lang, 'dateTo'), `<input id="f-to" name="to" type="date" value="${escapeHtml(filter.to ?? '')}">`)}`,
  );
  const rows = view.rows
    .map(
      (row) =>
        `<tr data-testid="alert-row" data-kind="${row.kind}"><td>${timeCell(row.at)}</td><td>${t(ctx, `alert_${row.kind}` as TextKey)}</td><td><code>${escapeHtml(row.alert)}</code></td><td>${timeCell(row.incident)}</td><td>${percent(row.rate)}</td><td>${row.errors} / ${row.events}</td><td>${percent(row.threshold)}</td><td>${t(ctx, 'minutes', { n: row.windowMinutes })}</td><td>${escapeHtml(row.byCode.map((entry) => `${entry.code}×${entry.count}`).join(', '))}</td></tr>`,
    )
    .join('\n');
  return layout(
    ctx,
    text(ctx.lang, 'alerts'),
    `<p>${t(ctx, 'alertsHelp')}</p>
${filters}
${
  view.rows.length === 0
    ? `<p>${t(ctx, 'noRows')}</p>`
    : `<div class="table-wrap"><table>
<thead><tr><th scope="col">${t(ctx, 'at')} (UTC)</th><th scope="col">${t(ctx, 'kind')}</th><th scope="col">${t(ctx, 'alertName')}</th><th scope="col">${t(ctx, 'incident')} (UTC)</th><th scope="col">${t(ctx, 'errorRate')}</th><th scope="col">${t(ctx, 'errorsOfEvents')}</th><th scope="col">${t(ctx, 'threshold')}</th><th scope="col">${t(ctx, 'window')}</th><th scope="col">${t(ctx, 'byCode')}</th></tr></thead>
<tbody>${rows}</tbody></table></div>`
}
${nextLink(ctx, '/console/alerts', { ...filter }, 'before', view.next)}`,
  );
}
