/** Merchant configuration: both private key encodings, both verification modes, no secret in errors. */
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import { resolveMerchant } from '../../../src/providers/alipay/config.ts';
import { DEFAULT_GATEWAY } from '../../../src/providers/alipay/index.ts';
import { merchantConfig, parties } from './support/fixtures.ts';

const p = parties();

describe('alipay merchant config', () => {
  it('reads PKCS#8 and PKCS#1 private keys, and a bare base64 Alipay public key', () => {
    for (const privateKey of [p.app.privatePem, p.app.privatePkcs1Pem]) {
      const merchant = resolveMerchant(
        merchantConfig(p, { privateKey, alipayPublicKey: p.alipay.publicBase64 }),
      );
      expect(merchant.privateKey.asymmetricKeyType).toBe('rsa');
      expect(merchant.alipayPublicKey.export({ type: 'spki', format: 'pem' })).toBe(p.alipay.publicPem);
      expect(merchant.gatewayUrl).toBe(DEFAULT_GATEWAY);
    }
  });

  it('needs one verification mode, not zero or two', () => {
    expect(() => resolveMerchant(merchantConfig(p, { alipayPublicKey: undefined }))).toThrow(PayError);
    expect(() =>
      resolveMerchant(
        merchantConfig(p, { certificates: { appCert: '', alipayCert: '', alipayRootCert: '' } }),
      ),
    ).toThrow(/one of them/);
  });

  it('never echoes key material in its errors', () => {
    const secret = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC';
    try {
      resolveMerchant(
        merchantConfig(p, {
          privateKey: `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----`,
        }),
      );
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PayError);
      expect(JSON.stringify((error as PayError).toResult('en'))).not.toContain(secret);
      expect((error as PayError).message).not.toContain(secret);
    }
  });
});
