/**
 * The APIv2 emulator's rules, straight on its gateway: signs with the merchant's sign type, XML,
 * the client certificate of /secapi, appid, amounts, out_trade_no reuse and refund totals. Messages
 * are built here with node:crypto, independently of both the client and the emulator.
 */
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { V2CertificateAuthority, WxpayV2Gateway } from '../../../src/sandbox/wxpay-v2/index.ts';

type Message = Record<string, string>;

const signOf = (fields: Message, key: string, type: 'MD5' | 'HMAC-SHA256') => {
  const text = `${Object.keys(fields)
    .filter((k) => k !== 'sign' && fields[k] !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&')}&key=${key}`;
  return (type === 'MD5' ? createHash('md5') : createHmac('sha256', key))
    .update(text)
    .digest('hex')
    .toUpperCase();
};
const xmlOf = (fields: Message) =>
  `<xml>${Object.entries(fields)
    .map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`)
    .join('')}</xml>`;
const fieldsOf = (xml: string) =>
  Object.fromEntries(
    [...xml.matchAll(/<(\w+)>(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))<\/\1>/g)].map((m) => [
      m[1],
      m[2] ?? m[3] ?? '',
    ]),
  );

describe('WeChat Pay APIv2 emulator rules', () => {
  let gateway: WxpayV2Gateway;
  let md5: { mchid: string; appid: string; key: string };
  let hmac: { mchid: string; appid: string; key: string };
  beforeAll(async () => {
    gateway = new WxpayV2Gateway(await V2CertificateAuthority.create(), {
      timeFactor: 0.001,
      publicUrl: () => 'https://x',
    });
    const a = await gateway.addMerchant({ appid: 'wxaaaaaaaaaaaaaaaa' });
    const b = await gateway.addMerchant({ appid: 'wxbbbbbbbbbbbbbbbb', signType: 'HMAC-SHA256' });
    md5 = { mchid: a.mchid, appid: 'wxaaaaaaaaaaaaaaaa', key: a.apiKey };
    hmac = { mchid: b.mchid, appid: 'wxbbbbbbbbbbbbbbbb', key: b.apiKey };
  }, 30_000);
  afterAll(() => gateway.stop());

  const send = (
    path: string,
    merchant: { mchid: string; appid: string; key: string },
    fields: Message,
    options: { type?: 'MD5' | 'HMAC-SHA256'; cert?: string | null; tamper?: boolean } = {},
  ) => {
    const type = options.type ?? 'MD5';
    const message: Message = {
      appid: merchant.appid,
      mch_id: merchant.mchid,
      nonce_str: 'abc123',
      ...fields,
    };
    if (type !== 'MD5') message.sign_type = type;
    message.sign = signOf(message, merchant.key, type);
    if (options.tamper) message.nonce_str = 'changed';
    return fieldsOf(
      gateway.handle(path, xmlOf(message), options.cert === undefined ? null : options.cert).body,
    );
  };
  const order = (no: string, fee = '100') => ({
    body: 'b',
    out_trade_no: no,
    total_fee: fee,
    spbill_create_ip: '127.0.0.1',
    notify_url: 'http://127.0.0.1:9/n',
    trade_type: 'NATIVE',
    product_id: no,
  });

  it('checks the sign with the merchant’s sign type and signs its answers the same way', () => {
    expect(send('/pay/unifiedorder', md5, order('S1'), { tamper: true })).toMatchObject({
      return_code: 'FAIL',
      return_msg: '签名错误',
    });
    expect(send('/pay/unifiedorder', hmac, order('S1'))).toMatchObject({ return_code: 'FAIL' });
    const answer = send('/pay/unifiedorder', hmac, order('S1'), { type: 'HMAC-SHA256' });
    expect(answer).toMatchObject({ return_code: 'SUCCESS', result_code: 'SUCCESS', trade_type: 'NATIVE' });
    expect(answer.sign).toBe(signOf(answer, hmac.key, 'HMAC-SHA256'));
  });

  it('refuses DOCTYPE, another merchant’s appid, missing fields and a reused out_trade_no with other parameters', () => {
    expect(fieldsOf(gateway.handle('/pay/orderquery', '<!DOCTYPE x><xml></xml>', null).body)).toMatchObject({
      return_code: 'FAIL',
    });
    expect(send('/pay/unifiedorder', { ...md5, appid: hmac.appid }, order('S2'))).toMatchObject({
      err_code: 'APPID_MCHID_NOT_MATCH',
    });
    const { product_id: _p, ...noProduct } = order('S2');
    expect(send('/pay/unifiedorder', md5, noProduct)).toMatchObject({ err_code: 'LACK_PARAMS' });
    const first = send('/pay/unifiedorder', md5, order('S2'));
    expect(send('/pay/unifiedorder', md5, order('S2')).prepay_id).toBe(first.prepay_id);
    expect(send('/pay/unifiedorder', md5, order('S2', '101'))).toMatchObject({
      err_code: 'INVALID_REQUEST',
      err_code_des: '201 商户订单号重复',
    });
    expect(send('/pay/orderquery', md5, { out_trade_no: 'NOPE' })).toMatchObject({
      err_code: 'ORDERNOTEXIST',
    });
  });

  it('refunds only with the merchant’s client certificate, only of paid trades, never above the amount', () => {
    send('/pay/unifiedorder', md5, order('S3', '100'));
    const refund = (no: string, fee: string, cert: string | null = md5.mchid) =>
      send(
        '/secapi/pay/refund',
        md5,
        { out_trade_no: 'S3', out_refund_no: no, total_fee: '100', refund_fee: fee },
        { cert },
      );
    expect(refund('R0', '10')).toMatchObject({ err_code: 'TRADE_STATE_ERROR' });
    gateway.pay(md5.mchid, 'S3');
    expect(refund('R1', '10', null)).toMatchObject({ return_code: 'FAIL', return_msg: '证书验证失败' });
    expect(refund('R1', '10', hmac.mchid)).toMatchObject({ return_code: 'FAIL', return_msg: '证书验证失败' });
    expect(refund('R1', '60')).toMatchObject({ result_code: 'SUCCESS', refund_fee: '60' });
    expect(refund('R1', '60').refund_id).toBeTruthy();
    expect(refund('R1', '50')).toMatchObject({ err_code: 'INVALID_REQUEST' });
    expect(refund('R2', '41')).toMatchObject({
      err_code: 'INVALID_REQUEST',
      err_code_des: '累计退款金额大于支付金额',
    });
    expect(refund('R2', '40')).toMatchObject({ result_code: 'SUCCESS' });
    expect(send('/pay/closeorder', md5, { out_trade_no: 'S3' })).toMatchObject({ err_code: 'ORDERPAID' });
  });
});
