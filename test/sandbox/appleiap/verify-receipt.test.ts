import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAppleSandbox, startAppleSandbox } from '../../../src/sandbox/appleiap/index.ts';

const BUNDLE = 'com.example.receipts';

describe('App Store emulator: legacy verifyReceipt', () => {
  let emulator: RunningAppleSandbox;
  let sharedSecret: string;

  const control = async (path: string, body: unknown) => {
    const response = await fetch(`${emulator.controlUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as any };
  };
  const verify = async (host: 'production' | 'sandbox', body: unknown, contentType = 'application/json') => {
    const base = host === 'production' ? emulator.url : emulator.sandboxUrl;
    const response = await fetch(`${base}/verifyReceipt`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as any;
  };

  beforeAll(async () => {
    emulator = await startAppleSandbox();
    const registered = await control('/apps', {
      bundleId: BUNDLE,
      products: [
        { productId: 'coins_60', type: 'Consumable', price: 6000, currency: 'CNY' },
        { productId: 'vip_month', type: 'Auto-Renewable Subscription', price: 25000, currency: 'CNY' },
      ],
    });
    sharedSecret = registered.json.sharedSecret;
    expect(sharedSecret).toMatch(/^[0-9a-f]{32}$/);
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("verifies a receipt it issued on its environment's host, with its purchases in Apple's legacy fields", async () => {
    const bought = await control('/purchases', { bundleId: BUNDLE, productId: 'coins_60', quantity: 2 });
    const answer = await verify('sandbox', { 'receipt-data': bought.json.receipt, password: sharedSecret });
    expect(answer).toMatchObject({
      status: 0,
      environment: 'Sandbox',
      receipt: {
        bundle_id: BUNDLE,
        in_app: [
          {
            product_id: 'coins_60',
            quantity: '2',
            transaction_id: bought.json.transactionId,
            original_transaction_id: bought.json.transactionId,
          },
        ],
      },
    });
    expect(answer.receipt.in_app[0].purchase_date_ms).toMatch(/^[0-9]+$/);
    // Without the password too: a receipt without subscriptions needs none.
    expect((await verify('sandbox', { 'receipt-data': bought.json.receipt })).status).toBe(0);
    // Apple reads the body whatever its content type.
    expect(
      (await verify('sandbox', JSON.stringify({ 'receipt-data': bought.json.receipt }), 'text/plain')).status,
    ).toBe(0);
  });

  it('answers 21007 for a sandbox receipt on production and 21008 for the reverse', async () => {
    const sandbox = await control('/purchases', { bundleId: BUNDLE, productId: 'coins_60' });
    const production = await control('/purchases', {
      bundleId: BUNDLE,
      productId: 'coins_60',
      environment: 'Production',
    });
    expect((await verify('production', { 'receipt-data': sandbox.json.receipt })).status).toBe(21007);
    expect((await verify('sandbox', { 'receipt-data': production.json.receipt })).status).toBe(21008);
    expect((await verify('production', { 'receipt-data': production.json.receipt })).status).toBe(0);
  });

  it('answers 21002 for what is no receipt, 21003 for one it never issued, 21004 for a wrong shared secret', async () => {
    for (const body of [
      {},
      { 'receipt-data': 12 },
      { 'receipt-data': 'not base64!' },
      { 'receipt-data': 'aGVsbG8=' },
    ])
      expect((await verify('sandbox', body)).status, JSON.stringify(body)).toBe(21002);
    expect((await verify('sandbox', '{not json')).status).toBe(21002);
    const forged = Buffer.from(`vkpay-appstore-receipt-v1:${randomBytes(24).toString('hex')}`).toString(
      'base64',
    );
    expect((await verify('sandbox', { 'receipt-data': forged })).status).toBe(21003);
    const bought = await control('/purchases', { bundleId: BUNDLE, productId: 'coins_60' });
    expect(
      (await verify('sandbox', { 'receipt-data': bought.json.receipt, password: '0'.repeat(32) })).status,
    ).toBe(21004);
  });

  it('needs the shared secret for subscriptions, and lists their renewals in latest_receipt_info', async () => {
    const bought = await control('/purchases', { bundleId: BUNDLE, productId: 'vip_month' });
    const renewed = await control(`/transactions/${bought.json.transactionId}/renew`, {});
    expect((await verify('sandbox', { 'receipt-data': bought.json.receipt })).status).toBe(21004);
    const answer = await verify('sandbox', { 'receipt-data': bought.json.receipt, password: sharedSecret });
    expect(answer.status).toBe(0);
    expect(answer.latest_receipt_info.map((entry: any) => entry.transaction_id)).toEqual([
      renewed.json.transactionId,
      bought.json.transactionId,
    ]);
    expect(answer.latest_receipt_info[0]).toMatchObject({
      original_transaction_id: bought.json.transactionId,
      expires_date_ms: expect.stringMatching(/^[0-9]+$/),
    });
    const several = await control('/receipts', {
      transactionIds: [bought.json.transactionId, renewed.json.transactionId],
    });
    expect(several.status).toBe(200);
    const both = await verify('sandbox', { 'receipt-data': several.json.receipt, password: sharedSecret });
    expect(both.receipt.in_app).toHaveLength(2);
  });
});
