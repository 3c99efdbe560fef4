import { createRequire } from 'node:module';
import { Environment, SignedDataVerifier } from '@apple/app-store-server-library';
import { beforeAll, describe, expect, it } from 'vitest';
import { AppleSignedDataVerifier } from '../../../src/providers/appleiap/signed-data.ts';
import { signAppleJws } from '../../../src/sandbox/appleiap/signing.ts';
import { AppleTestCa } from '../../../src/sandbox/appleiap/test-ca.ts';

const BUNDLE = 'com.example.vkpay';

let ca: AppleTestCa;

beforeAll(async () => {
  ca = await AppleTestCa.create();
});

function transaction() {
  const now = Date.now();
  return {
    transactionId: '2000000000000001',
    originalTransactionId: '2000000000000001',
    bundleId: BUNDLE,
    productId: 'coins_60',
    purchaseDate: now,
    originalPurchaseDate: now,
    quantity: 1,
    type: 'Consumable',
    inAppOwnershipType: 'PURCHASED',
    signedDate: now,
    environment: 'Sandbox',
    transactionReason: 'PURCHASE',
    storefront: 'CHN',
    storefrontId: '143465',
    currency: 'CNY',
    price: 6000,
  };
}

describe("Apple's SignedDataVerifier and the emulator's signatures", () => {
  it('verifies a transaction the emulator signs, given the emulator root', async () => {
    const apple = new SignedDataVerifier([ca.rootDer], false, Environment.SANDBOX, BUNDLE);
    const decoded = await apple.verifyAndDecodeTransaction(signAppleJws(transaction(), ca.signingChain));
    expect(decoded.transactionId).toBe('2000000000000001');
    expect(decoded.price).toBe(6000);
  });

  it('verifies a notification the emulator signs', async () => {
    const apple = new SignedDataVerifier([ca.rootDer], false, Environment.SANDBOX, BUNDLE);
    const payload = {
      notificationType: 'TEST',
      notificationUUID: '9ad56bd2-0bc6-42e0-af24-fd996d87a1e6',
      version: '2.0',
      signedDate: Date.now(),
      data: { bundleId: BUNDLE, environment: 'Sandbox' },
    };
    const decoded = await apple.verifyAndDecodeNotification(signAppleJws(payload, ca.signingChain));
    expect(decoded.notificationType).toBe('TEST');
  });

  it('refuses what a chain without the leaf marker signs, as ours does', async () => {
    const apple = new SignedDataVerifier([ca.rootDer], false, Environment.SANDBOX, BUNDLE);
    const chain = await ca.issueChain({ leafWithoutMarker: true });
    await expect(apple.verifyAndDecodeTransaction(signAppleJws(transaction(), chain))).rejects.toThrow();
  });

  it('refuses a chain under another root', async () => {
    const other = await AppleTestCa.create();
    const apple = new SignedDataVerifier([ca.rootDer], false, Environment.SANDBOX, BUNDLE);
    await expect(
      apple.verifyAndDecodeTransaction(signAppleJws(transaction(), other.signingChain)),
    ).rejects.toThrow();
  });

  it("our verifier accepts a JWS made the way Apple's library makes one (jsonwebtoken, x5c header)", async () => {
    // Apple's library signs and reads its JWS with jsonwebtoken: a header with typ, a payload with iat.
    const jsonwebtoken = createRequire(import.meta.url)('jsonwebtoken') as {
      sign(payload: object, key: string, options: object): string;
    };
    const chain = ca.signingChain;
    const jws = jsonwebtoken.sign(
      transaction(),
      chain.leafKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      {
        algorithm: 'ES256',
        header: { alg: 'ES256', x5c: chain.x5c },
      },
    );
    const ours = new AppleSignedDataVerifier({
      rootCertificates: [ca.rootPem],
      bundleId: BUNDLE,
      environment: 'Sandbox',
    });
    const decoded = await ours.verifyTransaction(jws);
    expect(decoded.transactionId).toBe('2000000000000001');
    const apple = new SignedDataVerifier([ca.rootDer], false, Environment.SANDBOX, BUNDLE);
    expect((await apple.verifyAndDecodeTransaction(jws)).transactionId).toBe(decoded.transactionId);
  });
});
