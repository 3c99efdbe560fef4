/** Small pieces the console's list and detail pages share: times, filter forms, next-page links. */
import { escapeHtml, type PageContext, t } from '../console-pages.ts';

/** A UTC time as a <time> element, to the second. */
export function timeCell(value: string | Date | null | undefined): string {
  if (value === null || value === undefined) return '';
  const at = new Date(value).toISOString();
  return `<time datetime="${at}">${escapeHtml(at.replace('T', ' ').slice(0, 19))}</time>`;
}

/** A GET filter form for `action`, keeping the page's language. */
export function filterForm(ctx: PageContext, action: string, fields: string): string {
  return `<form method="get" action="${escapeHtml(action)}" class="filters" role="search" aria-label="${t(ctx, 'filter')}">
${ctx.href('') ? `<input type="hidden" name="lang" value="${ctx.lang}">` : ''}
${fields}
<button type="submit">${t(ctx, 'filter')}</button></form>`;
}

/** A <select> of `options` (value, label), the empty value meaning any. */
export function selectInput(
  id: string,
  name: string,
  options: Array<[string, string]>,
  selected: string | undefined,
): string {
  return `<select id="${id}" name="${name}">${options
    .map(
      ([value, label]) =>
        `<option value="${escapeHtml(value)}"${value === (selected ?? '') ? ' selected' : ''}>${escapeHtml(label)}</option>`,
    )
    .join('')}</select>`;
}

/** The link to the page after this one: the same filters and `key=cursor`. */
export function nextLink(
  ctx: PageContext,
  path: string,
  filter: Record<string, string | undefined>,
  key: string,
  cursor: string | number | null,
): string {
  if (cursor === null) return '';
  const query = new URLSearchParams(
    Object.entries(filter).filter((entry): entry is [string, string] => Boolean(entry[1])),
  );
  query.set(key, String(cursor));
  return `<p><a href="${escapeHtml(ctx.href(`${path}?${query}`))}" rel="next">${t(ctx, 'next')}</a></p>`;
}

/** A JSON value, pretty, in a <pre> a keyboard can scroll. */
export function jsonBlock(value: unknown, label: string): string {
  return `<pre class="payload" tabindex="0" aria-label="${escapeHtml(label)}">${escapeHtml(JSON.stringify(value, null, 2) ?? '')}</pre>`;
}
