/**
 * `vk-pay doctor` for Apple in-app purchase apps: the settings resolve (bundle id, environment,
 * products), the In-App Purchase key loads as EC P-256, each trusted root parses and is in date,
 * and a production app's Server API and verifyReceipt hosts are https.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { ServiceConfig } from '../config/service-config.ts';
import { type AppleIapMerchantConfig, createAppleIapProvider } from '../providers/appleiap/index.ts';
import { attempt, type Check } from './doctor.ts';

export function appleIapChecks(config: ServiceConfig, now: Date): Check[] {
  const checks: Check[] = [];
  for (const app of (config.appleiap ?? []) as unknown as AppleIapMerchantConfig[]) {
    const name = `appleiap app ${app.bundleId || '(no bundle id)'} of ${app.merchantId}`;
    checks.push(
      attempt(`${name}: bundle id present`, () => {
        if (typeof app.bundleId !== 'string' || !/^[A-Za-z0-9.-]{1,155}$/.test(app.bundleId))
          throw new Error('bundleId is missing or not a bundle identifier');
        return app.bundleId;
      }),
    );
    checks.push(
      attempt(`${name}: In-App Purchase key loads`, () => {
        const key = typeof app.privateKey === 'string' ? createPrivateKey(app.privateKey) : app.privateKey;
        const curve = key.asymmetricKeyDetails?.namedCurve;
        if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1')
          throw new Error(`is ${key.asymmetricKeyType} ${curve ?? ''}, not EC P-256 (ES256)`.trim());
        return `EC P-256, key id ${app.keyId}`;
      }),
    );
    const roots = Array.isArray(app.rootCertificates) ? app.rootCertificates : [];
    if (roots.length === 0)
      checks.push({ ok: false, what: `${name}: trusted root certificates`, detail: 'none configured' });
    roots.forEach((pem, index) => {
      checks.push(
        attempt(`${name}: root certificate ${index + 1} parses`, () => {
          const certificate = new X509Certificate(pem);
          if (!certificate.ca) throw new Error('is not a CA certificate');
          const validTo = new Date(certificate.validTo);
          if (validTo <= now) throw new Error(`expired on ${validTo.toISOString()}`);
          return certificate.subject.replace(/\n/g, ', ');
        }),
      );
    });
    checks.push(
      attempt(`${name}: settings resolve`, () => {
        createAppleIapProvider({ merchants: [app] });
        return `${app.environment}, ${Object.keys(app.products ?? {}).length} products${app.sharedSecret ? ', legacy receipts' : ''}`;
      }),
    );
    if (config.env === 'production') {
      const urls = [app.baseUrl, app.sandboxBaseUrl, app.receiptBaseUrl, app.sandboxReceiptBaseUrl].filter(
        (url): url is string => typeof url === 'string',
      );
      if (urls.some((url) => !url.startsWith('https://')))
        checks.push({ ok: false, what: `${name}: App Store URLs`, detail: 'must be https:// in production' });
    }
  }
  return checks;
}
