import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import {
  generateAppKeys,
  parseResponse,
  postForm,
  registerTestApp,
  rsa2Sign,
  rsa2Verify,
  signedRequest,
  type TestApp,
  testRequestSigningString,
} from './helpers.ts';

describe('gateway.do: parameters, signatures and signed responses', () => {
  let sandbox: RunningAlipaySandbox;
  let app: TestApp;
  let certApp: TestApp;

  beforeAll(async () => {
    sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
    app = await registerTestApp(sandbox);
    certApp = await registerTestApp(sandbox, 'certificate');
  });
  afterAll(async () => sandbox.close());

  it('accepts a well-signed request and signs the exact bytes of its response', async () => {
    const result = await app.call('alipay.trade.precreate', {
      out_trade_no: 'G-1',
      total_amount: '0.01',
      subject: 'gw',
    });
    expect(result.status).toBe(200);
    expect(result.inner).toMatchObject({ code: '10000', msg: 'Success', out_trade_no: 'G-1' });
    expect(result.body).toContain('\\/sandbox\\/alipay\\/qr\\/');
    expect(rsa2Verify(result.signedText, result.sign!, app.credentials.alipayPublicKey!)).toBe(true);
    expect(result.alipayCertSn).toBeUndefined();
  });

  it('merges the query string and the form body, as the official SDK splits them', async () => {
    const params = signedRequest(
      app.appId,
      'alipay.trade.precreate',
      { out_trade_no: 'G-2', total_amount: '1.50', subject: 'split' },
      app.keys.privateKey,
    );
    const { biz_content, ...common } = params;
    const url = `${sandbox.gatewayUrl}?${new URLSearchParams(common).toString()}`;
    const { text } = await postForm(url, { biz_content: biz_content! });
    expect(parseResponse(text, 'alipay_trade_precreate_response').inner.code).toBe('10000');
  });

  it('answers a bad signature with 40002 isv.invalid-signature and the string it built', async () => {
    const params = signedRequest(
      app.appId,
      'alipay.trade.query',
      { out_trade_no: 'X' },
      generateAppKeys().privateKey,
    );
    const { text } = await postForm(sandbox.gatewayUrl, params);
    const parsed = parseResponse(text, 'alipay_trade_query_response');
    expect(parsed.inner).toMatchObject({
      code: '40002',
      msg: 'Invalid Arguments',
      sub_code: 'isv.invalid-signature',
    });
    const expected = testRequestSigningString(params).replace(/&/g, '&amp;');
    expect(parsed.inner.sub_msg).toContain(`网关生成的验签字符串为：${expected}`);
    expect(rsa2Verify(parsed.signedText, parsed.sign!, app.credentials.alipayPublicKey!)).toBe(true);
  });

  it('keeps sign_type in the request string and leaves empty values out', async () => {
    const params = signedRequest(
      app.appId,
      'alipay.trade.query',
      { out_trade_no: 'none' },
      app.keys.privateKey,
    );
    const withEmpty = { ...params, notify_url: '' };
    const ok = parseResponse(
      (await postForm(sandbox.gatewayUrl, withEmpty)).text,
      'alipay_trade_query_response',
    );
    expect(ok.inner.sub_code).toBe('ACQ.TRADE_NOT_EXIST');

    const { sign_type: _dropped, sign: _sign, ...rest } = params;
    // Signed the notification way (without sign_type): the gateway must refuse it.
    const signedWithoutType: Record<string, string> = {
      ...rest,
      sign_type: 'RSA2',
      sign: rsa2Sign(testRequestSigningString(rest), app.keys.privateKey),
    };
    const bad = parseResponse(
      (await postForm(sandbox.gatewayUrl, signedWithoutType)).text,
      'alipay_trade_query_response',
    );
    expect(bad.inner.sub_code).toBe('isv.invalid-signature');
  });

  it('rejects missing and unknown common parameters with the public codes', async () => {
    const base = signedRequest(app.appId, 'alipay.trade.query', { out_trade_no: 'X' }, app.keys.privateKey);
    const noMethod = await postForm(sandbox.gatewayUrl, { ...base, method: '' });
    expect(parseResponse(noMethod.text, 'error_response').inner.sub_code).toBe('isv.missing-method');
    const badMethod = await postForm(sandbox.gatewayUrl, { ...base, method: 'alipay.trade.teleport' });
    expect(parseResponse(badMethod.text, 'error_response').inner.sub_code).toBe('isv.invalid-method');
    const unknownApp = await postForm(sandbox.gatewayUrl, { ...base, app_id: '2021999999999999' });
    const unknown = parseResponse(unknownApp.text, 'alipay_trade_query_response');
    expect(unknown.inner).toMatchObject({ code: '40002', sub_code: 'isv.invalid-app-id' });
    expect(unknown.sign).toBeUndefined();
    const noSign = await postForm(sandbox.gatewayUrl, { ...base, sign: '' });
    expect(parseResponse(noSign.text, 'alipay_trade_query_response').inner).toMatchObject({
      code: '40001',
      sub_code: 'isv.missing-signature',
    });
    const rsa1 = await postForm(sandbox.gatewayUrl, { ...base, sign_type: 'RSA' });
    expect(parseResponse(rsa1.text, 'alipay_trade_query_response').inner.sub_code).toBe(
      'isv.invalid-signature-type',
    );
  });

  it('certificate mode: checks app_cert_sn and alipay_root_cert_sn and adds alipay_cert_sn', async () => {
    const good = await certApp.call('alipay.trade.precreate', {
      out_trade_no: 'C-1',
      total_amount: '2.00',
      subject: 'cert',
    });
    expect(good.inner.code).toBe('10000');
    expect(good.alipayCertSn).toBe(certApp.credentials.alipayCertSn);
    expect(rsa2Verify(good.signedText, good.sign!, certApp.credentials.alipayPublicKey!)).toBe(true);

    const noSn = await certApp.call('alipay.trade.query', { out_trade_no: 'C-1' }, { app_cert_sn: '' });
    expect(noSn.inner.sub_code).toBe('isv.missing-app-cert-sn');
    const wrongSn = await certApp.call(
      'alipay.trade.query',
      { out_trade_no: 'C-1' },
      { app_cert_sn: '0'.repeat(32) },
    );
    expect(wrongSn.inner.sub_code).toBe('isv.invalid-app-cert-sn');
    const wrongRoot = await certApp.call(
      'alipay.trade.query',
      { out_trade_no: 'C-1' },
      { alipay_root_cert_sn: 'a_b' },
    );
    expect(wrongRoot.inner.sub_code).toBe('isv.invalid-alipay-root-cert-sn');
  });
});
