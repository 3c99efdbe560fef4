/**
 * The service's configuration: one JSON file (VKPAY_CONFIG, or ./vk-pay.config.json when present)
 * over the profile's defaults, then environment variables over both. Checked at start; production
 * refuses to run with sandbox gateways, inline secrets, plain HTTP or missing keys.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { WxpayMerchantConfig } from '../providers/wxpay/config.ts';
import type { WxpayServiceProviderConfig, WxpaySubMerchantConfig } from '../providers/wxpay/partner.ts';
import type { WxpayV2MerchantConfig } from '../providers/wxpay/v2/config.ts';
import { type AlertFormat, type AlertSettings, DEFAULT_ALERTS } from '../service/monitoring.ts';
import type { ProfitSharingSettings } from '../service/profit-sharing-settings.ts';
import type { Route } from '../service/routing.ts';
import { parseSealingKey, type SealingConfig, sealingKeyId } from '../service/sealing.ts';
import type { TransferSettings } from '../service/transfer-settings.ts';
import { checkConfiguredEndpoint } from '../service/webhook-endpoints.ts';
import type { ConfiguredEndpoint, WebhookSettings } from '../service/webhook-settings.ts';
import { type AdminListenerConfig, adminListenerOf } from './admin-listener.ts';
import {
  booleanFlag,
  ConfigError,
  type Environment,
  environmentNamed,
  loadConfig,
  type VkPayConfig,
} from './config.ts';
import { profitSharingSettingsOf } from './profit-sharing.ts';
import { configuredAccounts, routesOf } from './routes.ts';
import { resolveSecret, type SecretContext } from './secrets.ts';
import {
  type ApiApp,
  appRateLimitsOf,
  corsOriginsOf,
  DEFAULT_SECURITY,
  payeeOf,
  rateLimitSettingsOf,
  type SecurityConfig,
} from './security.ts';
import { transferSettingsOf } from './transfers.ts';
import { wxpayServiceProvidersOf, wxpaySubMerchantOf } from './wxpay-partner.ts';

export interface ServiceConfig extends VkPayConfig {
  host: string;
  port: number;
  /** The URL gateways and browsers reach this service on. */
  publicUrl: string;
  apps: ApiApp[];
  security: SecurityConfig;
  /** APIv3 accounts, APIv2 ones (`apiVersion: 'v2'`) and sub-merchants of service providers (`serviceProvider`). */
  wxpay: Array<WxpayMerchantConfig | WxpayV2MerchantConfig | WxpaySubMerchantConfig>;
  /** WeChat Pay service providers (服务商): keys shared by the sub-merchants that name them. */
  wxpayServiceProviders: WxpayServiceProviderConfig[];
  /** Alipay apps, checked by the Alipay provider when it is created. */
  alipay: Record<string, unknown>[];
  /** Apple in-app purchase apps, checked by the appleiap provider when it is created. */
  appleiap?: Record<string, unknown>[];
  /** WeChat mini program virtual payment accounts, checked by the wxpay-virtual provider when it is created. */
  'wxpay-virtual'?: Record<string, unknown>[];
  /** Douyin mini app payment apps, checked by the douyin provider when it is created. */
  douyin?: Record<string, unknown>[];
  /** Each merchant's routes: which of its gateway accounts takes a new payment. */
  routes: Record<string, Route[]>;
  /** Mount the gateway emulators on this service (development and testing only). */
  sandbox: { enabled: boolean; timeFactor: number };
  /** Serve HTTPS directly with this certificate and key (PEM), instead of behind a TLS proxy. */
  tls: { cert: string; key: string } | null;
  /** HMAC key of cashier checkout tokens; shared by every instance. Random per process when unset. */
  checkoutSecret: string | null;
  /** How often unpaid orders are reconciled with their gateway; 0 turns the job off. */
  syncIntervalMs: number;
  /** Payment codes: how often a confirming buyer's payment is asked about, and for how long before it is reversed. */
  micropay: { pollMs: number; confirmWindowMs: number };
  /** The error-rate alert: threshold, window and the webhook it is sent to. */
  alerts: AlertSettings;
  /** Merchant webhooks: endpoints from the file, the key sealing API-made secrets, retry time factor. */
  webhooks: Partial<WebhookSettings>;
  /** Fields of `custom` stored encrypted (AES-256-GCM), as `sealing` does for the library. */
  sealing: SealingConfig | null;
  /** Transfer limits, the approval threshold and per-merchant overrides (`transfers` in the file). */
  transfers: Partial<TransferSettings>;
  /** Split rules by order type and the split job's schedule (`profitSharing` in the file). */
  profitSharing: Partial<ProfitSharingSettings>;
  /** Serve the API reference at /docs: on outside production; VKPAY_DOCS or `docs` in the file. */
  docs: boolean;
  /** Health, readiness and metrics on a port of their own (plain HTTP, own allowlist); null: off. */
  admin: AdminListenerConfig | null;
  /** The operator console at /console (and on the admin listener): VKPAY_CONSOLE or `console.enabled`. */
  console: { enabled: boolean };
  /** Run beside other instances on one database with this process's own cache (no REDIS_URL). */
  allowLocalCache: boolean;
  configFile: string | null;
}

const PROFILE: Record<
  Environment,
  { sandbox: boolean; requireSignature: boolean; requireHttps: boolean; rateLimits: boolean }
> = {
  development: { sandbox: true, requireSignature: false, requireHttps: false, rateLimits: false },
  testing: { sandbox: true, requireSignature: true, requireHttps: false, rateLimits: true },
  production: { sandbox: false, requireSignature: true, requireHttps: true, rateLimits: true },
};

type FileConfig = Record<string, unknown>;

function readConfigFile(path: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`config file ${path} cannot be read`);
  }
  try {
    const parsed = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as FileConfig;
  } catch (error) {
    throw new ConfigError(`config file ${path} is not a JSON object: ${(error as Error).message}`);
  }
}

function list(value: unknown, field: string): Record<string, unknown>[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((item) => item === null || typeof item !== 'object')) {
    throw new ConfigError(`${field} must be a list of objects`);
  }
  return value as Record<string, unknown>[];
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new ConfigError(`${field} must be a non-empty string`);
  return value;
}

function port(raw: unknown, field: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65_535)
    throw new ConfigError(`${field} must be a port from 0 to 65535`);
  return value;
}

const ALERT_FORMATS: readonly AlertFormat[] = ['json', 'wecom', 'dingtalk'];

function positive(value: unknown, field: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new ConfigError(`${field} must be a positive number`);
  return number;
}

/** `alerts` in the file; VKPAY_ALERT_WEBHOOK (a URL, or env:/file:) overrides its webhookUrl. */
function alertSettings(value: unknown, env: NodeJS.ProcessEnv, secrets: SecretContext): AlertSettings {
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)))
    throw new ConfigError('alerts must be an object');
  const file = (value ?? {}) as Record<string, unknown>;
  const format = (file.format ?? DEFAULT_ALERTS.format) as AlertFormat;
  if (!ALERT_FORMATS.includes(format))
    throw new ConfigError(`alerts.format must be one of ${ALERT_FORMATS.join(', ')}`);
  const threshold = Number(file.threshold ?? DEFAULT_ALERTS.threshold);
  if (!(threshold > 0 && threshold < 1))
    throw new ConfigError('alerts.threshold must be a share between 0 and 1 (0.1 = 10 %)');
  // The webhook URL of a group robot carries its key: a secret, from the environment or a file in production.
  const rawUrl = env.VKPAY_ALERT_WEBHOOK || file.webhookUrl;
  const webhookUrl =
    rawUrl === undefined || rawUrl === ''
      ? null
      : env.VKPAY_ALERT_WEBHOOK && !/^(env|file):/.test(env.VKPAY_ALERT_WEBHOOK)
        ? env.VKPAY_ALERT_WEBHOOK
        : resolveSecret(rawUrl, 'alerts.webhookUrl', secrets);
  if (webhookUrl !== null && !/^https?:\/\//.test(webhookUrl))
    throw new ConfigError('alerts.webhookUrl must be an http(s) URL');
  const minutes = (name: string, fallbackMs: number) =>
    file[name] === undefined ? fallbackMs : positive(file[name], `alerts.${name}`) * 60_000;
  return {
    webhookUrl,
    format,
    secret: file.secret === undefined ? null : resolveSecret(file.secret, 'alerts.secret', secrets),
    threshold,
    windowMs: minutes('windowMinutes', DEFAULT_ALERTS.windowMs),
    minEvents:
      file.minEvents === undefined ? DEFAULT_ALERTS.minEvents : positive(file.minEvents, 'alerts.minEvents'),
    intervalMs:
      file.intervalSeconds === undefined
        ? DEFAULT_ALERTS.intervalMs
        : positive(file.intervalSeconds, 'alerts.intervalSeconds') * 1000,
    repeatMs: minutes('repeatMinutes', DEFAULT_ALERTS.repeatMs),
  };
}

/**
 * `micropay` in the file: `{ "pollMs": 5000, "confirmWindowMs": 45000 }`; VKPAY_MICROPAY_POLL_MS and
 * VKPAY_MICROPAY_WINDOW_MS over it. The window is bounded to what the gateways allow a buyer.
 */
function micropayConfig(value: unknown, env: NodeJS.ProcessEnv): { pollMs: number; confirmWindowMs: number } {
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)))
    throw new ConfigError('micropay must be an object { "pollMs": ..., "confirmWindowMs": ... }');
  const file = (value ?? {}) as Record<string, unknown>;
  const pollMs = positive(env.VKPAY_MICROPAY_POLL_MS || (file.pollMs ?? 5_000), 'micropay.pollMs');
  const confirmWindowMs = positive(
    env.VKPAY_MICROPAY_WINDOW_MS || (file.confirmWindowMs ?? 45_000),
    'micropay.confirmWindowMs',
  );
  if (pollMs < 100 || pollMs > 60_000) throw new ConfigError('micropay.pollMs must be from 100 to 60000');
  if (confirmWindowMs < pollMs || confirmWindowMs > 600_000)
    throw new ConfigError('micropay.confirmWindowMs must be from pollMs to 600000 (ten minutes)');
  return { pollMs, confirmWindowMs };
}

/** `console` in the file: `{ "enabled": true|false }`; VKPAY_CONSOLE (1 or 0) over it. On by default. */
function consoleSettings(value: unknown, env: NodeJS.ProcessEnv): { enabled: boolean } {
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)))
    throw new ConfigError('console must be an object { "enabled": true|false }');
  const file = (value ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(file).filter((key) => key !== 'enabled');
  if (unknown.length > 0) throw new ConfigError(`console has no setting ${unknown.join(', ')}; only enabled`);
  if (file.enabled !== undefined && typeof file.enabled !== 'boolean')
    throw new ConfigError('console.enabled must be true or false');
  return { enabled: booleanFlag(env, 'VKPAY_CONSOLE') ?? (file.enabled as boolean | undefined) ?? true };
}

/** `webhooks` in the file; VKPAY_WEBHOOK_KEY (a value, or env:/file:) overrides its secretKey. */
function webhookSettings(
  value: unknown,
  env: NodeJS.ProcessEnv,
  secrets: SecretContext,
  production: boolean,
): Partial<WebhookSettings> {
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)))
    throw new ConfigError('webhooks must be an object');
  const file = (value ?? {}) as Record<string, unknown>;
  const rawKey = env.VKPAY_WEBHOOK_KEY || file.secretKey;
  const secretKey =
    rawKey === undefined || rawKey === ''
      ? null
      : env.VKPAY_WEBHOOK_KEY && !/^(env|file):/.test(env.VKPAY_WEBHOOK_KEY)
        ? env.VKPAY_WEBHOOK_KEY
        : resolveSecret(rawKey, 'webhooks.secretKey', secrets);
  if (secretKey !== null && secretKey.length < 32)
    throw new ConfigError('webhooks.secretKey must be at least 32 characters');
  const endpoints = list(file.endpoints, 'webhooks.endpoints').map((endpoint, i): ConfiguredEndpoint => {
    const where = `webhooks.endpoints[${i}]`;
    const strings = (name: string) => {
      const items = endpoint[name];
      if (items === undefined || items === null) return null;
      if (!Array.isArray(items) || items.some((item) => typeof item !== 'string'))
        throw new ConfigError(`${where}.${name} must be a list of strings`);
      return items as string[];
    };
    const configured: ConfiguredEndpoint = {
      ...(endpoint.id === undefined ? {} : { id: String(endpoint.id) }),
      merchantId: text(endpoint.merchantId, `${where}.merchantId`),
      url: text(endpoint.url, `${where}.url`),
      orderTypes: strings('orderTypes'),
      events: strings('events'),
      secret: resolveSecret(endpoint.secret, `${where}.secret`, secrets),
      previousSecret:
        endpoint.previousSecret === undefined
          ? null
          : resolveSecret(endpoint.previousSecret, `${where}.previousSecret`, secrets),
      ...(endpoint.timeoutMs === undefined ? {} : { timeoutMs: Number(endpoint.timeoutMs) }),
      description: typeof endpoint.description === 'string' ? endpoint.description : null,
    };
    try {
      checkConfiguredEndpoint(configured, production, where);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
    return configured;
  });
  const factor = file.timeFactor === undefined ? 1 : positive(file.timeFactor, 'webhooks.timeFactor');
  return {
    secretKey,
    endpoints,
    timeFactor: factor,
    httpsOnly: production,
    ...(file.pollIntervalMs === undefined
      ? {}
      : { pollIntervalMs: positive(file.pollIntervalMs, 'webhooks.pollIntervalMs') }),
    ...(file.concurrencyPerEndpoint === undefined
      ? {}
      : { concurrencyPerEndpoint: positive(file.concurrencyPerEndpoint, 'webhooks.concurrencyPerEndpoint') }),
    ...(file.retentionDays === undefined
      ? {}
      : { retentionDays: positive(file.retentionDays, 'webhooks.retentionDays') }),
    ...(file.leaseMarginMs === undefined
      ? {}
      : { leaseMarginMs: positive(file.leaseMarginMs, 'webhooks.leaseMarginMs') }),
  };
}

/**
 * `encryption`: the top-level fields of `custom` stored encrypted (default `user_info`), keys by id
 * (by reference in production) and the one that encrypts new values. ENCRYPTION_KEY (a key, or an
 * env:/file: reference) is a key too, under its fingerprint id, and the active one unless
 * `encryption.activeKeyId` names another. Fields without a key refuse to start, except outside
 * production when nothing asked for encryption; `fields: []` turns it off.
 */
function sealingSettings(
  value: unknown,
  env: NodeJS.ProcessEnv,
  secrets: SecretContext,
  productionProblems: string[] | null,
): SealingConfig | null {
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)))
    throw new ConfigError('encryption must be an object');
  const file = (value ?? {}) as Record<string, unknown>;
  const fields = file.fields ?? ['user_info'];
  if (!Array.isArray(fields) || fields.some((field) => typeof field !== 'string' || field.length === 0))
    throw new ConfigError('encryption.fields must be a list of field names of custom');
  if (fields.length === 0) return null;
  const keyFrom = (reference: unknown, field: string, context = secrets) => {
    const key = parseSealingKey(resolveSecret(reference, field, context));
    if (!key)
      throw new ConfigError(`${field} must be 32 bytes: 64 hex digits, base64 of 32 bytes, or 32 characters`);
    return key;
  };
  if (
    file.keys !== undefined &&
    (file.keys === null || typeof file.keys !== 'object' || Array.isArray(file.keys))
  )
    throw new ConfigError('encryption.keys must map key ids to keys (64 hex digits or base64 of 32 bytes)');
  const keys: Record<string, Buffer> = {};
  for (const [kid, reference] of Object.entries((file.keys ?? {}) as Record<string, unknown>))
    keys[kid] = keyFrom(reference, `encryption.keys.${kid}`);
  let activeKeyId = file.activeKeyId === undefined ? null : text(file.activeKeyId, 'encryption.activeKeyId');
  if (env.ENCRYPTION_KEY) {
    const key = keyFrom(env.ENCRYPTION_KEY, 'ENCRYPTION_KEY', { ...secrets, allowInline: true });
    const kid = sealingKeyId(key);
    keys[kid] = key;
    activeKeyId ??= kid;
  }
  if (Object.keys(keys).length === 0) {
    const problem = `encryption: custom.${fields.join(', custom.')} would be stored in clear: set ENCRYPTION_KEY or encryption.keys (32 bytes, by reference), or "encryption": { "fields": [] } to store custom as sent`;
    if (productionProblems) productionProblems.push(problem);
    else if (value !== undefined) throw new ConfigError(problem);
    return null;
  }
  if (activeKeyId === null) {
    if (Object.keys(keys).length > 1)
      throw new ConfigError(
        'encryption.activeKeyId must name the key of encryption.keys that encrypts new values',
      );
    activeKeyId = Object.keys(keys)[0]!;
  }
  if (!keys[activeKeyId]) throw new ConfigError('encryption.activeKeyId names no key of encryption.keys');
  return { keys, activeKeyId, fields: fields as string[] };
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides VKPAY_CONFIG. */
  configPath?: string;
  cwd?: string;
}

export function loadServiceConfig(options: LoadOptions = {}): ServiceConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.configPath ?? env.VKPAY_CONFIG;
  const defaultPath = resolve(cwd, 'vk-pay.config.json');
  const configFile = explicit ? resolve(cwd, explicit) : existsSync(defaultPath) ? defaultPath : null;
  const file: FileConfig = configFile ? readConfigFile(configFile) : {};

  const fileEnv =
    file.env === undefined ? undefined : environmentNamed(String(file.env), `env in ${configFile}`);
  const base = loadConfig(fileEnv && !env.VKPAY_ENV ? { ...env, VKPAY_ENV: fileEnv } : env);
  const profile = PROFILE[base.env];
  const secrets: SecretContext = {
    env,
    baseDir: configFile ? dirname(configFile) : cwd,
    allowInline: base.env !== 'production',
  };

  const fileSecurity = (file.security ?? {}) as Partial<SecurityConfig>;
  const security: SecurityConfig = {
    ...DEFAULT_SECURITY,
    requireSignature: profile.requireSignature,
    requireHttps: profile.requireHttps,
    ...fileSecurity,
    ...rateLimitSettingsOf(fileSecurity, profile.rateLimits),
  };
  const production = base.env === 'production';
  const apps: ApiApp[] = list(file.apps, 'apps').map((app, i) => {
    const secret = resolveSecret(app.secret, `apps[${i}].secret`, secrets);
    if (secret.length < 32) throw new ConfigError(`apps[${i}].secret must be at least 32 characters`);
    if (app.rateLimit !== undefined)
      throw new ConfigError(`apps[${i}].rateLimit is replaced by apps[${i}].rateLimits (per route class)`);
    return {
      appId: text(app.appId, `apps[${i}].appId`),
      merchantId: text(app.merchantId, `apps[${i}].merchantId`),
      secret,
      ...(Array.isArray(app.ipAllowlist) ? { ipAllowlist: app.ipAllowlist as string[] } : {}),
      ...(Array.isArray(app.merchants) ? { merchants: app.merchants.map(String) } : {}),
      ...(app.rateLimits === undefined
        ? {}
        : { rateLimits: appRateLimitsOf(app.rateLimits, `apps[${i}].rateLimits`) }),
      ...(app.corsOrigins === undefined
        ? {}
        : { corsOrigins: corsOriginsOf(app.corsOrigins, `apps[${i}].corsOrigins`, production) }),
      ...(app.payee === undefined ? {} : { payee: payeeOf(app.payee, `apps[${i}].payee`, production) }),
    };
  });
  const wxpayServiceProviders = wxpayServiceProvidersOf(file.wxpayServiceProviders, secrets);
  const subMchIds = new Map<string, string>();
  const wxpay = list(file.wxpay, 'wxpay').map((merchant, i): ServiceConfig['wxpay'][number] => {
    const field = (name: string) => `wxpay[${i}].${name}`;
    if (merchant.serviceProvider !== undefined)
      return wxpaySubMerchantOf(merchant, i, wxpayServiceProviders, subMchIds);
    if (merchant.apiVersion === 'v2') return wxpayV2Account(merchant, field, secrets);
    const publicKey = merchant.wechatpayPublicKey as { id?: unknown; pem?: unknown } | undefined;
    return {
      ...(merchant as unknown as WxpayMerchantConfig),
      privateKey: resolveSecret(merchant.privateKey, field('privateKey'), secrets),
      apiV3Key: resolveSecret(merchant.apiV3Key, field('apiV3Key'), secrets),
      ...(publicKey
        ? {
            wechatpayPublicKey: {
              id: text(publicKey.id, field('wechatpayPublicKey.id')),
              pem: resolveSecret(publicKey.pem, field('wechatpayPublicKey.pem'), {
                ...secrets,
                allowInline: true,
              }),
            },
          }
        : {}),
    } satisfies WxpayMerchantConfig;
  });
  const alipay = list(file.alipay, 'alipay').map((app, i) => ({
    ...app,
    privateKey: resolveSecret(app.privateKey, `alipay[${i}].privateKey`, secrets),
  }));
  const appleiap = list(file.appleiap, 'appleiap').map((app, i) => ({
    ...app,
    privateKey: resolveSecret(app.privateKey, `appleiap[${i}].privateKey`, secrets),
    rootCertificates: (Array.isArray(app.rootCertificates) ? app.rootCertificates : []).map((pem, j) =>
      resolveSecret(pem, `appleiap[${i}].rootCertificates[${j}]`, { ...secrets, allowInline: true }),
    ),
    ...(app.sharedSecret !== undefined
      ? { sharedSecret: resolveSecret(app.sharedSecret, `appleiap[${i}].sharedSecret`, secrets).trim() }
      : {}),
  }));
  const wxpayVirtual = list(file['wxpay-virtual'], 'wxpay-virtual').map((account, i) => {
    const field = (name: string) => `wxpay-virtual[${i}].${name}`;
    return {
      ...account,
      appSecret: resolveSecret(account.appSecret, field('appSecret'), secrets),
      appKey: resolveSecret(account.appKey, field('appKey'), secrets),
      ...(account.sandboxAppKey !== undefined
        ? { sandboxAppKey: resolveSecret(account.sandboxAppKey, field('sandboxAppKey'), secrets) }
        : {}),
      pushToken: resolveSecret(account.pushToken, field('pushToken'), secrets),
      ...(account.encodingAesKey !== undefined
        ? { encodingAesKey: resolveSecret(account.encodingAesKey, field('encodingAesKey'), secrets) }
        : {}),
    };
  });
  // Secrets by reference: the app secret and private key (trade), the salt and token (ecpay).
  const douyin = list(file.douyin, 'douyin').map((app, i) => {
    const secret = (name: string, inline = false) =>
      app[name] === undefined
        ? {}
        : {
            [name]: resolveSecret(
              app[name],
              `douyin[${i}].${name}`,
              inline ? { ...secrets, allowInline: true } : secrets,
            ),
          };
    return {
      ...app,
      ...secret('appSecret'),
      ...secret('privateKey'),
      ...secret('platformPublicKey', true),
      ...secret('salt'),
      ...secret('token'),
    };
  });
  const fileSandbox = (file.sandbox ?? {}) as { enabled?: boolean; timeFactor?: number };
  const sandboxEnv = env.VKPAY_SANDBOX;
  const sandbox = {
    enabled:
      sandboxEnv === undefined || sandboxEnv === ''
        ? (fileSandbox.enabled ?? profile.sandbox)
        : sandboxEnv === 'true' || sandboxEnv === '1',
    timeFactor: fileSandbox.timeFactor ?? 1,
  };
  const fileTls = file.tls as { cert?: unknown; key?: unknown } | undefined;
  const tls = fileTls
    ? {
        cert: resolveSecret(fileTls.cert, 'tls.cert', { ...secrets, allowInline: true }),
        key: resolveSecret(fileTls.key, 'tls.key', secrets),
      }
    : null;
  const fileCheckout = file.checkout as { secret?: unknown } | undefined;
  const checkoutSecret = env.VKPAY_CHECKOUT_SECRET
    ? env.VKPAY_CHECKOUT_SECRET
    : fileCheckout?.secret !== undefined
      ? resolveSecret(fileCheckout.secret, 'checkout.secret', secrets)
      : null;
  if (checkoutSecret !== null && checkoutSecret.length < 32)
    throw new ConfigError('checkout.secret must be at least 32 characters');
  const host = env.VKPAY_HOST || (typeof file.host === 'string' ? file.host : '127.0.0.1');
  const listenPort = port(env.VKPAY_PORT || env.PORT || file.port || 3000, 'port');
  const publicUrl =
    env.VKPAY_PUBLIC_URL ||
    (typeof file.publicUrl === 'string' ? file.publicUrl : `http://${host}:${listenPort}`);

  const sealingProblems: string[] = [];
  const config: ServiceConfig = {
    ...base,
    ...(typeof file.dataDir === 'string' && !env.VKPAY_DATA_DIR ? { dataDir: file.dataDir } : {}),
    ...(typeof file.databaseUrl === 'string' && !env.DATABASE_URL ? { databaseUrl: file.databaseUrl } : {}),
    ...(typeof file.redisUrl === 'string' && !env.REDIS_URL ? { redisUrl: file.redisUrl } : {}),
    host,
    port: listenPort,
    publicUrl,
    apps,
    security,
    wxpay,
    wxpayServiceProviders,
    alipay,
    appleiap,
    'wxpay-virtual': wxpayVirtual,
    douyin,
    routes: routesOf(
      file.routes,
      configuredAccounts({ wxpay, alipay, appleiap, 'wxpay-virtual': wxpayVirtual, douyin }),
    ),
    sandbox,
    tls,
    checkoutSecret,
    // 0 turns the job off, so only a missing value falls back to the default.
    syncIntervalMs: Number(env.VKPAY_SYNC_INTERVAL_MS || (file.syncIntervalMs ?? 30_000)),
    micropay: micropayConfig(file.micropay, env),
    alerts: alertSettings(file.alerts, env, secrets),
    webhooks: webhookSettings(file.webhooks, env, secrets, base.env === 'production'),
    sealing: sealingSettings(
      file.encryption,
      env,
      secrets,
      base.env === 'production' ? sealingProblems : null,
    ),
    transfers: transferSettingsOf(file.transfers),
    profitSharing: profitSharingSettingsOf(file.profitSharing),
    admin: adminListenerOf(file.admin, env, listenPort),
    console: consoleSettings(file.console, env),
    allowLocalCache: booleanFlag(env, 'VKPAY_ALLOW_LOCAL_CACHE') ?? file.allowLocalCache === true,
    docs:
      booleanFlag(env, 'VKPAY_DOCS') ??
      (typeof file.docs === 'boolean' ? file.docs : base.env !== 'production'),
    configFile,
  };
  checkProduction(config, sealingProblems);
  return config;
}

/** What production refuses, each with the field to fix. */
export function checkProduction(config: ServiceConfig, found: string[] = []): void {
  if (config.env !== 'production') return;
  const problems: string[] = [...found];
  if (config.sandbox.enabled)
    problems.push('sandbox.enabled must be false in production (the emulators are test endpoints)');
  if (!config.security.requireSignature)
    problems.push('security.requireSignature must be true in production');
  if (!config.security.requireHttps) problems.push('security.requireHttps must be true in production');
  if (!config.tls && config.security.trustedProxies.length === 0) {
    problems.push(
      'production needs HTTPS: set tls.cert and tls.key, or security.trustedProxies for the TLS proxy in front',
    );
  }
  if (!config.publicUrl.startsWith('https://'))
    problems.push('publicUrl must be https:// in production (gateways call it)');
  if (config.checkoutSecret === null) {
    problems.push(
      'checkout.secret (or VKPAY_CHECKOUT_SECRET) must be set in production, the same on every instance',
    );
  }
  if (config.apps.length === 0) problems.push('apps must list at least one merchant API app');
  if (
    config.wxpay.length === 0 &&
    config.alipay.length === 0 &&
    (config.appleiap ?? []).length === 0 &&
    (config['wxpay-virtual'] ?? []).length === 0 &&
    (config.douyin ?? []).length === 0
  )
    problems.push(
      'configure at least one wxpay merchant or alipay app (or appleiap app, wxpay-virtual account or douyin app)',
    );
  if (!config.webhooks.secretKey)
    problems.push(
      'webhooks.secretKey (or VKPAY_WEBHOOK_KEY) must be set in production, the same on every instance: it seals webhook endpoint secrets',
    );
  if (config.alerts.webhookUrl && !config.alerts.webhookUrl.startsWith('https://'))
    problems.push('alerts.webhookUrl must be https:// in production');
  // Every gateway URL of every gateway: keys, signatures and payments would cross the network in clear.
  const gateways: Record<string, object[]> = {
    wxpay: config.wxpay,
    wxpayServiceProviders: config.wxpayServiceProviders ?? [],
    alipay: config.alipay,
    appleiap: config.appleiap ?? [],
    'wxpay-virtual': config['wxpay-virtual'] ?? [],
    douyin: config.douyin ?? [],
  };
  // Extra gateway CAs exist for a sandbox: in production only the system's CAs vouch for WeChat Pay.
  for (const [i, merchant] of config.wxpay.entries())
    if ('gatewayCaPems' in merchant && (merchant.gatewayCaPems ?? []).length > 0)
      problems.push(`wxpay[${i}].gatewayCaPems is for a sandbox, not production`);
  for (const [gateway, merchants] of Object.entries(gateways)) {
    for (const [i, merchant] of merchants.entries()) {
      for (const [setting, value] of Object.entries(merchant as Record<string, unknown>)) {
        if (/url$/i.test(setting) && typeof value === 'string' && !value.startsWith('https://'))
          problems.push(`${gateway}[${i}].${setting} must be https:// in production`);
      }
    }
  }
  if (problems.length > 0)
    throw new ConfigError(`production configuration refused:\n  - ${problems.join('\n  - ')}`);
}

/** An APIv2 account from the file: the API key and the client certificate's key by secret reference. */
function wxpayV2Account(
  merchant: Record<string, unknown>,
  field: (name: string) => string,
  secrets: SecretContext,
): WxpayV2MerchantConfig {
  const certificate = merchant.clientCertificate as { cert?: unknown; key?: unknown } | undefined;
  return {
    ...(merchant as unknown as WxpayV2MerchantConfig),
    apiVersion: 'v2',
    apiKey: resolveSecret(merchant.apiKey, field('apiKey'), secrets),
    ...(certificate
      ? {
          clientCertificate: {
            cert: resolveSecret(certificate.cert, field('clientCertificate.cert'), {
              ...secrets,
              allowInline: true,
            }),
            key: resolveSecret(certificate.key, field('clientCertificate.key'), secrets),
          },
        }
      : {}),
  };
}
