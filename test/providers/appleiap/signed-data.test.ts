import { beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import {
  AppleSignedDataVerifier,
  type SignedDataSettings,
} from '../../../src/providers/appleiap/signed-data.ts';
import { signAppleJws } from '../../../src/sandbox/appleiap/signing.ts';
import { AppleTestCa } from '../../../src/sandbox/appleiap/test-ca.ts';

const BUNDLE = 'com.example.vkpay';
const APP_APPLE_ID = 1234567890;

let ca: AppleTestCa;
let otherCa: AppleTestCa;

beforeAll(async () => {
  ca = await AppleTestCa.create();
  otherCa = await AppleTestCa.create();
});

function transaction(overrides: Record<string, unknown> = {}) {
  const now = Date.now();
  return {
    transactionId: '2000000123456789',
    originalTransactionId: '2000000123456789',
    bundleId: BUNDLE,
    productId: 'coins_60',
    purchaseDate: now - 1000,
    originalPurchaseDate: now - 1000,
    quantity: 1,
    type: 'Consumable',
    inAppOwnershipType: 'PURCHASED',
    signedDate: now,
    environment: 'Sandbox',
    transactionReason: 'PURCHASE',
    storefront: 'CHN',
    currency: 'CNY',
    price: 6000,
    ...overrides,
  };
}

function verifier(settings: Partial<SignedDataSettings> = {}) {
  return new AppleSignedDataVerifier({
    rootCertificates: [ca.rootPem],
    bundleId: BUNDLE,
    environment: 'Sandbox',
    ...settings,
  });
}

async function refusal(promise: Promise<unknown>): Promise<{ code: number; gatewayCode?: string }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(PayError);
    const payError = error as PayError;
    return { code: payError.code, gatewayCode: payError.gatewayCode };
  }
  throw new Error('expected a refusal');
}

describe('App Store signed data', () => {
  it('a transaction signed under the trusted root verifies and decodes', async () => {
    const decoded = await verifier().verifyTransaction(signAppleJws(transaction(), ca.signingChain));
    expect(decoded.transactionId).toBe('2000000123456789');
    expect(decoded.productId).toBe('coins_60');
    expect(decoded.price).toBe(6000);
  });

  it('a tampered payload does not verify', async () => {
    const [header, , signature] = signAppleJws(transaction(), ca.signingChain).split('.');
    const forged = Buffer.from(JSON.stringify(transaction({ productId: 'coins_6480' }))).toString(
      'base64url',
    );
    expect(await refusal(verifier().verifyTransaction(`${header}.${forged}.${signature}`))).toEqual({
      code: 40002,
      gatewayCode: 'VERIFICATION_FAILURE',
    });
  });

  it('a chain under another root is refused, even with that root in its own x5c', async () => {
    expect(
      await refusal(verifier().verifyTransaction(signAppleJws(transaction(), otherCa.signingChain))),
    ).toEqual({ code: 40002, gatewayCode: 'INVALID_CHAIN' });
  });

  it('a leaf of the other CA grafted on our intermediate is refused', async () => {
    const chain = otherCa.signingChain;
    const grafted = {
      leafKey: chain.leafKey,
      x5c: [chain.x5c[0], ca.signingChain.x5c[1], ca.signingChain.x5c[2]],
    };
    expect(
      await refusal(verifier().verifyTransaction(signAppleJws(transaction(), grafted as typeof chain))),
    ).toMatchObject({ code: 40002 });
  });

  it('a chain of two certificates is refused', async () => {
    const chain = ca.signingChain;
    const short = { leafKey: chain.leafKey, x5c: [chain.x5c[0], chain.x5c[1]] };
    expect(
      await refusal(
        verifier().verifyTransaction(signAppleJws(transaction(), short as unknown as typeof chain)),
      ),
    ).toEqual({ code: 40002, gatewayCode: 'INVALID_CHAIN_LENGTH' });
  });

  it('a leaf without the App Store marker OID is refused', async () => {
    const chain = await ca.issueChain({ leafWithoutMarker: true });
    expect(await refusal(verifier().verifyTransaction(signAppleJws(transaction(), chain)))).toEqual({
      code: 40002,
      gatewayCode: 'INVALID_MARKER',
    });
  });

  it('an intermediate without the WWDR marker OID is refused', async () => {
    const chain = await ca.issueChain({ intermediateWithoutMarker: true });
    expect(await refusal(verifier().verifyTransaction(signAppleJws(transaction(), chain)))).toEqual({
      code: 40002,
      gatewayCode: 'INVALID_MARKER',
    });
  });

  it('a leaf expired at signedDate is refused; valid at an earlier signedDate it verifies', async () => {
    const now = Date.now();
    const chain = await ca.issueChain({
      leafNotBefore: now - 10 * 86_400_000,
      leafNotAfter: now - 86_400_000,
    });
    expect(await refusal(verifier().verifyTransaction(signAppleJws(transaction(), chain)))).toEqual({
      code: 40002,
      gatewayCode: 'CERTIFICATE_EXPIRED',
    });
    const early = await verifier().verifyTransaction(
      signAppleJws(transaction({ signedDate: now - 5 * 86_400_000 }), chain),
    );
    expect(early.signedDate).toBe(now - 5 * 86_400_000);
  });

  it('a chain verified once is remembered, yet each JWS on it still has its dates and signature checked', async () => {
    const now = Date.now();
    const chain = await ca.issueChain({
      leafNotBefore: now - 10 * 86_400_000,
      leafNotAfter: now - 86_400_000,
    });
    const one = verifier();
    // Verified (and remembered) at an earlier signedDate...
    await one.verifyTransaction(signAppleJws(transaction({ signedDate: now - 5 * 86_400_000 }), chain));
    // ...the same chain past the leaf's expiry is still refused by the same verifier,
    expect(await refusal(one.verifyTransaction(signAppleJws(transaction(), chain)))).toEqual({
      code: 40002,
      gatewayCode: 'CERTIFICATE_EXPIRED',
    });
    // and a tampered payload on a remembered chain does not verify.
    const [header, , signature] = signAppleJws(
      transaction({ signedDate: now - 5 * 86_400_000 }),
      chain,
    ).split('.');
    const forged = Buffer.from(
      JSON.stringify(transaction({ signedDate: now - 5 * 86_400_000, price: 1 })),
    ).toString('base64url');
    expect(await refusal(one.verifyTransaction(`${header}.${forged}.${signature}`))).toEqual({
      code: 40002,
      gatewayCode: 'VERIFICATION_FAILURE',
    });
  });

  it('another algorithm in the header is refused', async () => {
    const [, payload, signature] = signAppleJws(transaction(), ca.signingChain).split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', x5c: ca.signingChain.x5c })).toString(
      'base64url',
    );
    expect(await refusal(verifier().verifyTransaction(`${header}.${payload}.${signature}`))).toMatchObject({
      code: 40002,
    });
  });

  it('another bundle id is refused as another app', async () => {
    const jws = signAppleJws(transaction({ bundleId: 'com.other.app' }), ca.signingChain);
    expect(await refusal(verifier().verifyTransaction(jws))).toEqual({
      code: 40001,
      gatewayCode: 'INVALID_APP_IDENTIFIER',
    });
  });

  it('a sandbox transaction is refused by a production verifier', async () => {
    const jws = signAppleJws(transaction(), ca.signingChain);
    const production = verifier({ environment: 'Production', appAppleId: APP_APPLE_ID });
    expect(await refusal(production.verifyTransaction(jws))).toEqual({
      code: 40001,
      gatewayCode: 'INVALID_ENVIRONMENT',
    });
  });

  it('a production notification must name the configured app apple id', async () => {
    const notification = (appAppleId: number) => ({
      notificationType: 'TEST',
      notificationUUID: '5f3c3a3e-6a1b-4f55-9c3f-0a1b2c3d4e5f',
      version: '2.0',
      signedDate: Date.now(),
      data: { appAppleId, bundleId: BUNDLE, environment: 'Production' },
    });
    const production = verifier({ environment: 'Production', appAppleId: APP_APPLE_ID });
    const ok = await production.verifyNotification(signAppleJws(notification(APP_APPLE_ID), ca.signingChain));
    expect(ok.notificationType).toBe('TEST');
    expect(
      await refusal(production.verifyNotification(signAppleJws(notification(42), ca.signingChain))),
    ).toEqual({ code: 40001, gatewayCode: 'INVALID_APP_IDENTIFIER' });
  });

  it('renewal info is checked for its environment', async () => {
    const info = {
      originalTransactionId: '2000000123456789',
      productId: 'vip_month',
      autoRenewProductId: 'vip_month',
      autoRenewStatus: 1,
      signedDate: Date.now(),
      environment: 'Sandbox',
    };
    expect((await verifier().verifyRenewalInfo(signAppleJws(info, ca.signingChain))).productId).toBe(
      'vip_month',
    );
    const production = verifier({ environment: 'Production', appAppleId: APP_APPLE_ID });
    expect(await refusal(production.verifyRenewalInfo(signAppleJws(info, ca.signingChain)))).toMatchObject({
      code: 40001,
    });
  });

  it('garbage is refused with 40002, never an exception of another kind', async () => {
    for (const input of ['', 'a.b', 'a.b.c', '..', `${'x'.repeat(20)}.${'y'.repeat(20)}.z`]) {
      expect((await refusal(verifier().verifyTransaction(input))).code).toBe(40002);
    }
  });
});
