/**
 * The merchants and their gateway accounts as configured and in force, for the console: each
 * account's identities, key mode, key fingerprints, certificates with how long they have left,
 * the notify URL the gateway calls back, and the merchant's webhook endpoints. Built from what
 * the providers show of themselves (public halves only) and the endpoints' views (no secrets).
 */
import type { CertificateFacts, GatewayAccountFacts } from '../providers/provider.ts';
import type { ServiceContext } from '../service/context.ts';
import { notifyUrl } from '../service/payment-flow.ts';
import { listEndpoints } from '../service/webhook-endpoints.ts';
import { checkScope, inScope } from './scope.ts';

/** A certificate this close to its end is shown with a warning. */
export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

export type CertificateState = 'valid' | 'expiring' | 'expired' | 'unknown';

export interface ConsoleCertificate extends CertificateFacts {
  state: CertificateState;
  /** Whole days until notAfter (negative once expired); null when the dates are not known. */
  daysLeft: number | null;
}

export interface ConsoleGatewayAccount extends Omit<GatewayAccountFacts, 'certificates'> {
  certificates: ConsoleCertificate[];
  /** Where the gateway calls back for this account. */
  notifyUrl: string;
}

export interface ConsoleWebhookEndpoint {
  id: string;
  /** Endpoint URLs never carry credentials: they are refused when set. */
  url: string;
  /** null: every event type. */
  events: string[] | null;
  orderTypes: string[] | null;
  source: 'api' | 'config';
  enabled: boolean;
  description: string | null;
}

export interface ConsoleMerchant {
  merchantId: string;
  accounts: ConsoleGatewayAccount[];
  webhooks: ConsoleWebhookEndpoint[];
  /** How many gray release routes the merchant has. */
  routes: number;
}

export function certificateState(
  notAfter: string | null,
  now: Date,
): Pick<ConsoleCertificate, 'state' | 'daysLeft'> {
  if (notAfter === null) return { state: 'unknown', daysLeft: null };
  const left = new Date(notAfter).getTime() - now.getTime();
  const daysLeft = Math.floor(left / DAY_MS);
  if (left <= 0) return { state: 'expired', daysLeft };
  return { state: left <= EXPIRY_WARNING_DAYS * DAY_MS ? 'expiring' : 'valid', daysLeft };
}

/** Every merchant a provider, a route or a webhook endpoint names, within the operator's scope, by id. */
export async function merchantConfiguration(
  context: ServiceContext,
  filter: { merchantIds?: readonly string[] | undefined; now: Date },
): Promise<ConsoleMerchant[]> {
  const scope = checkScope(filter.merchantIds);
  const ids = new Set<string>(context.routes.keys());
  for (const provider of context.providers.values())
    for (const merchantId of provider.merchantIds?.() ?? []) ids.add(merchantId);
  const withEndpoints = await context.store.db
    .selectFrom('webhook_endpoints')
    .select('merchant_id')
    .distinct()
    .execute();
  for (const row of withEndpoints) ids.add(row.merchant_id);
  const merchants: ConsoleMerchant[] = [];
  for (const merchantId of [...ids].filter((id) => inScope(scope, id)).sort()) {
    const accounts: ConsoleGatewayAccount[] = [];
    for (const provider of context.providers.values()) {
      for (const facts of provider.accountFacts?.(merchantId) ?? []) {
        accounts.push({
          ...facts,
          certificates: facts.certificates.map((certificate) => ({
            ...certificate,
            ...certificateState(certificate.notAfter, filter.now),
          })),
          notifyUrl: notifyUrl(context, provider.name, merchantId, facts.account),
        });
      }
    }
    const webhooks = (await listEndpoints(context, merchantId)).map(
      (endpoint): ConsoleWebhookEndpoint => ({
        id: endpoint.id,
        url: endpoint.url,
        events: endpoint.events,
        orderTypes: endpoint.order_types,
        source: endpoint.source,
        enabled: endpoint.enabled,
        description: endpoint.description,
      }),
    );
    merchants.push({ merchantId, accounts, webhooks, routes: context.routes.get(merchantId)?.length ?? 0 });
  }
  return merchants;
}
