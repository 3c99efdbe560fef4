/**
 * `vk-pay doctor`: checks a configuration before it meets a gateway: keys parse, key pairs match,
 * certificates are in date, URLs fit the environment, and the database and cache answer.
 */
import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { sql } from 'kysely';
import { openCache } from '../cache/index.ts';
import type { ServiceConfig } from '../config/service-config.ts';
import { isPayError } from '../core/errors.ts';
import { type AlipayMerchantConfig, createAlipayProvider } from '../providers/alipay/index.ts';
import { createWxpayProvider } from '../providers/wxpay/index.ts';
import { isSubMerchantConfig, resolveServiceProvider } from '../providers/wxpay/partner.ts';
import { createFieldSealer, sealingKeyId } from '../service/sealing.ts';
import { DataDirInUseError } from '../store/data-lock.ts';
import { openStore } from '../store/db.ts';
import { appleIapChecks } from './doctor-appleiap.ts';

export interface Check {
  ok: boolean;
  what: string;
  detail?: string;
}

function certificateCheck(what: string, pem: string, now: Date, privateKey?: KeyObject): Check {
  try {
    const certificate = new X509Certificate(pem);
    const validTo = new Date(certificate.validTo);
    if (validTo <= now) return { ok: false, what, detail: `expired on ${validTo.toISOString()}` };
    if (new Date(certificate.validFrom) > now) return { ok: false, what, detail: 'not valid yet' };
    if (privateKey && !certificate.checkPrivateKey(privateKey))
      return { ok: false, what, detail: 'does not match the private key' };
    const days = Math.floor((validTo.getTime() - now.getTime()) / 86_400_000);
    return { ok: true, what, detail: `valid for ${days} more days` };
  } catch {
    return { ok: false, what, detail: 'is not a PEM certificate' };
  }
}

/** A check that passes unless `work` throws; what it returns is the detail. */
export function attempt(what: string, work: () => string | undefined): Check {
  try {
    const detail = work();
    return detail === undefined ? { ok: true, what } : { ok: true, what, detail };
  } catch (error) {
    return {
      ok: false,
      what,
      detail: isPayError(error) || error instanceof Error ? error.message : String(error),
    };
  }
}

/** The field encryption keys: each 32 bytes, and the active one seals what the others can open. */
function fieldEncryptionCheck(config: ServiceConfig): Check {
  const sealing = config.sealing;
  if (!sealing) return { ok: true, what: 'field encryption', detail: 'off: custom is stored as sent' };
  const fields = sealing.fields.map((field) => `custom.${field}`).join(', ');
  return attempt(`field encryption of ${fields}`, () => {
    const sealer = createFieldSealer(sealing);
    const probe = { [sealing.fields[0]!]: { doctor: randomBytes(8).toString('hex') } };
    const sealed = sealer.seal(probe);
    if (JSON.stringify(sealed).includes(JSON.stringify(probe[sealing.fields[0]!])))
      throw new Error('a sealed value still shows its text');
    if (JSON.stringify(sealer.unseal(sealed)) !== JSON.stringify(probe))
      throw new Error('a sealed value does not open to what was sealed');
    const ids = Object.entries(sealing.keys).map(([kid, key]) =>
      kid === sealingKeyId(key) ? kid : `${kid} (${sealingKeyId(key)})`,
    );
    return `AES-256-GCM, seals with ${sealing.activeKeyId}; opens ${ids.join(', ')}`;
  });
}

export async function runDoctor(config: ServiceConfig, now = new Date()): Promise<Check[]> {
  const checks: Check[] = [];
  checks.push({
    ok: true,
    what: `configuration (${config.env})`,
    detail: config.configFile ?? 'no file: defaults and environment',
  });

  checks.push(...wxpayServiceProviderChecks(config));
  for (const merchant of config.wxpay) {
    const name = `wxpay merchant ${merchant.merchantId}`;
    if (isSubMerchantConfig(merchant)) {
      // The keys are the service provider's, checked above; what is the sub-merchant's own is its
      // sub_mchid under that service provider.
      const provider = (config.wxpayServiceProviders ?? []).find((sp) => sp.id === merchant.serviceProvider);
      checks.push(
        attempt(`${name}: sub-merchant of service provider ${merchant.serviceProvider}`, () => {
          createWxpayProvider({ merchants: [merchant], serviceProviders: provider ? [provider] : [] });
          const appId = merchant.subAppId ? `, sub_appid ${merchant.subAppId}` : ', pays under sp_appid';
          return `sub_mchid ${merchant.subMchId} via sp_mchid ${provider?.spMchId}${appId}`;
        }),
      );
      continue;
    }
    checks.push(
      attempt(`${name}: keys and settings parse`, () => {
        createWxpayProvider({ merchants: [merchant] });
        return undefined;
      }),
    );
    if (merchant.apiVersion !== 'v2')
      checks.push(rsaKeyCheck(`${name}: merchant private key is RSA 2048 or longer`, merchant.privateKey));
    if (config.env === 'production' && merchant.baseUrl && !merchant.baseUrl.startsWith('https://')) {
      checks.push({ ok: false, what: `${name}: gateway URL`, detail: 'must be https:// in production' });
    }
  }

  for (const app of config.alipay as unknown as AlipayMerchantConfig[]) {
    const name = `alipay app ${app.appId}`;
    checks.push(
      attempt(`${name}: keys and settings parse`, () => {
        createAlipayProvider({ merchants: [app] });
        return undefined;
      }),
    );
    if (app.certificates) {
      const privateKey = createPrivateKey(app.privateKey as string);
      checks.push(certificateCheck(`${name}: app certificate`, app.certificates.appCert, now, privateKey));
      checks.push(certificateCheck(`${name}: Alipay certificate`, app.certificates.alipayCert, now));
    } else if (app.alipayPublicKey) {
      checks.push(
        attempt(`${name}: Alipay public key parses`, () => {
          createPublicKey(app.alipayPublicKey as string);
          return undefined;
        }),
      );
    }
  }

  checks.push(...appleIapChecks(config, now));

  if (config.tls) {
    checks.push(
      certificateCheck('HTTPS certificate', config.tls.cert, now, createPrivateKey(config.tls.key)),
    );
  }
  if (config.env === 'production') {
    checks.push({
      ok: config.publicUrl.startsWith('https://'),
      what: 'notify URLs are https',
      detail: `${config.publicUrl}/notify/<provider>/<merchant>`,
    });
  }
  for (const app of config.apps) {
    checks.push({ ok: app.secret.length >= 32, what: `API app ${app.appId}: secret of 32+ characters` });
  }
  checks.push(fieldEncryptionCheck(config));

  try {
    const store = await openStore({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      pool: { ...config.pool, max: 1 },
    });
    await sql`select 1`.execute(store.db);
    checks.push({
      ok: true,
      what: 'database reachable and migrated',
      detail: `${store.backend} at ${store.location}`,
    });
    await store.close();
  } catch (error) {
    checks.push({
      ok: false,
      // The lock is checked before the folder is opened: a running service's data is left alone.
      what: error instanceof DataDirInUseError ? 'database not opened' : 'database reachable',
      detail: error instanceof Error ? error.message : String(error),
    });
  }
  try {
    const cache = await openCache({ redisUrl: config.redisUrl });
    await cache.set('doctor', 1, 1000);
    checks.push({ ok: true, what: 'cache reachable', detail: cache.kind });
    await cache.close();
  } catch (error) {
    checks.push({
      ok: false,
      what: 'cache reachable',
      detail: error instanceof Error ? error.message : String(error),
    });
  }
  return checks;
}

function rsaKeyCheck(what: string, privateKey: unknown): Check {
  return attempt(what, () => {
    const key = createPrivateKey(privateKey as string);
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (key.asymmetricKeyType !== 'rsa' || bits < 2048)
      throw new Error(`is ${key.asymmetricKeyType} ${bits}`);
    return `${bits} bits`;
  });
}

/** Each WeChat Pay service provider once: its keys parse, and how many sub-merchants of ours it serves. */
function wxpayServiceProviderChecks(config: ServiceConfig): Check[] {
  const checks: Check[] = [];
  for (const provider of config.wxpayServiceProviders ?? []) {
    const name = `wxpay service provider ${provider.id} (sp_mchid ${provider.spMchId})`;
    const subMerchants = config.wxpay.filter(
      (merchant) => isSubMerchantConfig(merchant) && merchant.serviceProvider === provider.id,
    );
    checks.push(
      attempt(`${name}: keys and settings parse`, () => {
        resolveServiceProvider(provider);
        return `${subMerchants.length} sub-merchant${subMerchants.length === 1 ? '' : 's'}: ${
          subMerchants.map((merchant) => merchant.merchantId).join(', ') || 'none'
        }`;
      }),
    );
    checks.push(rsaKeyCheck(`${name}: private key is RSA 2048 or longer`, provider.privateKey));
    if (config.env === 'production' && provider.baseUrl && !provider.baseUrl.startsWith('https://'))
      checks.push({ ok: false, what: `${name}: gateway URL`, detail: 'must be https:// in production' });
  }
  return checks;
}
