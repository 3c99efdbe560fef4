/**
 * Our wire output checked by wechatpay-axios-plugin's helpers (an independent implementation):
 * the Authorization signature, the client paySign, and AES-GCM resources both ways.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aes, Formatter, Rsa } from 'wechatpay-axios-plugin';
import { decryptResource, encryptResource } from '../../../src/providers/wxpay/aead.ts';
import { API_V3_KEY, APP_ID, parties, provider } from './support/fixtures.ts';
import { startGateway, type TestGateway } from './support/gateway.ts';
import { parseAuthorization } from './support/signer.ts';

const p = parties();
const clock = { now: Date.now() };
const merchantPublicKey = Rsa.fromSpki(p.merchant.publicPem.replace(/-----[^-]+-----|\s/g, ''));
let gateway: TestGateway;
const verdicts: boolean[] = [];

beforeAll(async () => {
  gateway = await startGateway({
    key: p.signer,
    clockMs: () => clock.now,
    script: (request) => {
      const auth = parseAuthorization(request.headers.authorization as string);
      const message = Formatter.request(
        request.method,
        request.url,
        auth!.timestamp,
        auth!.nonce_str,
        request.body,
      );
      const ok = Rsa.verify(message, auth!.signature, merchantPublicKey);
      verdicts.push(ok);
      if (!ok) return { status: 401, body: { code: 'SIGN_ERROR', message: '错误的签名，验签失败' } };
      if (request.url.startsWith('/v3/pay/transactions/jsapi'))
        return { status: 200, body: { prepay_id: 'wx2024' } };
      return {
        status: 200,
        body: { out_trade_no: 'T20240001', trade_state: 'NOTPAY', amount: { total: 1 } },
      };
    },
  });
});
afterAll(() => gateway.close());

describe('wechatpay-axios-plugin conformance', () => {
  it('verifies our Authorization on GET (empty body line) and POST', async () => {
    const wx = provider(p, gateway.baseUrl, clock);
    await wx.queryPayment({ merchantId: 'm1', outTradeNo: 'T20240001' });
    const created = await wx.createPayment({
      merchantId: 'm1',
      outTradeNo: 'T20240001',
      totalFen: 1,
      subject: '测试 "quotes" & ünïcode',
      scene: 'jsapi',
      openid: 'o1',
      notifyUrl: 'https://pay.example.com/n',
    });
    expect(verdicts).toEqual([true, true]);
    const client = created.client as Extract<typeof created.client, { paySign: string }>;
    const message = Formatter.joinedByLineFeed(APP_ID, client.timeStamp, client.nonceStr, client.package);
    expect(Rsa.verify(message, client.paySign, merchantPublicKey)).toBe(true);
  });

  it('encrypts and decrypts AES-GCM resources the same way', () => {
    const key = Buffer.from(API_V3_KEY);
    const ours = encryptResource('{"a":"支付"}', key, '0123456789ab', 'transaction');
    expect(Aes.AesGcm.decrypt(ours, API_V3_KEY, '0123456789ab', 'transaction')).toBe('{"a":"支付"}');
    const theirs = Aes.AesGcm.encrypt('{"b":1}', API_V3_KEY, 'ba9876543210', '');
    expect(
      decryptResource({ ciphertext: theirs, nonce: 'ba9876543210', associated_data: '' }, key, 40002),
    ).toBe('{"b":1}');
  });
});
