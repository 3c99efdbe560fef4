/**
 * Conformance with an independent client: wechatpay-axios-plugin signs its requests with its own
 * code and verifies our responses (serial lookup, ±300 s, SHA256withRSA) before handing them over.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aes, Wechatpay } from 'wechatpay-axios-plugin';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../../../src/sandbox/wxpay/index.ts';
import type { KeyMode } from '../../../src/sandbox/wxpay/merchants.ts';
import { nativeOrder, registerMerchant, type TestMerchant } from './support/merchant-client.ts';

let running: RunningWxpaySandbox;

beforeAll(async () => {
  running = await startWxpaySandbox({ timeFactor: 0.001 });
});
afterAll(() => running.close());

// biome-ignore lint/suspicious/noExplicitAny: the plugin's chained path API is untyped.
type AnyClient = any;

function clientFor(merchant: TestMerchant, certs: Record<string, string>): AnyClient {
  return new Wechatpay({
    mchid: merchant.mchid,
    serial: merchant.serialNo,
    privateKey: merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certs,
    baseURL: `${running.url}/`,
  });
}

function trustedKeys(merchant: TestMerchant): Record<string, string> {
  const certs: Record<string, string> = {};
  if (merchant.credentials.publicKeyId)
    certs[merchant.credentials.publicKeyId] = merchant.credentials.publicKeyPem!;
  for (const certificate of merchant.credentials.platformCertificates ?? []) {
    certs[certificate.serialNo] = certificate.certificatePem;
  }
  return certs;
}

describe.each<KeyMode>(['publicKey', 'certificate'])('wechatpay-axios-plugin in %s mode', (keyMode) => {
  it('prepays, queries and closes through the emulator with verified responses', async () => {
    const merchant = await registerMerchant(running.app, keyMode);
    const wxpay = clientFor(merchant, trustedKeys(merchant));
    const order = nativeOrder(merchant);

    const created = await wxpay.v3.pay.transactions.native.post(order);
    expect(created.status).toBe(200);
    expect(created.data.code_url).toMatch(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);

    const queried = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
      params: { mchid: merchant.mchid },
      out_trade_no: order.out_trade_no,
    });
    expect(queried.data).toMatchObject({ out_trade_no: order.out_trade_no, trade_state: 'NOTPAY' });

    await running.app.inject({
      method: 'POST',
      url: `/sandbox/trades/${merchant.mchid}/${order.out_trade_no}/pay`,
    });
    const paid = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
      params: { mchid: merchant.mchid },
      out_trade_no: order.out_trade_no,
    });
    expect(paid.data.trade_state).toBe('SUCCESS');
    const byId = await wxpay.v3.pay.transactions.id._transaction_id_.get({
      params: { mchid: merchant.mchid },
      transaction_id: paid.data.transaction_id,
    });
    expect(byId.data.out_trade_no).toBe(order.out_trade_no);

    const refund = await wxpay.v3.refund.domestic.refunds.post({
      transaction_id: paid.data.transaction_id,
      out_refund_no: `R${order.out_trade_no}`,
      amount: { refund: 50, total: 100, currency: 'CNY' },
    });
    expect(refund.data.status).toBe('PROCESSING');

    const other = nativeOrder(merchant);
    await wxpay.v3.pay.transactions.app.post(other);
    const closed = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.close.post(
      { mchid: merchant.mchid },
      { out_trade_no: other.out_trade_no },
    );
    expect(closed.status).toBe(204);
  });

  it('rejects the emulator response when the plugin does not trust the signing key', async () => {
    const merchant = await registerMerchant(running.app, keyMode);
    const wxpay = clientFor(merchant, { PUB_KEY_ID_00000000000000000000000000000000: merchant.publicKeyPem });
    await expect(wxpay.v3.pay.transactions.native.post(nativeOrder(merchant))).rejects.toThrow(
      /EV3_RES_HEADER_PLATFORM_SERIAL|serial/i,
    );
  });
});

describe('wechatpay-axios-plugin against injected faults', () => {
  it('rejects a WECHATPAY/SIGNTEST/ response and a stale one', async () => {
    const merchant = await registerMerchant(running.app, 'publicKey');
    const wxpay = clientFor(merchant, trustedKeys(merchant));
    await running.app.inject({
      method: 'POST',
      url: '/sandbox/faults',
      payload: { kind: 'signTest', mchid: merchant.mchid },
    });
    await expect(wxpay.v3.pay.transactions.native.post(nativeOrder(merchant))).rejects.toThrow(
      /SIGNATURE_DIGEST|signature/i,
    );
    await running.app.inject({
      method: 'POST',
      url: '/sandbox/faults',
      payload: { kind: 'staleTimestamp', mchid: merchant.mchid },
    });
    await expect(wxpay.v3.pay.transactions.native.post(nativeOrder(merchant))).rejects.toThrow(
      /TIMESTAMP_OFFSET|timestamp/i,
    );
    const ok = await wxpay.v3.pay.transactions.native.post(nativeOrder(merchant));
    expect(ok.status).toBe(200);
  });

  it('sees the emulator error body for a rejected request signature', async () => {
    const merchant = await registerMerchant(running.app, 'publicKey');
    const stranger = await registerMerchant(running.app, 'publicKey');
    const wxpay = clientFor({ ...merchant, privateKey: stranger.privateKey }, trustedKeys(merchant));
    const failure = await wxpay.v3.pay.transactions.native
      .post(nativeOrder(merchant))
      .catch((error: AnyClient) => error);
    expect(failure.response.status).toBe(401);
    expect(failure.response.data.code).toBe('SIGN_ERROR');
  });

  it('decrypts the /v3/certificates payload with its own AES-GCM code', async () => {
    const merchant = await registerMerchant(running.app, 'certificate');
    const wxpay = clientFor(merchant, trustedKeys(merchant));
    const { data } = await wxpay.v3.certificates.get();
    const { ciphertext, nonce, associated_data } = data.data[0].encrypt_certificate;
    const pem = Aes.AesGcm.decrypt(ciphertext, merchant.apiV3Key, nonce, associated_data);
    expect(pem).toBe(merchant.credentials.platformCertificates![0]!.certificatePem);
  });
});
