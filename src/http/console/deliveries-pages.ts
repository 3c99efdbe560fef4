/** The webhook deliveries' pages: the list with its filters, and one delivery with its event, attempts and replay. */
import { type ConsoleDelivery, DELIVERY_STATUSES } from '../../console/deliveries.ts';
import { WEBHOOK_EVENT_TYPES } from '../../core/webhooks.ts';
import type { DeliveryView } from '../../service/webhook-ops.ts';
import { escapeHtml, field, form, layout, type PageContext, t } from '../console-pages.ts';
import { type TextKey, text } from '../console-texts.ts';
import { filterForm, jsonBlock, nextLink, selectInput, timeCell } from './cells.ts';

export interface DeliveryFilter {
  merchant?: string | undefined;
  endpoint?: string | undefined;
  type?: string | undefined;
  status?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

const statusText = (ctx: PageContext, status: string) => t(ctx, `status_${status}` as TextKey);

/** What the endpoint last answered: its status code, else the error, and the first bytes of the body. */
function lastAnswer(delivery: Pick<ConsoleDelivery, 'lastStatusCode' | 'lastError' | 'lastResponse'>) {
  const head =
    delivery.lastStatusCode !== null ? `HTTP ${delivery.lastStatusCode}` : (delivery.lastError ?? '');
  const body = delivery.lastResponse
    ? ` <code>${escapeHtml(delivery.lastResponse.slice(0, 120))}</code>`
    : '';
  return `${escapeHtml(head)}${body}`;
}

export function deliveriesPage(
  ctx: PageContext,
  view: { rows: ConsoleDelivery[]; next: string | null; filter: DeliveryFilter },
): string {
  const { filter } = view;
  const input = (id: string, name: keyof DeliveryFilter, label: TextKey, type = 'text') =>
    field(
      id,
      text(ctx.lang, label),
      `<input id="${id}" name="${name}"${type === 'text' ? ' maxlength="64"' : ` type="${type}"`} value="${escapeHtml(filter[name] ?? '')}">`,
    );
  const filters = filterForm(
    ctx,
    '/console/deliveries',
    `${input('f-merchant', 'merchant', 'merchant')}
${input('f-endpoint', 'endpoint', 'endpoint')}
${field(
  'f-type',
  text(ctx.lang, 'eventType'),
  selectInput(
    'f-type',
    'type',
    [
      ['', text(ctx.lang, 'anyValue')],
      ...[...WEBHOOK_EVENT_TYPES, 'webhook.ping'].map((type): [string, string] => [type, type]),
    ],
    filter.type,
  ),
)}
${field(
  'f-status',
  text(ctx.lang, 'status'),
  selectInput(
    'f-status',
    'status',
    [
      ['', text(ctx.lang, 'anyValue')],
      ...DELIVERY_STATUSES.map((status): [string, string] => [
        status.toLowerCase(),
        text(ctx.lang, `status_${status}` as TextKey),
      ]),
    ],
    filter.status,
  ),
)}
${input('f-from', 'from', 'dateFrom', 'date')}
${input('f-to', 'to', 'dateTo', 'date')}`,
  );
  const rows = view.rows
    .map(
      (delivery) =>
        `<tr data-testid="delivery-row"><th scope="row"><a href="${escapeHtml(ctx.href(`/console/deliveries/${delivery.id}`))}" aria-label="${t(ctx, 'viewDelivery', { id: delivery.id })}">#${delivery.id}</a></th><td>${timeCell(delivery.createDate)}</td><td>${escapeHtml(delivery.merchantId)}</td><td>${escapeHtml(delivery.endpointId)}</td><td><code>${escapeHtml(delivery.eventType)}</code></td><td>${escapeHtml(delivery.outTradeNo ?? '')}</td><td data-testid="delivery-status">${statusText(ctx, delivery.status)}</td><td>${delivery.attempts}</td><td>${lastAnswer(delivery)}</td></tr>`,
    )
    .join('\n');
  return layout(
    ctx,
    text(ctx.lang, 'deliveries'),
    `${filters}
${
  view.rows.length === 0
    ? `<p>${t(ctx, 'noRows')}</p>`
    : `<div class="table-wrap"><table>
<thead><tr><th scope="col">#</th><th scope="col">${t(ctx, 'created')} (UTC)</th><th scope="col">${t(ctx, 'merchant')}</th><th scope="col">${t(ctx, 'endpoint')}</th><th scope="col">${t(ctx, 'eventType')}</th><th scope="col">${t(ctx, 'orderNo')}</th><th scope="col">${t(ctx, 'status')}</th><th scope="col">${t(ctx, 'attempts')}</th><th scope="col">${t(ctx, 'lastResponse')}</th></tr></thead>
<tbody>${rows}</tbody></table></div>`
}
${nextLink(ctx, '/console/deliveries', { ...filter }, 'after', view.next)}`,
  );
}

export function deliveryPage(
  ctx: PageContext,
  view: { delivery: ConsoleDelivery; attempts: DeliveryView['attempt_log']; event: unknown },
  state: { mayReplay: boolean; notice?: string },
): string {
  const { delivery } = view;
  const facts = `<dl class="facts" data-testid="delivery-facts">
<dt>${t(ctx, 'status')}</dt><dd data-testid="delivery-status">${statusText(ctx, delivery.status)}</dd>
<dt>${t(ctx, 'merchant')}</dt><dd>${escapeHtml(delivery.merchantId)}</dd>
<dt>${t(ctx, 'endpoint')}</dt><dd>${escapeHtml(delivery.endpointId)}</dd>
<dt>${t(ctx, 'event')}</dt><dd><code>${escapeHtml(delivery.eventId)}</code></dd>
<dt>${t(ctx, 'eventType')}</dt><dd><code>${escapeHtml(delivery.eventType)}</code></dd>
<dt>${t(ctx, 'orderNo')}</dt><dd>${escapeHtml(delivery.outTradeNo ?? '')}</dd>
<dt>${t(ctx, 'attempts')}</dt><dd data-testid="delivery-attempts">${delivery.attempts}</dd>
<dt>${t(ctx, 'lastResponse')}</dt><dd>${lastAnswer(delivery)}</dd>
<dt>${t(ctx, 'nextAttempt')} (UTC)</dt><dd>${timeCell(delivery.nextAttemptAt)}</dd>
<dt>${t(ctx, 'deliveredAt')} (UTC)</dt><dd>${timeCell(delivery.deliveredAt)}</dd>
<dt>${t(ctx, 'created')} (UTC)</dt><dd>${timeCell(delivery.createDate)}</dd>
</dl>`;
  const attempts =
    view.attempts.length === 0
      ? `<p>${t(ctx, 'noRows')}</p>`
      : `<div class="table-wrap"><table>
<thead><tr><th scope="col">${t(ctx, 'attemptNo')}</th><th scope="col">${t(ctx, 'at')} (UTC)</th><th scope="col">${t(ctx, 'result')}</th><th scope="col">HTTP</th><th scope="col">${t(ctx, 'latencyMs')}</th><th scope="col">${t(ctx, 'lastResponse')}</th><th scope="col">${t(ctx, 'instance')}</th></tr></thead>
<tbody>${view.attempts
          .map(
            (attempt) =>
              `<tr data-testid="attempt-row"><th scope="row">${attempt.attempt}</th><td>${timeCell(attempt.started_at)}</td><td>${t(ctx, attempt.ok ? 'succeeded' : 'failed')}</td><td>${attempt.status_code ?? ''}</td><td>${attempt.latency_ms}</td><td>${escapeHtml(attempt.error ?? '')}${attempt.response_excerpt ? ` <code>${escapeHtml(attempt.response_excerpt)}</code>` : ''}</td><td>${escapeHtml(attempt.instance)}</td></tr>`,
          )
          .join('')}</tbody></table></div>`;
  const replay = state.mayReplay
    ? `<h2>${t(ctx, 'replay')}</h2><p id="replay-help">${t(ctx, 'replayHelp')}</p>${form(
        ctx,
        `/console/deliveries/${delivery.id}/replay`,
        `<button type="submit" aria-describedby="replay-help" data-confirm="${t(ctx, 'confirmReplay', { id: delivery.eventId })}">${t(ctx, 'replay')}</button>`,
        'inline',
      )}`
    : '';
  return layout(
    ctx,
    text(ctx.lang, 'delivery', { id: delivery.id }),
    `${state.notice ? `<p class="notice" role="status" data-testid="notice">${escapeHtml(state.notice)}</p>` : ''}
${facts}
${replay}
<h2>${t(ctx, 'attemptLog')}</h2>
${attempts}
<h2>${t(ctx, 'body')}</h2>
${jsonBlock(view.event, text(ctx.lang, 'body'))}
<p><a href="${escapeHtml(ctx.href('/console/deliveries'))}">${t(ctx, 'back')}</a></p>`,
  );
}
