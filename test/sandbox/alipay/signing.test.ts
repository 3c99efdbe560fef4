import { describe, expect, it } from 'vitest';
import {
  alipayJson,
  corruptSignature,
  notifySigningString,
  requestSigningString,
  signedResponseBody,
  signRsa2,
  verifyRsa2,
} from '../../../src/sandbox/alipay/signing.ts';
import { generateAppKeys, parseResponse, rsa2Verify } from './helpers.ts';

const C3_PARAMS = {
  app_id: '2021000000000000',
  method: 'alipay.trade.query',
  format: 'JSON',
  charset: 'utf-8',
  sign_type: 'RSA2',
  timestamp: '2024-01-01 12:00:00',
  version: '1.0',
  biz_content: '{"out_trade_no":"T20240101000001"}',
};

describe('Alipay signing strings (protocols.md C.3 and C.7)', () => {
  it('builds the request string of the C.3 vector: sorted, raw values, sign_type kept', () => {
    expect(requestSigningString({ ...C3_PARAMS, sign: 'ignored' })).toBe(
      'app_id=2021000000000000&biz_content={"out_trade_no":"T20240101000001"}&charset=utf-8&format=JSON&method=alipay.trade.query&sign_type=RSA2&timestamp=2024-01-01 12:00:00&version=1.0',
    );
  });

  it('leaves empty values out of the request string', () => {
    const text = requestSigningString({ ...C3_PARAMS, notify_url: '', app_auth_token: '' });
    expect(text).not.toContain('notify_url');
    expect(text).not.toContain('app_auth_token');
    expect(text).toBe(requestSigningString(C3_PARAMS));
  });

  it('leaves sign and sign_type out of the notification string', () => {
    const text = notifySigningString({
      b: '2',
      a: '1',
      sign: 'x',
      sign_type: 'RSA2',
      fund_bill_list: '[{"a":"%"}]',
    });
    expect(text).toBe('a=1&b=2&fund_bill_list=[{"a":"%"}]');
  });

  it('reproduces the return_url vector of C.7 from its parameters', () => {
    const text = notifySigningString({
      charset: 'utf-8',
      out_trade_no: '1703141270',
      method: 'alipay.trade.page.pay.return',
      total_amount: '0.01',
      sign: 'whatever',
      trade_no: '2023122122001499160501586202',
      auth_app_id: '9021000122682882',
      version: '1.0',
      app_id: '9021000122682882',
      sign_type: 'RSA2',
      seller_id: '2088721003899159',
      timestamp: '2023-12-21 14:48:44',
    });
    expect(text).toBe(
      'app_id=9021000122682882&auth_app_id=9021000122682882&charset=utf-8&method=alipay.trade.page.pay.return&out_trade_no=1703141270&seller_id=2088721003899159&timestamp=2023-12-21 14:48:44&total_amount=0.01&trade_no=2023122122001499160501586202&version=1.0',
    );
  });

  it('verifies a good RSA2 signature and rejects a corrupted or malformed one', () => {
    const keys = generateAppKeys();
    const content = requestSigningString(C3_PARAMS);
    const sign = signRsa2(content, keys.privateKey);
    expect(verifyRsa2(content, sign, keys.publicKey)).toBe(true);
    expect(rsa2Verify(content, sign, keys.publicKeyPem)).toBe(true);
    expect(verifyRsa2(`${content}x`, sign, keys.publicKey)).toBe(false);
    expect(verifyRsa2(content, corruptSignature(sign), keys.publicKey)).toBe(false);
    expect(verifyRsa2(content, 'not base64 at all!', keys.publicKey)).toBe(false);
    expect(verifyRsa2(content, sign, generateAppKeys().publicKey)).toBe(false);
  });

  it('escapes / as \\/ in response JSON, as Alipay does', () => {
    expect(alipayJson({ qr_code: 'https://qr.alipay.com/bax' })).toBe(
      '{"qr_code":"https:\\/\\/qr.alipay.com\\/bax"}',
    );
  });

  it('signs the exact bytes it embeds in the response body, with alipay_cert_sn in certificate mode', () => {
    const keys = generateAppKeys();
    const body = signedResponseBody(
      'alipay_trade_precreate_response',
      { code: '10000', msg: 'Success', qr_code: 'https://x/y' },
      { privateKey: keys.privateKey, alipayCertSn: 'abc123' },
    );
    const parsed = parseResponse(body, 'alipay_trade_precreate_response');
    expect(parsed.signedText).toBe('{"code":"10000","msg":"Success","qr_code":"https:\\/\\/x\\/y"}');
    expect(parsed.alipayCertSn).toBe('abc123');
    expect(rsa2Verify(parsed.signedText, parsed.sign!, keys.publicKeyPem)).toBe(true);
    expect(parsed.inner.qr_code).toBe('https://x/y');
  });
});
