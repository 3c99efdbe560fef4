import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  APIException,
  AppStoreServerAPIClient,
  Environment,
  GetTransactionHistoryVersion,
  SignedDataVerifier,
} from '@apple/app-store-server-library';
import Fastify, { type FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAppleSandbox, startAppleSandbox } from '../../../src/sandbox/appleiap/index.ts';

const BUNDLE = 'com.example.emulator';

let emulator: RunningAppleSandbox;
let receiver: FastifyInstance;
let receiverUrl: string;
const received: { signedPayload: string }[] = [];
let credentials: { issuerId: string; keyId: string; appAppleId: number; privateKeyPem: string };
let answerStatus = 200;

async function control(method: string, path: string, body?: unknown) {
  const response = await fetch(`${emulator.controlUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as any };
}

function appleClient(environment: Environment): AppStoreServerAPIClient {
  const client = new AppStoreServerAPIClient(
    credentials.privateKeyPem,
    credentials.keyId,
    credentials.issuerId,
    BUNDLE,
    environment,
  );
  // The library names Apple's hosts; the emulator stands in for them.
  (client as unknown as { urlBase: string }).urlBase =
    environment === Environment.SANDBOX ? emulator.sandboxUrl : emulator.url;
  return client;
}

async function jwt(
  key: KeyObject | string,
  overrides: { header?: Record<string, unknown>; claims?: Record<string, unknown>; lifetime?: number } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  const privateKey = typeof key === 'string' ? (await import('node:crypto')).createPrivateKey(key) : key;
  return new SignJWT({
    iss: credentials.issuerId,
    iat: now,
    exp: now + (overrides.lifetime ?? 300),
    aud: 'appstoreconnect-v1',
    bid: BUNDLE,
    ...overrides.claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid: credentials.keyId, typ: 'JWT', ...overrides.header })
    .sign(privateKey);
}

beforeAll(async () => {
  emulator = await startAppleSandbox({ timeFactor: 0.0000001 });
  receiver = Fastify();
  receiver.post('/apple', async (request, reply) => {
    received.push(request.body as { signedPayload: string });
    return reply.code(answerStatus).send('');
  });
  await receiver.listen({ host: '127.0.0.1', port: 0 });
  const address = receiver.server.address();
  receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/apple`;
  const registered = await control('POST', '/apps', {
    bundleId: BUNDLE,
    products: [
      { productId: 'coins_60', type: 'Consumable', price: 6000, currency: 'CNY' },
      {
        productId: 'vip_month',
        type: 'Auto-Renewable Subscription',
        price: 25000,
        currency: 'CNY',
        periodDays: 30,
      },
    ],
    notificationUrl: receiverUrl,
    sandboxNotificationUrl: receiverUrl,
  });
  expect(registered.status).toBe(200);
  credentials = registered.json;
});

afterAll(async () => {
  await emulator?.close();
  await receiver?.close();
});

describe('App Store emulator', () => {
  it("serves a sandbox purchase to Apple's own API client, signed so Apple's verifier accepts it", async () => {
    const bought = await control('POST', '/purchases', {
      bundleId: BUNDLE,
      productId: 'coins_60',
      environment: 'Sandbox',
      appAccountToken: '7e3fb20b-4cdb-47cc-936d-99d65f608138',
    });
    expect(bought.status).toBe(200);
    const response = await appleClient(Environment.SANDBOX).getTransactionInfo(bought.json.transactionId);
    const verifier = new SignedDataVerifier(
      [emulator.gateway.ca.rootDer],
      false,
      Environment.SANDBOX,
      BUNDLE,
    );
    const transaction = await verifier.verifyAndDecodeTransaction(response.signedTransactionInfo!);
    expect(transaction).toMatchObject({
      transactionId: bought.json.transactionId,
      productId: 'coins_60',
      price: 6000,
      currency: 'CNY',
      appAccountToken: '7e3fb20b-4cdb-47cc-936d-99d65f608138',
      type: 'Consumable',
    });
  });

  it('the production host answers 4040010 for a sandbox transaction', async () => {
    const bought = await control('POST', '/purchases', { bundleId: BUNDLE, productId: 'coins_60' });
    const error = await appleClient(Environment.PRODUCTION)
      .getTransactionInfo(bought.json.transactionId)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIException);
    expect(error).toMatchObject({ httpStatusCode: 404, apiError: 4040010 });
  });

  it('an invalid transaction id is 4000006', async () => {
    const response = await fetch(`${emulator.sandboxUrl}/inApps/v1/transactions/abc`, {
      headers: { authorization: `Bearer ${await jwt(credentials.privateKeyPem)}` },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ errorCode: 4000006, errorMessage: 'Invalid transaction id.' });
  });

  it('refuses JWTs Apple refuses with 401', async () => {
    const bought = await control('POST', '/purchases', { bundleId: BUNDLE, productId: 'coins_60' });
    const path = `${emulator.sandboxUrl}/inApps/v1/transactions/${bought.json.transactionId}`;
    const get = async (token: string | null) =>
      (await fetch(path, token === null ? {} : { headers: { authorization: `Bearer ${token}` } })).status;
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(await get(await jwt(credentials.privateKeyPem))).toBe(200);
    expect(await get(null)).toBe(401);
    expect(await get(await jwt(otherKey))).toBe(401);
    expect(await get(await jwt(credentials.privateKeyPem, { lifetime: 3601 }))).toBe(401);
    expect(await get(await jwt(credentials.privateKeyPem, { lifetime: -10 }))).toBe(401);
    expect(await get(await jwt(credentials.privateKeyPem, { header: { kid: 'ZZZZZZZZZZ' } }))).toBe(401);
    expect(await get(await jwt(credentials.privateKeyPem, { claims: { aud: 'other' } }))).toBe(401);
    expect(await get(await jwt(credentials.privateKeyPem, { claims: { bid: 'com.other' } }))).toBe(401);
    expect(await get(await jwt(credentials.privateKeyPem, { claims: { iss: 'someone-else' } }))).toBe(401);
  });

  it('a purchase, a renewal, a refund and its reversal each send a signed notification V2', async () => {
    const before = received.length;
    const bought = await control('POST', '/purchases', { bundleId: BUNDLE, productId: 'vip_month' });
    expect(bought.json.notification).toMatchObject({
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
    });
    const id = bought.json.transactionId;
    const verifier = new SignedDataVerifier(
      [emulator.gateway.ca.rootDer],
      false,
      Environment.SANDBOX,
      BUNDLE,
    );
    const renewed = await control('POST', `/transactions/${id}/renew`);
    expect(renewed.status).toBe(200);
    expect(renewed.json.originalTransactionId).toBe(id);
    expect(renewed.json.transactionId).not.toBe(id);
    await control('POST', `/transactions/${renewed.json.transactionId}/refund`);
    await control('POST', `/transactions/${renewed.json.transactionId}/refund-reversed`);
    await control('POST', `/transactions/${id}/expire`);
    await expect.poll(() => received.length - before).toBe(5);
    const decoded = (
      await Promise.all(
        received.slice(before).map((body) => verifier.verifyAndDecodeNotification(body.signedPayload)),
      )
    ).filter((n) => n.notificationType !== 'SUBSCRIBED');
    expect(received.length - before - decoded.length).toBe(1);
    expect(decoded.map((n) => [n.notificationType, n.subtype ?? null])).toEqual([
      ['DID_RENEW', null],
      ['REFUND', null],
      ['REFUND_REVERSED', null],
      ['EXPIRED', 'VOLUNTARY'],
    ]);
    const refunded = await verifier.verifyAndDecodeTransaction(decoded[1]!.data!.signedTransactionInfo!);
    expect(refunded.transactionId).toBe(renewed.json.transactionId);
    expect(refunded.revocationDate).toBeTypeOf('number');
    const history = await appleClient(Environment.SANDBOX).getTransactionHistory(
      id,
      null,
      {},
      GetTransactionHistoryVersion.V2,
    );
    expect(history.signedTransactions).toHaveLength(2);
  });

  it("POST /inApps/v1/notifications/test sends TEST; Apple's client accepts the answer", async () => {
    const before = received.length;
    const answer = await appleClient(Environment.SANDBOX).requestTestNotification();
    expect(answer.testNotificationToken).toBeTruthy();
    await expect.poll(() => received.length - before).toBe(1);
  });

  it('the sandbox tries a refused notification once; production retries on its schedule', async () => {
    answerStatus = 500;
    try {
      const sandbox = await control('POST', '/purchases', { bundleId: BUNDLE, productId: 'coins_60' });
      const production = await control('POST', '/purchases', {
        bundleId: BUNDLE,
        productId: 'coins_60',
        environment: 'Production',
      });
      const sandboxRefund = await control('POST', `/transactions/${sandbox.json.transactionId}/refund`);
      const productionRefund = await control('POST', `/transactions/${production.json.transactionId}/refund`);
      const attempts = async (uuid: string) =>
        (await control('GET', '/notifications')).json.notifications.find(
          (n: { notificationUUID: string }) => n.notificationUUID === uuid,
        ).attempts.length;
      await expect.poll(() => attempts(productionRefund.json.notification.notificationUUID)).toBe(6);
      expect(await attempts(sandboxRefund.json.notification.notificationUUID)).toBe(1);
    } finally {
      answerStatus = 200;
    }
  });
});
