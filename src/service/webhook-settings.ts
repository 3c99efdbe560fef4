/**
 * How merchant webhooks run: the endpoints given in the configuration, the retry time factor, the
 * delivery worker's bounds, and the key that seals the signing secrets of endpoints made over the API.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { PayError } from '../core/errors.ts';
import type { Database } from '../store/schema.ts';

/** An endpoint written in the configuration file; its secret stays there (by reference in production). */
export interface ConfiguredEndpoint {
  /** Stable id; derived from the merchant, order types and URL when left out. */
  id?: string;
  merchantId: string;
  url: string;
  /** The order types it is for; none: the merchant's default endpoint. */
  orderTypes?: string[] | null;
  /** The event types it wants; none: all. */
  events?: string[] | null;
  /** `whsec_` followed by base64 of 24 to 64 random bytes. */
  secret: string;
  /** The secret before a rotation: deliveries are signed with both while it is set. */
  previousSecret?: string | null;
  timeoutMs?: number;
  description?: string | null;
}

export interface WebhookSettings {
  /** Seals the secrets of API-made endpoints (32 characters or more). Unset: a development key kept in the store. */
  secretKey: string | null;
  endpoints: ConfiguredEndpoint[];
  /** Scales the retry schedule and endpoint pauses (tests run days of retries in seconds). */
  timeFactor: number;
  /** How often an idle worker looks for due deliveries made by other instances. */
  pollIntervalMs: number;
  /** Deliveries in flight to one endpoint from one instance. */
  concurrencyPerEndpoint: number;
  /** Deliveries in flight from one instance. */
  maxInFlight: number;
  /** A claimed delivery is another instance's to send this long after its timeout (the sender died). */
  leaseMarginMs: number;
  /** An endpoint's answer timeout unless it sets its own (the seed's 10 s). */
  defaultTimeoutMs: number;
  /** Refuse plain-http endpoint URLs (production). */
  httpsOnly: boolean;
  /** Events older than this, with nothing left to send, are deleted with their attempts. */
  retentionDays: number;
}

export const DEFAULT_WEBHOOKS: WebhookSettings = {
  secretKey: null,
  endpoints: [],
  timeFactor: 1,
  pollIntervalMs: 1000,
  concurrencyPerEndpoint: 16,
  maxInFlight: 256,
  leaseMarginMs: 5000,
  defaultTimeoutMs: 10_000,
  httpsOnly: false,
  retentionDays: 90,
};

export const MIN_TIMEOUT_MS = 1000;
export const MAX_TIMEOUT_MS = 30_000;

/** The signing secrets of API-made endpoints, sealed at rest with AES-256-GCM. */
export interface SecretBox {
  seal(secret: string): SealedSecret;
  open(sealed: SealedSecret): string;
}

export interface SealedSecret {
  alg: 'aes-256-gcm';
  /** Which key sealed it: the first 8 hex digits of the key's SHA-256. */
  kid: string;
  iv: string;
  tag: string;
  data: string;
}

export function createSecretBox(keyMaterial: string): SecretBox {
  const key = createHash('sha256').update(keyMaterial).digest();
  const kid = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return {
    seal(secret) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return {
        alg: 'aes-256-gcm',
        kid,
        iv: iv.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
        data: data.toString('base64'),
      };
    },
    open(sealed) {
      if (sealed.kid !== kid) {
        throw new PayError(40003, {
          message: `a webhook secret is sealed with key ${sealed.kid}, not the configured webhooks.secretKey (${kid})`,
        });
      }
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}

/**
 * The configured key, or in development the store's own key, made on first use. Production refuses
 * to start without a configured one (config/service-config.ts), so this fallback never seals a
 * production secret next to the data it protects.
 */
export async function openSecretBox(db: Kysely<Database>, settings: WebhookSettings): Promise<SecretBox> {
  if (settings.secretKey) return createSecretBox(settings.secretKey);
  const generated = randomBytes(32).toString('base64');
  await db
    .insertInto('vk_pay_settings')
    .values({ name: 'development_webhook_key', value: generated })
    .onConflict((conflict) => conflict.column('name').doNothing())
    .execute();
  const stored = await db
    .selectFrom('vk_pay_settings')
    .select('value')
    .where('name', '=', 'development_webhook_key')
    .executeTakeFirstOrThrow();
  return createSecretBox(stored.value);
}

/** What the webhook code of one process shares: settings, secrets, and the worker's wake-up call. */
export interface WebhookRuntime {
  settings: WebhookSettings;
  box: SecretBox;
  /** Secrets of configured endpoints by endpoint id: [current, previous?]. */
  configuredSecrets: Map<string, string[]>;
  /** This process, as it signs its claims and attempts. */
  instanceId: string;
  /** Tells this process's delivery worker that deliveries were committed (a no-op without a worker). */
  wake(): void;
}

export function newInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
