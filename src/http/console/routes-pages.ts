/**
 * The console's Routes page (gray release): a merchant's routes with the share in force, the stable
 * and canary accounts and the orders each side took lately; admins set a share, operators roll a
 * route back. Both are forms with the page's CSRF token.
 */
import type { ConsoleRoute } from '../../console/routes.ts';
import type { ConsoleRole } from '../../store/schema.ts';
import { alert, escapeHtml, field, form, layout, type PageContext } from '../console-pages.ts';
import { text } from '../console-texts.ts';
import { type GatewayTextKey, gatewayText } from './gateway-texts.ts';

const g = (ctx: PageContext, key: GatewayTextKey, values?: Record<string, string | number>) =>
  escapeHtml(gatewayText(ctx.lang, key, values));

export interface RoutesView {
  merchant: string | null;
  /** Merchants of the operator's scope that have routes. */
  merchants: string[];
  routes: ConsoleRoute[];
  countDays: number;
  role: ConsoleRole;
  notice?: string | undefined;
  error?: string | undefined;
}

function matchText(ctx: PageContext, route: ConsoleRoute): string {
  const parts = Object.entries(route.match).map(
    ([name, value]) => `<code>${escapeHtml(name)}=${escapeHtml(String(value))}</code>`,
  );
  return parts.length === 0 ? g(ctx, 'matchAll') : parts.join(' ');
}

function actions(ctx: PageContext, view: RoutesView, route: ConsoleRoute, i: number): string {
  const base = `/console/routes/${encodeURIComponent(view.merchant ?? '')}/${encodeURIComponent(route.id)}`;
  const share =
    view.role === 'admin'
      ? form(
          ctx,
          `${base}/share`,
          `${field(
            `share-${i}`,
            gatewayText(ctx.lang, 'newShare', { route: route.id }),
            `<input id="share-${i}" name="share" type="number" min="0" max="100" step="0.01" required inputmode="decimal" value="${route.effectiveShare}" aria-describedby="share-help">`,
          )}<button type="submit" class="secondary" data-confirm="${g(ctx, 'confirmShare', { route: route.id })}">${g(ctx, 'setShare')}</button>`,
          'inline',
        )
      : '';
  const rollback =
    view.role === 'operator' || view.role === 'admin'
      ? form(
          ctx,
          `${base}/rollback`,
          `<button type="submit" class="danger" data-testid="rollback" data-confirm="${g(ctx, 'confirmRollback', { route: route.id })}" aria-label="${g(ctx, 'rollback')} ${escapeHtml(route.id)}">${g(ctx, 'rollback')}</button>`,
          'inline',
        )
      : '';
  return `${share}${rollback}`;
}

function counts(route: ConsoleRoute, variant: 'stable' | 'canary'): string {
  const { paid, orders } = route.counts[variant];
  return `<span data-testid="count-${variant}">${paid} / ${orders}</span>`;
}

export function routesPage(ctx: PageContext, view: RoutesView): string {
  const lang = ctx.href('').includes('lang=') ? `<input type="hidden" name="lang" value="${ctx.lang}">` : '';
  const chooser = `<form method="get" action="/console/routes" class="filters">${lang}
${field(
  'r-merchant',
  gatewayText(ctx.lang, 'merchant'),
  `<select id="r-merchant" name="merchant">${view.merchants
    .map(
      (merchant) =>
        `<option value="${escapeHtml(merchant)}"${merchant === view.merchant ? ' selected' : ''}>${escapeHtml(merchant)}</option>`,
    )
    .join('')}</select>`,
)}
<button type="submit">${g(ctx, 'show')}</button></form>`;
  const mayAct = view.role !== 'viewer';
  const rows = view.routes
    .map(
      (route, i) =>
        `<tr data-testid="route-row" data-route="${escapeHtml(route.id)}"><th scope="row"><code>${escapeHtml(route.id)}</code></th><td>${matchText(ctx, route)}</td><td class="num"><strong data-testid="share">${route.effectiveShare}</strong>${route.overridden ? `<br><span class="muted">${g(ctx, 'configuredShare', { share: route.share })}</span>` : ''}</td><td><code>${escapeHtml(route.stable)}</code><br>${counts(route, 'stable')}</td><td><code>${escapeHtml(route.canary)}</code><br>${counts(route, 'canary')}</td>${mayAct ? `<td>${actions(ctx, view, route, i)}</td>` : ''}</tr>`,
    )
    .join('\n');
  const table =
    view.merchant === null || view.routes.length === 0
      ? `<p>${g(ctx, 'noRoutes')}</p>`
      : `<p class="help">${g(ctx, 'countsTitle', { days: view.countDays })}</p>
<div class="table-wrap"><table data-testid="routes">
<thead><tr><th scope="col">${g(ctx, 'route')}</th><th scope="col">${g(ctx, 'match')}</th><th scope="col">${g(ctx, 'share')}</th><th scope="col">${g(ctx, 'stable')}</th><th scope="col">${g(ctx, 'canary')}</th>${mayAct ? `<th scope="col">${escapeHtml(text(ctx.lang, 'actions'))}</th>` : ''}</tr></thead>
<tbody>${rows}</tbody></table></div>
<p class="help" id="share-help">${g(ctx, 'shareHelp')}${view.role === 'operator' ? ` ${g(ctx, 'adminToSetShare')}` : ''}</p>`;
  return layout(
    ctx,
    text(ctx.lang, 'routes'),
    `${alert(view.error)}${view.notice ? `<p class="notice" role="status" data-testid="notice">${escapeHtml(view.notice)}</p>` : ''}${view.merchants.length > 0 ? chooser : ''}
${table}`,
  );
}
