/**
 * Conformance with the official alipay-sdk (v4), used only as an independent oracle: its request
 * signature equals ours for the same parameters and key, its notification verifier and ours agree,
 * its response check accepts what our transport accepts, and its SN code gives our SNs.
 */
import { AlipaySdk } from 'alipay-sdk';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Deep imports: the SDK's package root exports neither its signer nor its SN helpers.
import { getSN } from '../../../node_modules/alipay-sdk/dist/esm/antcertutil.js';
import { sign as sdkSign } from '../../../node_modules/alipay-sdk/dist/esm/util.js';
import { certificateSn, rootCertificateSn } from '../../../src/providers/alipay/cert-sn.ts';
import { readEnvelope } from '../../../src/providers/alipay/envelope.ts';
import { requestSigningString, signRsa2 } from '../../../src/providers/alipay/sign.ts';
import { APP_ID, order, parties, payError, provider } from './support/fixtures.ts';
import { startGateway, type TestGateway } from './support/gateway.ts';
import { testAntCa } from './support/keys.ts';
import { formBody, notificationSignature } from './support/signer.ts';

const p = parties();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const sdk = new AlipaySdk({
  appId: APP_ID,
  privateKey: p.app.privatePem,
  keyType: 'PKCS8',
  alipayPublicKey: p.alipay.publicPem,
});
// The SDK as Alipay's side would sign with it: the Alipay private key.
const alipaySideSdk = new AlipaySdk({ appId: APP_ID, privateKey: p.alipay.privatePem, keyType: 'PKCS8' });

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await startGateway(p.alipay.privateKey, () => ({
    response: {
      code: '10000',
      msg: 'Success',
      out_trade_no: 'T20240101000001',
      qr_code: 'https://qr.alipay.com/bax01',
    },
  }));
});
afterAll(() => gateway.close());

describe('requests: our signature equals the SDK’s', () => {
  it('for the parameters of the SDK’s own app order string', () => {
    const sdkString = sdk.sdkExecute('alipay.trade.app.pay', {
      notifyUrl: 'https://pay.example.com/n',
      bizContent: { outTradeNo: 'T20240101000001', totalAmount: '88.80', subject: 'VIP 会员' },
    });
    const params = Object.fromEntries(new URLSearchParams(sdkString));
    const { sign, ...unsigned } = params;
    expect(signRsa2(p.app.privateKey, requestSigningString(unsigned))).toBe(sign);
  });

  it('for arbitrary business content (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[a-z][a-z_]{0,10}$/), fc.string({ minLength: 1, maxLength: 20 }), {
          maxKeys: 5,
        }),
        (biz) => {
          const params = sdkSign('alipay.trade.query', { bizContent: biz }, sdk.config, {
            bizContentAutoSnakeCase: false,
          }) as Record<string, string>;
          const { sign, ...unsigned } = params;
          expect(signRsa2(p.app.privateKey, requestSigningString(unsigned))).toBe(sign);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('our app order string carries a signature the SDK would produce for its parameters', async () => {
    const created = await provider(p, gateway.url).createPayment(order({ scene: 'app' }));
    const params = Object.fromEntries(
      new URLSearchParams((created.client as { orderString: string }).orderString),
    );
    const { sign, biz_content, method, ...common } = params;
    const sdkParams = sdkSign(
      method!,
      { ...common, bizContent: JSON.parse(biz_content!) },
      { ...sdk.config, appId: common.app_id! },
      { bizContentAutoSnakeCase: false },
    ) as Record<string, string>;
    // The SDK stamps its own timestamp: compare the strings with ours put back.
    const replay = { ...sdkParams, timestamp: common.timestamp! };
    delete (replay as Record<string, string | undefined>).sign;
    expect(requestSigningString(replay)).toBe(
      requestSigningString({ ...common, method: method!, biz_content: biz_content! }),
    );
    expect(signRsa2(p.app.privateKey, requestSigningString(replay))).toBe(sign);
  });
});

describe('notifications: the SDK and parseNotify agree', () => {
  const fields = {
    notify_type: 'trade_status_sync',
    notify_id: 'n-1',
    charset: 'utf-8',
    version: '1.0',
    app_id: APP_ID,
    trade_no: '2024010122001400000000000001',
    out_trade_no: 'T20240101000001',
    trade_status: 'TRADE_SUCCESS',
    total_amount: '88.80',
    subject: '含 % 与 + 的标题',
    gmt_payment: '2024-01-01 12:00:30',
  };

  it('a notification signed by the documented rule passes the SDK’s checkNotifySignV2 and parseNotify', async () => {
    const signed = { ...fields, sign_type: 'RSA2', sign: notificationSignature(p.alipay.privateKey, fields) };
    expect(sdk.checkNotifySignV2(signed)).toBe(true);
    const event = await provider(p, gateway.url).parseNotify('m1', FORM, Buffer.from(formBody(signed)));
    expect(event.kind === 'payment' && event.result.amountFen).toBe(8880);
    const tampered = { ...signed, total_amount: '0.01' };
    expect(sdk.checkNotifySignV2(tampered)).toBe(false);
    expect(
      (await payError(provider(p, gateway.url).parseNotify('m1', FORM, Buffer.from(formBody(tampered)))))
        .code,
    ).toBe(40002);
  });

  it('a notification signed by the SDK’s own signer (sign_type included) is accepted, a tampered one is not', async () => {
    const { app_id: _a, charset: _c, version: _v, ...rest } = fields;
    const signed = sdkSign('alipay.trade.notify', rest, alipaySideSdk.config, {
      bizContentAutoSnakeCase: false,
    }) as Record<string, string>;
    expect(sdk.checkNotifySignV2(signed)).toBe(true);
    const alipay = provider(p, gateway.url);
    const event = await alipay.parseNotify('m1', FORM, Buffer.from(formBody(signed)));
    expect(event.kind === 'payment' && event.result.outTradeNo).toBe('T20240101000001');
    const tampered = formBody({ ...signed, out_trade_no: 'T20240101000002' });
    expect((await payError(alipay.parseNotify('m1', FORM, Buffer.from(tampered)))).code).toBe(40002);
  });
});

describe('responses: the SDK’s check and ours agree', () => {
  it('the SDK accepts the exact answer our transport accepted, over the same signed content', async () => {
    await provider(p, gateway.url).createPayment(order({ scene: 'native' }));
    const response = await fetch(gateway.url, { method: 'POST', body: 'method=alipay.trade.precreate' });
    const raw = await response.text();
    const responseKey = 'alipay_trade_precreate_response';
    const ours = readEnvelope(Buffer.from(raw), 'alipay.trade.precreate');
    expect(ours.signedContent.toString('utf8')).toBe(sdk.getSignStr(raw, responseKey));
    expect(() => sdk.checkResponseSign(raw, responseKey, ours.sign!, 't')).not.toThrow();
    expect(() =>
      sdk.checkResponseSign(raw.replace('bax01', 'bax02'), responseKey, ours.sign!, 't'),
    ).toThrow();
  });
});

describe('certificate SNs: ours equal the SDK’s', () => {
  it('for the app, Alipay and root certificates of a test CA', async () => {
    const ca = await testAntCa();
    expect(certificateSn(ca.appCert.pem)).toBe(getSN(ca.appCert.pem, false));
    expect(certificateSn(ca.alipayCert.pem)).toBe(getSN(ca.alipayCert.pem, false));
    expect(rootCertificateSn(ca.rootBundle)).toBe(getSN(ca.rootBundle, true));
  });
});
