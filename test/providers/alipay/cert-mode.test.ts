/**
 * Certificate mode end to end against the local gateway: requests carry app_cert_sn and
 * alipay_root_cert_sn, answers are verified with the key in the Alipay certificate, and an answer
 * under an unknown alipay_cert_sn is a certificate error (40003).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAlipayProvider } from '../../../src/providers/alipay/index.ts';
import { merchantConfig, NOON_BEIJING, order, parties, payError } from './support/fixtures.ts';
import { startGateway, type TestGateway } from './support/gateway.ts';
import { type TestAntCa, testAntCa } from './support/keys.ts';
import { expectedSn, formBody, notificationSignature, requestVerifies } from './support/signer.ts';

const p = parties();
let ca: TestAntCa;
let gateway: TestGateway;
let alipayCertSn: string;

beforeAll(async () => {
  ca = await testAntCa();
  alipayCertSn = expectedSn(ca.alipayCert.issuer, ca.alipayCert.serialHex);
  gateway = await startGateway(ca.alipayCert.privateKey, () => ({
    response: {
      code: '10000',
      msg: 'Success',
      out_trade_no: 'T20240101000001',
      qr_code: 'https://qr.alipay.com/bax01',
    },
    certSn: alipayCertSn,
  }));
});
afterAll(() => gateway.close());

const certProvider = () =>
  createAlipayProvider({
    merchants: [
      merchantConfig(p, {
        baseUrl: gateway.url,
        alipayPublicKey: undefined,
        certificates: {
          appCert: ca.appCert.pem,
          alipayCert: ca.alipayCert.pem,
          alipayRootCert: ca.rootBundle,
        },
      }),
    ],
    now: () => NOON_BEIJING,
  });

describe('alipay certificate mode', () => {
  it('sends the SNs, signed, and verifies the answer with the Alipay certificate', async () => {
    const created = await certProvider().createPayment(order());
    expect(created.client).toEqual({ scene: 'native', codeUrl: 'https://qr.alipay.com/bax01' });
    const params = gateway.requests.at(-1)!.params;
    expect(params.app_cert_sn).toBe(expectedSn(ca.appCert.issuer, ca.appCert.serialHex));
    const [r1, g3] = ca.rsaRoots;
    expect(params.alipay_root_cert_sn).toBe(
      `${expectedSn(r1!.issuer, r1!.serialHex)}_${expectedSn(g3!.issuer, g3!.serialHex)}`,
    );
    expect(requestVerifies(params, p.app.publicKey)).toBe(true);
  });

  it('an answer under an unknown alipay_cert_sn is 40003', async () => {
    gateway.script = () => ({
      response: { code: '10000', msg: 'Success', qr_code: 'x' },
      certSn: '00000000000000000000000000000000',
    });
    const error = await payError(certProvider().createPayment(order()));
    expect([error.code, error.field]).toEqual([40003, 'alipay_cert_sn']);
  });

  it('notifications verify with the Alipay certificate key', async () => {
    const fields = {
      app_id: '2021000000000000',
      notify_id: 'n1',
      out_trade_no: 'T20240101000001',
      trade_no: '2024',
      trade_status: 'TRADE_SUCCESS',
      total_amount: '88.80',
    };
    const signed = {
      ...fields,
      sign_type: 'RSA2',
      sign: notificationSignature(ca.alipayCert.privateKey, fields),
    };
    const event = await certProvider().parseNotify('m1', {}, Buffer.from(formBody(signed)));
    expect(event.kind).toBe('payment');
  });

  it('refuses unreadable certificates at configuration time with 40003, naming the field only', () => {
    const build = () =>
      createAlipayProvider({
        merchants: [
          merchantConfig(p, {
            alipayPublicKey: undefined,
            certificates: {
              appCert: 'garbage',
              alipayCert: ca.alipayCert.pem,
              alipayRootCert: ca.rootBundle,
            },
          }),
        ],
      });
    expect(build).toThrow(/certificates.appCert/);
  });
});
