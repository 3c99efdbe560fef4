import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildSandbox,
  nativeOrder,
  registerMerchant,
  type SandboxUnderTest,
  signedCall,
  verifyGatewaySignature,
} from './support/merchant-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'vkpay-wxpay-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function persistedSandbox(file: string): Promise<SandboxUnderTest> {
  const sandbox = await buildSandbox();
  await sandbox.gateway.persistTo(file);
  return sandbox;
}

describe('emulator state in a file', () => {
  it('keeps merchants, platform certificates, trades, refunds and the clock across a restart', async () => {
    const file = join(dir, 'sandbox', 'wxpay.json');
    const first = await persistedSandbox(file);
    const merchant = await registerMerchant(first.app, 'certificate', { refundSpacing: false });
    const order = nativeOrder(merchant, { amount: { total: 300, currency: 'CNY' } });
    await signedCall(first.app, merchant, 'POST', '/v3/pay/transactions/native', order);
    await first.app.inject({
      method: 'POST',
      url: `/sandbox/trades/${merchant.mchid}/${order.out_trade_no}/pay`,
    });
    const refund = await signedCall(first.app, merchant, 'POST', '/v3/refund/domestic/refunds', {
      out_trade_no: order.out_trade_no,
      out_refund_no: `${order.out_trade_no}R`,
      amount: { refund: 100, total: 300 },
    });
    expect(refund.status).toBe(200);
    const unpaid = nativeOrder(merchant);
    await signedCall(first.app, merchant, 'POST', '/v3/pay/transactions/native', unpaid);
    const rotated = (await first.app.inject({ method: 'POST', url: '/sandbox/certificates/rotate' })).json();
    await first.app.inject({ method: 'POST', url: '/sandbox/clock', payload: { offsetMs: 1000 } });
    await first.app.close();
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o077).toBe(0);

    const second = await persistedSandbox(file);
    try {
      const query = await signedCall(
        second.app,
        merchant,
        'GET',
        `/v3/pay/transactions/out-trade-no/${order.out_trade_no}?mchid=${merchant.mchid}`,
      );
      expect(query.status).toBe(200);
      expect(query.json()).toMatchObject({ trade_state: 'REFUND', amount: { total: 300 } });
      // Still signed by the platform certificate the merchant was given at registration.
      expect(query.headers['wechatpay-serial']).toBe(merchant.credentials.platformCertificates![0]!.serialNo);
      expect(verifyGatewaySignature(merchant, query.headers, query.body)).toBe(true);
      const refundQuery = await signedCall(
        second.app,
        merchant,
        'GET',
        `/v3/refund/domestic/refunds/${order.out_trade_no}R`,
      );
      expect(refundQuery.json()).toMatchObject({ status: 'PROCESSING', refund_id: refund.json().refund_id });
      // The unpaid order can still be paid; its refundable amount is known.
      const paid = await second.app.inject({
        method: 'POST',
        url: `/sandbox/trades/${merchant.mchid}/${unpaid.out_trade_no}/pay`,
      });
      expect(paid.json().transaction.trade_state).toBe('SUCCESS');
      const view = await second.app.inject({
        url: `/sandbox/trades/${merchant.mchid}/${order.out_trade_no}`,
      });
      expect(view.json().refundable).toBe(200);
      // The rotated certificate is still listed and still waits for its switch.
      const listed = await signedCall(second.app, merchant, 'GET', '/v3/certificates');
      const serials = listed.json().data.map((entry: { serial_no: string }) => entry.serial_no);
      expect(serials).toContain(rotated.serialNo);
      expect((await second.app.inject({ url: '/sandbox/clock' })).json().offsetMs).toBe(1000);
      // The same test CA issues the next certificate.
      const next = (
        await second.app.inject({
          method: 'POST',
          url: '/sandbox/certificates/rotate',
          payload: { switchAfterMs: 0 },
        })
      ).json();
      const authority = new X509Certificate(merchant.credentials.caCertificatePem!);
      expect(new X509Certificate(next.certificatePem).verify(authority.publicKey)).toBe(true);
    } finally {
      await second.app.close();
    }
  });

  it('starts empty without a file, and writes one after the first change', async () => {
    const file = join(dir, 'fresh', 'wxpay.json');
    const sandbox = await persistedSandbox(file);
    try {
      expect(existsSync(file)).toBe(false);
      await registerMerchant(sandbox.app);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(existsSync(file)).toBe(true);
    } finally {
      await sandbox.app.close();
    }
  });
});
