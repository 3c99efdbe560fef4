/**
 * The console's pages, rendered on the server: plain forms that work without the script, one h1
 * each, labels on every field, the page language and a title. The script only adds confirmations.
 */
import type { Lang } from '../core/errors.ts';
import type { ConsoleUser } from '../service/console/accounts.ts';
import type { ConsoleAuditRow, ConsoleRole } from '../store/schema.ts';
import { type TextKey, text } from './console-texts.ts';

export interface PageContext {
  lang: Lang;
  /** A console path with the page's language kept. */
  href(path: string): string;
  assets: { script: string; style: string };
  /** The CSRF token for the page's forms. */
  csrf: string;
  /** The signed-in operator, for the header; absent on the sign-in pages. */
  user?: { name: string; role: ConsoleRole } | undefined;
  /** The path of this page, for the current navigation entry and the language switch. */
  path: string;
}

/** The console's page of one order. */
export const orderHref = (merchantId: string, outTradeNo: string) =>
  `/console/orders/${encodeURIComponent(merchantId)}/${encodeURIComponent(outTradeNo)}`;

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export const t = (ctx: PageContext, key: TextKey, values?: Record<string, string | number>) =>
  escapeHtml(text(ctx.lang, key, values));

const NAV: Array<{ path: string; key: TextKey; admin: boolean }> = [
  { path: '/console', key: 'overview', admin: false },
  { path: '/console/orders', key: 'orders', admin: false },
  { path: '/console/reviews', key: 'reviews', admin: false },
  { path: '/console/transfers', key: 'transfers', admin: false },
  { path: '/console/deliveries', key: 'deliveries', admin: false },
  { path: '/console/alerts', key: 'alerts', admin: false },
  { path: '/console/reconciliation', key: 'reconciliation', admin: false },
  { path: '/console/merchants', key: 'merchantsAndGateways', admin: false },
  { path: '/console/routes', key: 'routes', admin: false },
  { path: '/console/users', key: 'users', admin: true },
  { path: '/console/audit', key: 'auditLog', admin: true },
];

function header(ctx: PageContext): string {
  const other: Lang = ctx.lang === 'zh' ? 'en' : 'zh';
  const switchHref = `${ctx.path}${ctx.path.includes('?') ? '&' : '?'}lang=${other}`;
  const language = `<a class="lang" href="${escapeHtml(switchHref)}" lang="${other === 'zh' ? 'zh-CN' : 'en'}">${t(ctx, 'language')}</a>`;
  if (!ctx.user)
    return `<header class="bar"><span class="brand">${t(ctx, 'console')}</span>${language}</header>`;
  const links = NAV.filter((item) => !item.admin || ctx.user?.role === 'admin')
    .map((item) => {
      const current = ctx.path.split('?')[0] === item.path ? ' aria-current="page"' : '';
      return `<li><a href="${escapeHtml(ctx.href(item.path))}"${current}>${t(ctx, item.key)}</a></li>`;
    })
    .join('');
  return `<header class="bar"><span class="brand">${t(ctx, 'console')}</span>
<nav aria-label="${t(ctx, 'mainNav')}"><ul>${links}</ul></nav>
<span class="who" data-testid="who">${escapeHtml(ctx.user.name)} · ${t(ctx, ctx.user.role)}</span>
<a class="account-link" href="${escapeHtml(ctx.href('/console/password'))}">${t(ctx, 'changePassword')}</a>
${form(ctx, '/console/logout', `<button type="submit" class="link">${t(ctx, 'signOut')}</button>`, 'logout')}
${language}</header>`;
}

/** A whole console page: header, navigation, one h1 and the body. */
export function layout(ctx: PageContext, title: string, body: string): string {
  return `<!doctype html>
<html lang="${ctx.lang === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ${t(ctx, 'console')}</title>
<link rel="stylesheet" href="${escapeHtml(ctx.assets.style)}">
<script src="${escapeHtml(ctx.assets.script)}" defer></script>
</head>
<body>
<a class="skip" href="#main">${t(ctx, 'skip')}</a>
${header(ctx)}
<main id="main" tabindex="-1">
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>`;
}

export function form(ctx: PageContext, action: string, inner: string, className = ''): string {
  return `<form method="post" action="${escapeHtml(ctx.href(action))}"${className ? ` class="${className}"` : ''}>
<input type="hidden" name="_csrf" value="${escapeHtml(ctx.csrf)}">${inner}</form>`;
}

export function alert(message: string | undefined): string {
  return message
    ? `<p class="error" role="alert" id="form-error" data-testid="error">${escapeHtml(message)}</p>`
    : '';
}

export function field(id: string, label: string, input: string, help?: string): string {
  return `<div class="field"><label for="${id}">${escapeHtml(label)}</label>${input}${
    help ? `<p class="help" id="${id}-help">${escapeHtml(help)}</p>` : ''
  }</div>`;
}

export function loginPage(ctx: PageContext, state: { error?: string; name?: string } = {}): string {
  const invalid = state.error ? ' aria-invalid="true" aria-describedby="form-error"' : '';
  return layout(
    ctx,
    text(ctx.lang, 'signIn'),
    `${alert(state.error)}${form(
      ctx,
      '/console/login',
      `${field('name', text(ctx.lang, 'name'), `<input id="name" name="name" autocomplete="username" required maxlength="64" value="${escapeHtml(state.name ?? '')}"${invalid}>`)}
${field('password', text(ctx.lang, 'password'), `<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256"${invalid}>`)}
<button type="submit">${t(ctx, 'signIn')}</button>`,
      'card',
    )}`,
  );
}

function codeField(ctx: PageContext, error?: string): string {
  const invalid = error ? ' aria-invalid="true" aria-describedby="form-error"' : '';
  return field(
    'code',
    text(ctx.lang, 'code'),
    `<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required${invalid}>`,
  );
}

export function totpPage(ctx: PageContext, state: { error?: string } = {}): string {
  return layout(
    ctx,
    text(ctx.lang, 'totpTitle'),
    `<p>${t(ctx, 'totpHelp')}</p>${alert(state.error)}${form(
      ctx,
      '/console/totp',
      `${codeField(ctx, state.error)}<button type="submit">${t(ctx, 'verify')}</button>`,
      'card',
    )}`,
  );
}

/** A signed-in user's own password: the current one, then the new one twice. */
export function passwordPage(
  ctx: PageContext,
  state: { error?: string; field?: 'current' | 'password' | 'confirm'; notice?: string } = {},
): string {
  const invalid = (name: 'current' | 'password' | 'confirm') => {
    const described = [
      ...(state.error && state.field === name ? ['form-error'] : []),
      ...(name === 'password' ? ['new-password-help'] : []),
    ];
    return `${state.error && state.field === name ? ' aria-invalid="true"' : ''}${described.length ? ` aria-describedby="${described.join(' ')}"` : ''}`;
  };
  const input = (id: string, name: 'current' | 'password' | 'confirm', autocomplete: string) =>
    `<input id="${id}" name="${name}" type="password" autocomplete="${autocomplete}" required maxlength="256"${invalid(name)}>`;
  return layout(
    ctx,
    text(ctx.lang, 'changePassword'),
    `${state.notice ? `<p class="notice" role="status" data-testid="notice">${escapeHtml(state.notice)}</p>` : ''}${alert(state.error)}${form(
      ctx,
      '/console/password',
      `${field('current-password', text(ctx.lang, 'currentPassword'), input('current-password', 'current', 'current-password'))}
${field('new-password', text(ctx.lang, 'newPassword'), input('new-password', 'password', 'new-password'), text(ctx.lang, 'passwordRules'))}
${field('repeat-password', text(ctx.lang, 'repeatPassword'), input('repeat-password', 'confirm', 'new-password'))}
<button type="submit">${t(ctx, 'changePassword')}</button>`,
      'card',
    )}`,
  );
}

export function enrolPage(
  ctx: PageContext,
  state: { uri: string; secret: string; qrSvg: string; required: boolean; error?: string },
): string {
  return layout(
    ctx,
    text(ctx.lang, 'enrolTitle'),
    `${state.required ? `<p class="notice">${t(ctx, 'enrolRequired')}</p>` : ''}
<p>${t(ctx, 'enrolHelp')}</p>
<figure class="qr" data-testid="totp-qr">${state.qrSvg}<figcaption><code data-testid="totp-uri">${escapeHtml(state.uri)}</code></figcaption></figure>
<p>${t(ctx, 'secretKey')}: <code data-testid="totp-secret">${escapeHtml(state.secret)}</code></p>
${alert(state.error)}${form(ctx, '/console/totp/enrol', `${codeField(ctx, state.error)}<button type="submit">${t(ctx, 'verify')}</button>`, 'card')}`,
  );
}

function scopeText(ctx: PageContext, merchantIds: readonly string[] | null): string {
  return merchantIds === null ? t(ctx, 'allMerchants') : escapeHtml(merchantIds.join(', '));
}

export function overviewPage(ctx: PageContext, user: ConsoleUser, notice?: string): string {
  return layout(
    ctx,
    text(ctx.lang, 'overview'),
    `${notice ? `<p class="notice" role="status">${escapeHtml(notice)}</p>` : ''}
<dl class="facts" data-testid="overview-user">
<dt>${t(ctx, 'signedInAs')}</dt><dd>${escapeHtml(user.name)}</dd>
<dt>${t(ctx, 'role')}</dt><dd data-testid="overview-role">${t(ctx, user.role)}</dd>
<dt>${t(ctx, 'merchants')}</dt><dd>${scopeText(ctx, user.merchantIds)}</dd>
<dt>${t(ctx, 'twoStep')}</dt><dd>${user.totp ? t(ctx, 'on') : `${t(ctx, 'off')} · <a href="${escapeHtml(ctx.href('/console/totp/enrol'))}">${t(ctx, 'setUp')}</a>`}</dd>
</dl>
<p>${t(ctx, 'overviewSoon')}</p>`,
  );
}

function roleSelect(ctx: PageContext, id: string, selected: ConsoleRole): string {
  return `<select id="${id}" name="role">${(['viewer', 'operator', 'admin'] as const)
    .map((role) => `<option value="${role}"${role === selected ? ' selected' : ''}>${t(ctx, role)}</option>`)
    .join('')}</select>`;
}

export function usersPage(
  ctx: PageContext,
  users: ConsoleUser[],
  state: { notice?: string; created?: { name: string; password: string } } = {},
): string {
  const rows = users
    .map((user, i) => {
      const path = `/console/users/${encodeURIComponent(user.name)}`;
      // An admin's own account is changed from the command line, so none of these apply to it.
      const actions =
        user.disabled || user.name === ctx.user?.name
          ? ''
          : `${form(
              ctx,
              path,
              `${field(`role-${i}`, text(ctx.lang, 'role'), roleSelect(ctx, `role-${i}`, user.role))}
${field(`merchants-${i}`, text(ctx.lang, 'merchants'), `<input id="merchants-${i}" name="merchants" value="${escapeHtml((user.merchantIds ?? []).join(' '))}" maxlength="2000">`)}
<button type="submit">${t(ctx, 'save')}</button>`,
              'inline',
            )}
${user.totp ? form(ctx, `${path}/reset-totp`, `<button type="submit" class="secondary">${t(ctx, 'resetTotp')}</button>`, 'inline') : ''}
${form(ctx, `${path}/disable`, `<button type="submit" class="danger" data-confirm="${t(ctx, 'confirmDisable', { name: user.name })}">${t(ctx, 'disable')}</button>`, 'inline')}`;
      return `<tr data-testid="user-row"><th scope="row">${escapeHtml(user.name)}</th><td>${t(ctx, user.role)}</td><td>${scopeText(ctx, user.merchantIds)}</td><td>${user.totp ? t(ctx, 'on') : t(ctx, 'off')}</td><td>${user.disabled ? t(ctx, 'disabled') : t(ctx, 'active')}</td><td>${actions}</td></tr>`;
    })
    .join('\n');
  const created = state.created
    ? `<div class="notice" role="status" data-testid="created"><p>${t(ctx, 'createdPassword', { name: state.created.name })}</p><p><code data-testid="created-password">${escapeHtml(state.created.password)}</code></p></div>`
    : '';
  return layout(
    ctx,
    text(ctx.lang, 'users'),
    `${created}${state.notice ? `<p class="notice" role="status">${escapeHtml(state.notice)}</p>` : ''}
<div class="table-wrap"><table>
<thead><tr><th scope="col">${t(ctx, 'name')}</th><th scope="col">${t(ctx, 'role')}</th><th scope="col">${t(ctx, 'merchants')}</th><th scope="col">${t(ctx, 'twoStep')}</th><th scope="col">${t(ctx, 'status')}</th><th scope="col">${t(ctx, 'actions')}</th></tr></thead>
<tbody>${rows}</tbody></table></div>
<h2>${t(ctx, 'createUser')}</h2>
${form(
  ctx,
  '/console/users',
  `${field('new-name', text(ctx.lang, 'name'), '<input id="new-name" name="name" required maxlength="64" autocomplete="off">')}
${field('new-role', text(ctx.lang, 'role'), roleSelect(ctx, 'new-role', 'viewer'))}
${field('new-merchants', text(ctx.lang, 'merchants'), '<input id="new-merchants" name="merchants" maxlength="2000" aria-describedby="new-merchants-help">', text(ctx.lang, 'merchantsHelp'))}
${field('new-password', text(ctx.lang, 'passwordOptional'), '<input id="new-password" name="password" type="password" autocomplete="new-password" maxlength="256">')}
<button type="submit">${t(ctx, 'create')}</button>`,
  'card',
)}`,
  );
}

export interface AuditView {
  rows: ConsoleAuditRow[];
  next: number | null;
  filter: { action?: string; actor?: string; target?: string; from?: string; to?: string };
}

export function json(value: unknown): string {
  return value === null || value === undefined ? '' : escapeHtml(JSON.stringify(value));
}

export function auditPage(ctx: PageContext, view: AuditView): string {
  const value = (name: keyof AuditView['filter']) => escapeHtml(view.filter[name] ?? '');
  const filters = `<form method="get" action="/console/audit" class="filters">
${ctx.href('') ? `<input type="hidden" name="lang" value="${ctx.lang}">` : ''}
${field('f-action', text(ctx.lang, 'action'), `<input id="f-action" name="action" value="${value('action')}" maxlength="64">`)}
${field('f-actor', text(ctx.lang, 'who'), `<input id="f-actor" name="actor" value="${value('actor')}" maxlength="64">`)}
${field('f-target', text(ctx.lang, 'target'), `<input id="f-target" name="target" value="${value('target')}" maxlength="200">`)}
${field('f-from', text(ctx.lang, 'dateFrom'), `<input id="f-from" name="from" type="date" value="${value('from')}">`)}
${field('f-to', text(ctx.lang, 'dateTo'), `<input id="f-to" name="to" type="date" value="${value('to')}">`)}
<button type="submit">${t(ctx, 'filter')}</button></form>`;
  const rows = view.rows
    .map(
      (row) =>
        `<tr data-testid="audit-row"><td><time datetime="${new Date(row.at).toISOString()}">${escapeHtml(new Date(row.at).toISOString().replace('T', ' ').slice(0, 19))}</time></td><td>${escapeHtml(row.actor_name ?? '')}</td><td><code>${escapeHtml(row.action)}</code></td><td>${escapeHtml(row.target ?? '')}</td><td>${escapeHtml(row.ip ?? '')}</td><td class="change">${json(row.before)}${row.before !== null && row.after !== null ? ' → ' : ''}${json(row.after)}</td></tr>`,
    )
    .join('\n');
  const query = new URLSearchParams(
    Object.entries(view.filter).filter((entry): entry is [string, string] => Boolean(entry[1])),
  );
  if (view.next !== null) query.set('before', String(view.next));
  const next =
    view.next === null
      ? ''
      : `<p><a href="${escapeHtml(ctx.href(`/console/audit?${query}`))}" rel="next">${t(ctx, 'next')}</a></p>`;
  return layout(
    ctx,
    text(ctx.lang, 'auditLog'),
    `${filters}
${
  view.rows.length === 0
    ? `<p>${t(ctx, 'noRows')}</p>`
    : `<div class="table-wrap"><table>
<thead><tr><th scope="col">${t(ctx, 'at')} (UTC)</th><th scope="col">${t(ctx, 'who')}</th><th scope="col">${t(ctx, 'action')}</th><th scope="col">${t(ctx, 'target')}</th><th scope="col">${t(ctx, 'from')}</th><th scope="col">${t(ctx, 'change')}</th></tr></thead>
<tbody>${rows}</tbody></table></div>`
}
${next}`,
  );
}

export function errorPage(ctx: PageContext, message: string, back: string): string {
  return layout(
    ctx,
    text(ctx.lang, 'error'),
    `<p class="error" role="alert" data-testid="error">${escapeHtml(message)}</p><p><a href="${escapeHtml(ctx.href(back))}">${t(ctx, 'back')}</a></p>`,
  );
}
