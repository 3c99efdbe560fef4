/** Merchant configuration is checked at start-up, and a bad key never ends up in the error. */
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import { createWxpayProvider } from '../../../src/providers/wxpay/index.ts';
import { merchantConfig, parties } from './support/fixtures.ts';

const p = parties();

const failure = (run: () => unknown): PayError => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PayError);
    return error as PayError;
  }
  throw new Error('expected a PayError');
};

describe('wxpay merchant config', () => {
  it('rejects an APIv3 key that is not 32 bytes, without echoing it', () => {
    const error = failure(() =>
      createWxpayProvider({ merchants: [merchantConfig(p, { apiV3Key: 'short-secret-key' })] }),
    );
    expect(error).toMatchObject({ code: 40003, field: 'apiV3Key' });
    expect(JSON.stringify({ m: error.message, r: error.toResult() })).not.toContain('short-secret-key');
  });

  it('rejects an unreadable private key without echoing it', () => {
    const error = failure(() =>
      createWxpayProvider({
        merchants: [
          merchantConfig(p, {
            privateKey: '-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----',
          }),
        ],
      }),
    );
    expect(error).toMatchObject({ code: 40003, field: 'privateKey' });
    expect(error.message).not.toContain('SECRETSECRET');
  });

  it('needs a way to verify WeChat Pay, a PUB_KEY_ID_ public key id, and unique merchant ids', () => {
    expect(
      failure(() =>
        createWxpayProvider({ merchants: [merchantConfig(p, { wechatpayPublicKey: undefined })] }),
      ).code,
    ).toBe(40003);
    expect(
      failure(() =>
        createWxpayProvider({
          merchants: [merchantConfig(p, { wechatpayPublicKey: { id: 'ABC', pem: p.wechatpay.publicPem } })],
        }),
      ).field,
    ).toBe('wechatpayPublicKey.id');
    expect(
      failure(() => createWxpayProvider({ merchants: [merchantConfig(p), merchantConfig(p)] })).field,
    ).toBe('merchantId');
  });
});
