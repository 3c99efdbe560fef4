/**
 * The merchant's webhook endpoints: made, changed, disabled and given a new secret over the API (no
 * restart), or written in the configuration file. A secret is shown once, when it is made; at rest
 * it is sealed. A rotated secret stays valid for a grace period: deliveries carry both signatures.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import { PayError } from '../core/errors.ts';
import { isOrderTypeName } from '../core/validate.ts';
import {
  formatWebhookSecret,
  isWebhookEventType,
  WEBHOOK_EVENT_TYPES,
  webhookSecretKey,
} from '../core/webhooks.ts';
import type { Database, WebhookEndpointRow } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';
import {
  type ConfiguredEndpoint,
  MAX_TIMEOUT_MS,
  MIN_TIMEOUT_MS,
  type SealedSecret,
} from './webhook-settings.ts';

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** null: the merchant's default endpoint, for order types without one of their own. */
  order_types: string[] | null;
  /** null: every event type. */
  events: string[] | null;
  description: string | null;
  /** api: managed over the API; config: written in the configuration file (changed there). */
  source: 'api' | 'config';
  enabled: boolean;
  timeout_ms: number;
  /** Attempts failed in a row; from 5 on, the endpoint is paused between attempts. */
  failures: number;
  paused_until: string | null;
  /** Until when the secret before the last rotation still signs deliveries. */
  previous_secret_until: string | null;
  create_date: string;
  update_date: string;
}

export interface EndpointInput {
  url?: unknown;
  order_types?: unknown;
  events?: unknown;
  description?: unknown;
  timeout_ms?: unknown;
  enabled?: unknown;
}

const iso = (value: Date | null) => (value ? new Date(value).toISOString() : null);

export function endpointView(row: WebhookEndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    order_types: row.order_types,
    events: row.events,
    description: row.description,
    source: row.source,
    enabled: row.enabled,
    timeout_ms: row.timeout_ms,
    failures: row.failures,
    paused_until: iso(row.paused_until),
    previous_secret_until: iso(row.previous_secret_until),
    create_date: iso(row.create_date)!,
    update_date: iso(row.update_date)!,
  };
}

interface Problem {
  field: string;
  message: string;
}

/** Checks an endpoint's fields; every problem is reported at once (40001). */
function checkEndpoint(
  context: ServiceContext,
  input: EndpointInput,
  partial: boolean,
): {
  url?: string;
  orderTypes?: string[] | null;
  events?: string[] | null;
  description?: string | null;
  timeoutMs?: number;
  enabled?: boolean;
} {
  const problems: Problem[] = [];
  const out: ReturnType<typeof checkEndpoint> = {};
  if (input.url !== undefined || !partial) {
    const problem = urlProblem(input.url, context.webhooks.settings.httpsOnly);
    if (problem) problems.push({ field: 'url', message: problem });
    else out.url = String(input.url);
  }
  if (input.order_types !== undefined) {
    const types = input.order_types;
    if (types === null) out.orderTypes = null;
    else if (
      !Array.isArray(types) ||
      types.length === 0 ||
      types.length > 32 ||
      types.some((type) => typeof type !== 'string' || !isOrderTypeName(type))
    ) {
      problems.push({
        field: 'order_types',
        message: 'order_types must be null (the default endpoint) or 1 to 32 order types like "recharge"',
      });
    } else out.orderTypes = [...new Set(types as string[])].sort();
  }
  if (input.events !== undefined) {
    const events = input.events;
    if (events === null) out.events = null;
    else if (
      !Array.isArray(events) ||
      events.length === 0 ||
      events.some((event) => !isWebhookEventType(event))
    ) {
      problems.push({
        field: 'events',
        message: `events must be null (all) or a list of ${WEBHOOK_EVENT_TYPES.join(', ')}`,
      });
    } else out.events = [...new Set(events as string[])].sort();
  }
  if (input.description !== undefined) {
    const description = input.description;
    if (
      description !== null &&
      (typeof description !== 'string' || description.length > 200 || description.includes('\u0000'))
    )
      problems.push({
        field: 'description',
        message: 'description must be text of at most 200 characters, without NUL',
      });
    else out.description = description as string | null;
  }
  if (input.timeout_ms !== undefined) {
    const timeout = input.timeout_ms;
    if (
      !Number.isInteger(timeout) ||
      (timeout as number) < MIN_TIMEOUT_MS ||
      (timeout as number) > MAX_TIMEOUT_MS
    )
      problems.push({
        field: 'timeout_ms',
        message: `timeout_ms must be an integer from ${MIN_TIMEOUT_MS} to ${MAX_TIMEOUT_MS}`,
      });
    else out.timeoutMs = timeout as number;
  }
  if (input.enabled !== undefined) {
    if (typeof input.enabled !== 'boolean')
      problems.push({ field: 'enabled', message: 'enabled must be true or false' });
    else out.enabled = input.enabled;
  }
  if (problems.length > 0) {
    throw new PayError(40001, {
      field: problems[0]!.field,
      message: problems.map((problem) => `${problem.field}: ${problem.message}`).join('; '),
      details: { problems },
    });
  }
  return out;
}

/** Why a URL cannot be an endpoint, or null. Production sends only over HTTPS. */
export function urlProblem(value: unknown, httpsOnly: boolean): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048)
    return 'url must be an http(s) URL of at most 2048 characters';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (/[\u0000-\u001f\u007f\s]/.test(value)) return 'url must not contain spaces or control characters';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'url is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'url must be http(s)';
  if (httpsOnly && url.protocol !== 'https:') return 'url must be https:// in production';
  if (url.username || url.password) return 'url must not carry a user name or password';
  if (url.hash) return 'url must not have a #fragment';
  return null;
}

function newSecret(): string {
  return formatWebhookSecret(randomBytes(32));
}

function newEndpointId(): string {
  return `we_${randomBytes(10).toString('hex')}`;
}

async function findEndpoint(context: ServiceContext, merchantId: string, id: string) {
  const row = await context.store.db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw new PayError(40005, { field: 'id', message: `webhook endpoint ${id} not found` });
  return row;
}

function refuseConfigured(row: WebhookEndpointRow): void {
  if (row.source === 'config') {
    throw new PayError(40009, {
      field: 'id',
      message: `webhook endpoint ${row.id} is written in the configuration file; change it there`,
    });
  }
}

/** Makes an endpoint. Its secret is in the answer, once. */
export async function createEndpoint(
  context: ServiceContext,
  merchantId: string,
  input: EndpointInput,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const checked = checkEndpoint(context, input, false);
  const secret = newSecret();
  const now = context.now();
  const row = await context.store.db
    .insertInto('webhook_endpoints')
    .values({
      id: newEndpointId(),
      merchant_id: merchantId,
      url: checked.url!,
      order_types: checked.orderTypes ?? null,
      events: checked.events ?? null,
      description: checked.description ?? null,
      source: 'api',
      secret_sealed: JSON.stringify(context.webhooks.box.seal(secret)),
      previous_secret_sealed: null,
      previous_secret_until: null,
      timeout_ms: checked.timeoutMs ?? context.webhooks.settings.defaultTimeoutMs,
      enabled: checked.enabled ?? true,
      create_date: now,
      update_date: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { endpoint: endpointView(row), secret };
}

export async function listEndpoints(context: ServiceContext, merchantId: string): Promise<WebhookEndpoint[]> {
  const rows = await context.store.db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .orderBy('create_date')
    .orderBy('id')
    .execute();
  return rows.map(endpointView);
}

export async function getEndpoint(
  context: ServiceContext,
  merchantId: string,
  id: string,
): Promise<WebhookEndpoint> {
  return endpointView(await findEndpoint(context, merchantId, id));
}

/**
 * Changes an endpoint. Disabling it cancels what it still had to receive (replay brings it back);
 * enabling it again starts it without the failures it had.
 */
export async function updateEndpoint(
  context: ServiceContext,
  merchantId: string,
  id: string,
  input: EndpointInput,
): Promise<WebhookEndpoint> {
  const checked = checkEndpoint(context, input, true);
  const current = await findEndpoint(context, merchantId, id);
  refuseConfigured(current);
  const now = context.now();
  const row = await context.store.db.transaction().execute(async (tx) => {
    const updated = await tx
      .updateTable('webhook_endpoints')
      .set({
        ...(checked.url !== undefined ? { url: checked.url } : {}),
        ...(checked.orderTypes !== undefined ? { order_types: checked.orderTypes } : {}),
        ...(checked.events !== undefined ? { events: checked.events } : {}),
        ...(checked.description !== undefined ? { description: checked.description } : {}),
        ...(checked.timeoutMs !== undefined ? { timeout_ms: checked.timeoutMs } : {}),
        ...(checked.enabled !== undefined ? { enabled: checked.enabled } : {}),
        ...(checked.enabled === true && !current.enabled ? { failures: 0, paused_until: null } : {}),
        update_date: now,
        version: current.version + 1,
      })
      .where('id', '=', id)
      .where('merchant_id', '=', merchantId)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (checked.enabled === false && current.enabled) await cancelPending(tx, id, now);
    return updated;
  });
  return endpointView(row);
}

async function cancelPending(tx: Transaction<Database>, endpointId: string, now: Date) {
  await tx
    .updateTable('webhook_deliveries')
    .set({ status: 'CANCELLED', next_attempt_at: null, update_date: now })
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'PENDING')
    .execute();
}

/** A new secret; the old one keeps signing (beside it) for `graceSeconds`. */
export async function rotateEndpointSecret(
  context: ServiceContext,
  merchantId: string,
  id: string,
  graceSeconds: unknown = 86_400,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  if (
    !Number.isInteger(graceSeconds) ||
    (graceSeconds as number) < 0 ||
    (graceSeconds as number) > 7 * 86_400
  )
    throw new PayError(40001, {
      field: 'grace_seconds',
      message: 'grace_seconds must be an integer from 0 to 604800 (7 days)',
    });
  const current = await findEndpoint(context, merchantId, id);
  refuseConfigured(current);
  const secret = newSecret();
  const now = context.now();
  const row = await context.store.db
    .updateTable('webhook_endpoints')
    .set({
      secret_sealed: JSON.stringify(context.webhooks.box.seal(secret)),
      previous_secret_sealed:
        graceSeconds === 0 || current.secret_sealed === null ? null : JSON.stringify(current.secret_sealed),
      previous_secret_until:
        graceSeconds === 0 ? null : new Date(now.getTime() + (graceSeconds as number) * 1000),
      update_date: now,
      version: current.version + 1,
    })
    .where('id', '=', id)
    .where('merchant_id', '=', merchantId)
    .where('version', '=', current.version)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new PayError(40010, { message: 'the endpoint changed meanwhile; rotate again' });
  return { endpoint: endpointView(row), secret };
}

/** The secrets a delivery to this endpoint is signed with now: the current one, and the previous during its grace. */
export function signingSecrets(
  context: ServiceContext,
  endpoint: Pick<
    WebhookEndpointRow,
    'id' | 'source' | 'secret_sealed' | 'previous_secret_sealed' | 'previous_secret_until'
  >,
  now: Date,
): string[] {
  if (endpoint.source === 'config') {
    const secrets = context.webhooks.configuredSecrets.get(endpoint.id);
    if (!secrets)
      throw new PayError(40003, {
        message: `webhook endpoint ${endpoint.id} is in the store but not in this instance's configuration`,
      });
    return secrets;
  }
  const secrets = [context.webhooks.box.open(endpoint.secret_sealed as SealedSecret)];
  if (
    endpoint.previous_secret_sealed &&
    endpoint.previous_secret_until &&
    new Date(endpoint.previous_secret_until).getTime() > now.getTime()
  ) {
    try {
      secrets.push(context.webhooks.box.open(endpoint.previous_secret_sealed as SealedSecret));
    } catch (error) {
      // Sealed under a webhooks.secretKey since replaced: the current secret alone signs.
      context.logger.warn(
        { err: error, endpointId: endpoint.id },
        'previous webhook secret cannot be opened',
      );
    }
  }
  return secrets;
}

/** The id of a configured endpoint: the one it names, or one derived from what makes it that endpoint. */
export function configuredEndpointId(endpoint: ConfiguredEndpoint): string {
  if (endpoint.id) return endpoint.id;
  const types = endpoint.orderTypes?.length ? [...endpoint.orderTypes].sort().join(',') : '*';
  const digest = createHash('sha256')
    .update(`${endpoint.merchantId}\n${types}\n${endpoint.url}`)
    .digest('hex');
  return `cfg_${digest.slice(0, 16)}`;
}

/** Checks a configured endpoint as the API checks its own; throws a message naming the field. */
export function checkConfiguredEndpoint(
  endpoint: ConfiguredEndpoint,
  httpsOnly: boolean,
  where: string,
): void {
  const problem = urlProblem(endpoint.url, httpsOnly);
  if (problem) throw new PayError(40001, { field: `${where}.url`, message: `${where}.url: ${problem}` });
  for (const [name, secret] of [
    ['secret', endpoint.secret],
    ['previousSecret', endpoint.previousSecret],
  ] as const) {
    if (secret === undefined || secret === null) {
      if (name === 'secret')
        throw new PayError(40001, { field: `${where}.secret`, message: `${where}.secret is required` });
      continue;
    }
    if (!webhookSecretKey(secret))
      throw new PayError(40001, {
        field: `${where}.${name}`,
        message: `${where}.${name} must be whsec_ followed by base64 of 24 to 64 random bytes (vk-pay keys writes one)`,
      });
  }
  if (endpoint.id !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(endpoint.id))
    throw new PayError(40001, {
      field: `${where}.id`,
      message: `${where}.id must be 1 to 64 of [A-Za-z0-9_-]`,
    });
}

/**
 * Puts the configured endpoints in the store (so deliveries can refer to them) and disables
 * configured endpoints the configuration no longer has. Their secrets stay in memory.
 */
export async function syncConfiguredEndpoints(context: ServiceContext): Promise<void> {
  const configured = context.webhooks.settings.endpoints;
  const now = context.now();
  const ids: string[] = [];
  context.webhooks.configuredSecrets.clear();
  await context.store.db.transaction().execute(async (tx) => {
    for (const [i, endpoint] of configured.entries()) {
      checkConfiguredEndpoint(endpoint, context.webhooks.settings.httpsOnly, `webhooks.endpoints[${i}]`);
      const checked = checkEndpoint(
        context,
        {
          url: endpoint.url,
          order_types: endpoint.orderTypes?.length ? endpoint.orderTypes : null,
          events: endpoint.events?.length ? endpoint.events : null,
          description: endpoint.description ?? null,
          timeout_ms: endpoint.timeoutMs ?? context.webhooks.settings.defaultTimeoutMs,
        },
        false,
      );
      const id = configuredEndpointId(endpoint);
      ids.push(id);
      context.webhooks.configuredSecrets.set(
        id,
        endpoint.previousSecret ? [endpoint.secret, endpoint.previousSecret] : [endpoint.secret],
      );
      const values = {
        merchant_id: endpoint.merchantId,
        url: checked.url!,
        order_types: checked.orderTypes ?? null,
        events: checked.events ?? null,
        description: checked.description ?? null,
        timeout_ms: checked.timeoutMs!,
        enabled: true,
        update_date: now,
      };
      await tx
        .insertInto('webhook_endpoints')
        .values({ id, ...values, source: 'config', create_date: now })
        .onConflict((conflict) => conflict.column('id').doUpdateSet({ ...values, source: 'config' }))
        .execute();
    }
    let stale = tx
      .updateTable('webhook_endpoints')
      .set({ enabled: false, update_date: now })
      .where('source', '=', 'config')
      .where('enabled', '=', true);
    if (ids.length > 0) stale = stale.where('id', 'not in', ids);
    await stale.execute();
  });
}
