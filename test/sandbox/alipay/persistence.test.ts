import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { AlipayGateway, alipaySandboxPlugin, SANDBOX_PATH } from '../../../src/sandbox/alipay/index.ts';
import {
  controlJson,
  parseResponse,
  postForm,
  registerTestApp,
  rsa2Verify,
  signedRequest,
  type TestApp,
} from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'vkpay-alipay-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The emulator on a socket, its gateway keeping its state in `file`. */
async function persistedSandbox(file: string) {
  const gateway = await AlipayGateway.create({ timeFactor: 0.001 });
  await gateway.persistTo(file);
  const server = Fastify({ forceCloseConnections: true });
  await server.register(alipaySandboxPlugin({ gateway }));
  await server.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return { gateway, server, gatewayUrl: `${url}/gateway.do`, controlUrl: `${url}${SANDBOX_PATH}` };
}

/** A signed call from `app` to another emulator than the one it registered with. */
async function callOn(gatewayUrl: string, app: TestApp, method: string, biz: Record<string, unknown>) {
  const certParams: Record<string, string> =
    app.credentials.keyMode === 'certificate'
      ? { app_cert_sn: app.credentials.appCertSn!, alipay_root_cert_sn: app.credentials.alipayRootCertSn! }
      : {};
  const { text } = await postForm(
    gatewayUrl,
    signedRequest(app.appId, method, biz, app.keys.privateKey, certParams),
  );
  return parseResponse(text, `${method.replace(/\./g, '_')}_response`);
}

describe('emulator state in a file', () => {
  it('keeps apps with their keys and certificates, trades, refunds and the clock across a restart', async () => {
    const file = join(dir, 'sandbox', 'alipay.json');
    const first = await persistedSandbox(file);
    const app = await registerTestApp(first);
    const certApp = await registerTestApp(first, 'certificate');
    await app.call('alipay.trade.precreate', {
      out_trade_no: 'KEEP-1',
      total_amount: '10.00',
      subject: 'kept',
    });
    await controlJson(`${first.controlUrl}/trades/${app.appId}/KEEP-1/scan`, {});
    await controlJson(`${first.controlUrl}/trades/${app.appId}/KEEP-1/pay`, {});
    await app.call('alipay.trade.refund', {
      out_trade_no: 'KEEP-1',
      refund_amount: '3.00',
      out_request_no: 'KEEP-1-R',
    });
    await app.call('alipay.trade.create', {
      out_trade_no: 'KEEP-2',
      total_amount: '2.00',
      subject: 'waiting',
      buyer_id: '2088000000000007',
    });
    await controlJson(`${first.controlUrl}/clock`, { offsetMs: 2000 });
    await first.server.close();
    expect(statSync(file).mode & 0o077).toBe(0);

    const second = await persistedSandbox(file);
    try {
      const query = await callOn(second.gatewayUrl, app, 'alipay.trade.query', { out_trade_no: 'KEEP-1' });
      expect(query.inner).toMatchObject({
        code: '10000',
        trade_status: 'TRADE_SUCCESS',
        total_amount: '10.00',
      });
      // Signed with the same Alipay key the app was given.
      expect(rsa2Verify(query.signedText, query.sign!, app.credentials.alipayPublicKey!)).toBe(true);
      const refund = await callOn(second.gatewayUrl, app, 'alipay.trade.fastpay.refund.query', {
        out_trade_no: 'KEEP-1',
        out_request_no: 'KEEP-1-R',
      });
      expect(refund.inner).toMatchObject({ refund_status: 'REFUND_SUCCESS', refund_amount: '3.00' });
      const paid = await controlJson<{ tradeStatus: string; refundableFen: number }>(
        `${second.controlUrl}/trades/${app.appId}/KEEP-2/pay`,
        {},
      );
      expect(paid.json.tradeStatus).toBe('TRADE_SUCCESS');
      // Certificate mode: the same SNs are accepted, and answers carry the same Alipay certificate.
      const certQuery = await callOn(second.gatewayUrl, certApp, 'alipay.trade.query', {
        out_trade_no: 'NONE',
      });
      expect(certQuery.inner.sub_code).toBe('ACQ.TRADE_NOT_EXIST');
      expect(certQuery.alipayCertSn).toBe(certApp.credentials.alipayCertSn);
      const again = await controlJson<Record<string, string>>(`${second.controlUrl}/apps/${certApp.appId}`);
      expect(again.json.alipayRootCertSn).toBe(certApp.credentials.alipayRootCertSn);
      expect((await controlJson<{ offsetMs: number }>(`${second.controlUrl}/clock`)).json.offsetMs).toBe(
        2000,
      );
      // The same test CA issues a renewed certificate.
      const renewed = await controlJson<Record<string, string>>(
        `${second.controlUrl}/apps/${certApp.appId}/rotate-alipay-cert`,
        {},
      );
      expect(renewed.json.alipayRootCertSn).toBe(certApp.credentials.alipayRootCertSn);
    } finally {
      await second.server.close();
    }
  });

  it('starts empty without a file, and writes one after the first change', async () => {
    const file = join(dir, 'fresh', 'alipay.json');
    const sandbox = await persistedSandbox(file);
    try {
      expect(existsSync(file)).toBe(false);
      await registerTestApp(sandbox);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(existsSync(file)).toBe(true);
    } finally {
      await sandbox.server.close();
    }
  });
});
