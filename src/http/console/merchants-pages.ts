/**
 * The console's Merchants and gateways page: each merchant of the operator's scope with its gateway
 * accounts as in force (identities, key mode, public key fingerprints, certificates with a warning
 * within 30 days of their end and an error once past it, gateway and notify URLs) and its webhook
 * endpoints (URL and events). Secrets never reach it: the data it renders holds none.
 */
import type {
  ConsoleCertificate,
  ConsoleGatewayAccount,
  ConsoleMerchant,
  ConsoleWebhookEndpoint,
} from '../../console/merchants.ts';
import { escapeHtml, layout, type PageContext } from '../console-pages.ts';
import { text } from '../console-texts.ts';
import { type GatewayTextKey, gatewayText, hasGatewayText } from './gateway-texts.ts';

const g = (ctx: PageContext, key: GatewayTextKey, values?: Record<string, string | number>) =>
  escapeHtml(gatewayText(ctx.lang, key, values));

/** A word with a text of its own, or the word itself in code. */
function word(ctx: PageContext, key: string): string {
  return hasGatewayText(key) ? g(ctx, key) : `<code>${escapeHtml(key)}</code>`;
}

const day = (iso: string | null) => (iso ? iso.slice(0, 10) : '—');

function certificateState(ctx: PageContext, certificate: ConsoleCertificate): string {
  switch (certificate.state) {
    case 'expired':
      return `<span class="badge bad">${g(ctx, 'expired')}</span>`;
    case 'expiring':
      return `<span class="badge warn">${g(ctx, 'expiring', { days: Math.max(certificate.daysLeft ?? 0, 0) })}</span>`;
    case 'valid':
      return `<span class="badge ok">${g(ctx, 'valid')}</span>`;
    default:
      return `<span class="muted">${g(ctx, 'datesUnknown')}</span>`;
  }
}

function accountSection(ctx: PageContext, account: ConsoleGatewayAccount, id: string): string {
  const appIds = Object.entries(account.appIds)
    .map(([scene, appId]) => `${escapeHtml(scene)}: <code>${escapeHtml(appId)}</code>`)
    .join(', ');
  const keys = account.keys
    .map(
      (key) =>
        `<tr><th scope="row">${word(ctx, `key_${key.role}`)}</th><td>${key.id ? `<code>${escapeHtml(key.id)}</code>` : '—'}</td><td><code class="fingerprint" data-testid="fingerprint">${escapeHtml(key.sha256)}</code></td></tr>`,
    )
    .join('');
  const certificates = account.certificates
    .map(
      (certificate) =>
        `<tr class="cert-${certificate.state}" data-testid="certificate" data-state="${certificate.state}"><th scope="row">${word(ctx, `cert_${certificate.role}`)}</th><td><code>${escapeHtml(certificate.serial)}</code></td><td>${escapeHtml(day(certificate.notAfter))}</td><td>${certificateState(ctx, certificate)}</td></tr>`,
    )
    .join('');
  return `<section class="account" aria-labelledby="${id}" data-testid="account">
<h3 id="${id}">${escapeHtml(account.provider)} · ${escapeHtml(account.account)}</h3>
<dl class="facts">
<dt>${g(ctx, 'mchId')}</dt><dd><code>${escapeHtml(account.mchId ?? '—')}</code></dd>
<dt>${g(ctx, 'appId')}</dt><dd><code>${escapeHtml(account.appId)}</code></dd>
${appIds ? `<dt>${g(ctx, 'appIds')}</dt><dd>${appIds}</dd>` : ''}
${
  account.serviceProvider
    ? `<dt>${g(ctx, 'serviceProvider')}</dt><dd data-testid="service-provider">${escapeHtml(account.serviceProvider.id)} · <code>${escapeHtml(account.serviceProvider.mchId)}</code> · <code>${escapeHtml(account.serviceProvider.appId)}</code></dd>`
    : ''
}
<dt>${g(ctx, 'keyMode')}</dt><dd data-testid="key-mode">${word(ctx, account.keyMode)}</dd>
<dt>${g(ctx, 'gatewayUrl')}</dt><dd><code>${escapeHtml(account.gatewayUrl)}</code></dd>
<dt>${g(ctx, 'notifyUrl')}</dt><dd><code>${escapeHtml(account.notifyUrl)}</code></dd>
</dl>
<div class="table-wrap"><table>
<caption>${g(ctx, 'keys')}</caption>
<thead><tr><th scope="col">${g(ctx, 'kind')}</th><th scope="col">ID</th><th scope="col">SHA-256</th></tr></thead>
<tbody>${keys}</tbody></table></div>
${
  certificates
    ? `<div class="table-wrap"><table>
<caption>${g(ctx, 'certificates')}</caption>
<thead><tr><th scope="col">${g(ctx, 'kind')}</th><th scope="col">${g(ctx, 'serial')}</th><th scope="col">${g(ctx, 'notAfter')}</th><th scope="col">${g(ctx, 'status')}</th></tr></thead>
<tbody>${certificates}</tbody></table></div>`
    : `<p>${g(ctx, 'noCertificates')}</p>`
}
</section>`;
}

function webhookTable(ctx: PageContext, webhooks: ConsoleWebhookEndpoint[], id: string): string {
  const heading = `<h3 id="${id}">${g(ctx, 'webhooks')}</h3>`;
  if (webhooks.length === 0) return `${heading}<p>${g(ctx, 'noWebhooks')}</p>`;
  const rows = webhooks
    .map(
      (endpoint) =>
        `<tr data-testid="webhook"><td><code>${escapeHtml(endpoint.url)}</code>${endpoint.description ? `<br><span class="muted">${escapeHtml(endpoint.description)}</span>` : ''}</td><td>${endpoint.events === null ? g(ctx, 'allEvents') : endpoint.events.map((event) => `<code>${escapeHtml(event)}</code>`).join(' ')}</td><td>${g(ctx, endpoint.source)}</td><td>${endpoint.enabled ? g(ctx, 'yes') : g(ctx, 'no')}</td></tr>`,
    )
    .join('');
  return `${heading}<div class="table-wrap"><table aria-labelledby="${id}">
<thead><tr><th scope="col">${g(ctx, 'url')}</th><th scope="col">${g(ctx, 'events')}</th><th scope="col">${g(ctx, 'source')}</th><th scope="col">${g(ctx, 'enabled')}</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

/** Certificates past or near their end, listed first so no one scrolls past them. */
function warnings(ctx: PageContext, merchants: ConsoleMerchant[]): string {
  const items = merchants.flatMap((merchant) =>
    merchant.accounts.flatMap((account) =>
      account.certificates
        .filter((certificate) => certificate.state === 'expired' || certificate.state === 'expiring')
        .map(
          (certificate) =>
            `<li class="${certificate.state === 'expired' ? 'bad' : 'warn'}" data-testid="cert-warning" data-state="${certificate.state}">${g(
              ctx,
              'certWarning',
              {
                merchant: merchant.merchantId,
                provider: account.provider,
                account: account.account,
                role: hasGatewayText(`cert_${certificate.role}`)
                  ? gatewayText(ctx.lang, `cert_${certificate.role}` as GatewayTextKey)
                  : certificate.role,
                serial: certificate.serial,
                state:
                  certificate.state === 'expired'
                    ? gatewayText(ctx.lang, 'expired')
                    : gatewayText(ctx.lang, 'expiring', { days: Math.max(certificate.daysLeft ?? 0, 0) }),
                date: day(certificate.notAfter),
              },
            )}</li>`,
        ),
    ),
  );
  if (items.length === 0) return '';
  const expired = items.some((item) => item.includes('data-state="expired"'));
  // Not role=alert: it is there when the page loads, and the focus stays where the reader starts.
  return `<section class="attention ${expired ? 'bad' : 'warn'}" aria-labelledby="warnings-title" data-testid="warnings">
<h2 id="warnings-title">${g(ctx, 'warningsTitle')}</h2><ul>${items.join('')}</ul></section>`;
}

export function merchantsPage(ctx: PageContext, merchants: ConsoleMerchant[]): string {
  const sections = merchants
    .map((merchant, m) => {
      const accounts =
        merchant.accounts.length === 0
          ? `<p>${g(ctx, 'noAccounts')}</p>`
          : merchant.accounts.map((account, a) => accountSection(ctx, account, `m${m}-a${a}`)).join('\n');
      return `<section class="merchant" aria-labelledby="m${m}" data-testid="merchant" data-merchant="${escapeHtml(merchant.merchantId)}">
<h2 id="m${m}">${escapeHtml(merchant.merchantId)}</h2>
${accounts}
${webhookTable(ctx, merchant.webhooks, `m${m}-webhooks`)}
</section>`;
    })
    .join('\n');
  return layout(
    ctx,
    text(ctx.lang, 'merchantsAndGateways'),
    `${warnings(ctx, merchants)}${merchants.length === 0 ? `<p>${g(ctx, 'noMerchants')}</p>` : sections}`,
  );
}
