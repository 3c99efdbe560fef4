/**
 * The APIv2 emulator's payment codes on the wire: /pay/micropay, orderquery of its states, and
 * /secapi/pay/reverse with the client certificate. Messages are built here with node:crypto,
 * independently of both the client and the emulator.
 */
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { V2CertificateAuthority, WxpayV2Gateway } from '../../../src/sandbox/wxpay-v2/index.ts';

type Message = Record<string, string>;
type Merchant = { mchid: string; appid: string; key: string; type: 'MD5' | 'HMAC-SHA256' };

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
const fieldsOf = (xml: string): Message =>
  Object.fromEntries(
    [...xml.matchAll(/<(\w+)>(?:<!\[CDATA\[(.*?)\]\]>|([^<]*))<\/\1>/g)].map((m) => [
      m[1],
      m[2] ?? m[3] ?? '',
    ]),
  );

let gateway: WxpayV2Gateway;
let md5: Merchant;
let hmac: Merchant;
let sequence = 0;

beforeAll(async () => {
  gateway = new WxpayV2Gateway(await V2CertificateAuthority.create(), {
    timeFactor: 0.001,
    publicUrl: () => 'https://x',
  });
  const a = await gateway.addMerchant({ appid: 'wxaaaaaaaaaaaaaaaa' });
  const b = await gateway.addMerchant({ appid: 'wxbbbbbbbbbbbbbbbb', signType: 'HMAC-SHA256' });
  md5 = { mchid: a.mchid, appid: 'wxaaaaaaaaaaaaaaaa', key: a.apiKey, type: 'MD5' };
  hmac = { mchid: b.mchid, appid: 'wxbbbbbbbbbbbbbbbb', key: b.apiKey, type: 'HMAC-SHA256' };
}, 30_000);
afterAll(() => gateway.stop());

const send = (
  path: string,
  merchant: Merchant,
  fields: Message,
  options: { cert?: string | null; forge?: boolean } = {},
) => {
  const message: Message = {
    appid: merchant.appid,
    mch_id: merchant.mchid,
    nonce_str: `n${++sequence}`,
    ...fields,
  };
  if (merchant.type !== 'MD5') message.sign_type = merchant.type;
  message.sign = signOf(message, options.forge ? 'f'.repeat(32) : merchant.key, merchant.type);
  return fieldsOf(
    gateway.handle(path, xmlOf(message), options.cert === undefined ? null : options.cert).body,
  );
};
const code = (behaviour: string, ttlSeconds?: number) =>
  gateway.paymentCodes.issue({ behaviour, ...(ttlSeconds ? { ttlSeconds } : {}), buyer: {} }).authCode;
const micropay = (merchant: Merchant, authCode: string, no = `M${++sequence}`, extra: Message = {}) =>
  send('/pay/micropay', merchant, {
    body: '门店',
    out_trade_no: no,
    total_fee: '321',
    spbill_create_ip: '10.0.0.8',
    auth_code: authCode,
    ...extra,
  });
const query = (merchant: Merchant, no: string) => send('/pay/orderquery', merchant, { out_trade_no: no });
const reverse = (merchant: Merchant, no: string, cert: string | null = merchant.mchid) =>
  send('/secapi/pay/reverse', merchant, { out_trade_no: no }, { cert });

describe('WeChat Pay APIv2 emulator: payment codes', () => {
  it('issues 18-digit codes starting 13, and refuses unknown behaviours', () => {
    expect(code('pay')).toMatch(/^13\d{16}$/);
    expect(() => code('fly')).toThrow(/behaviour/);
  });

  for (const merchant of ['md5', 'hmac'] as const) {
    it(`pays at once with the ${merchant} sign type: SUCCESS, MICROPAY, signed, no auth code`, () => {
      const m = merchant === 'md5' ? md5 : hmac;
      const authCode = code('pay');
      const answer = micropay(m, authCode);
      expect(answer).toMatchObject({
        return_code: 'SUCCESS',
        result_code: 'SUCCESS',
        trade_type: 'MICROPAY',
        total_fee: '321',
        cash_fee: '321',
      });
      expect(answer.transaction_id).toMatch(/^42\d{26}$/);
      expect(answer.time_end).toMatch(/^\d{14}$/);
      expect(answer.sign).toBe(signOf(answer, m.key, m.type));
      expect(JSON.stringify(answer)).not.toContain(authCode);
      expect(micropay(m, authCode)).toMatchObject({ result_code: 'FAIL', err_code: 'AUTH_CODE_INVALID' });
    });
  }

  it('USERPAYING until confirmed; the order then queries SUCCESS; a repeat meanwhile is USERPAYING', () => {
    const no = `M${++sequence}`;
    expect(micropay(md5, code('password'), no)).toMatchObject({
      result_code: 'FAIL',
      err_code: 'USERPAYING',
    });
    expect(query(md5, no)).toMatchObject({
      trade_state: 'USERPAYING',
      trade_state_desc: '需要用户输入支付密码',
    });
    const spare = code('pay');
    expect(micropay(md5, spare, no)).toMatchObject({ err_code: 'USERPAYING' });
    gateway.pay(md5.mchid, no);
    expect(query(md5, no)).toMatchObject({ trade_state: 'SUCCESS', trade_type: 'MICROPAY' });
    // The repeat did not spend the spare code.
    expect(micropay(md5, spare).result_code).toBe('SUCCESS');
    // No notification for payment codes.
    expect(gateway.notifications.filter((n) => n.outTradeNo === no)).toEqual([]);
  });

  it('refuses expired, malformed and insufficient codes, and missing fields', () => {
    const expiring = code('pay', 1);
    gateway.clockOffsetMs = 2_000;
    try {
      expect(micropay(md5, expiring)).toMatchObject({ err_code: 'AUTHCODEEXPIRE' });
    } finally {
      gateway.clockOffsetMs = 0;
    }
    expect(micropay(md5, '281234567890123456')).toMatchObject({ err_code: 'AUTH_CODE_INVALID' });
    const poor = `M${++sequence}`;
    expect(micropay(md5, code('insufficient'), poor)).toMatchObject({ err_code: 'NOTENOUGH' });
    expect(query(md5, poor)).toMatchObject({ err_code: 'ORDERNOTEXIST' });
    expect(
      send('/pay/micropay', md5, {
        body: 'b',
        out_trade_no: 'X',
        total_fee: '1',
        spbill_create_ip: '1.1.1.1',
      }),
    ).toMatchObject({
      err_code: 'LACK_PARAMS',
    });
  });

  it('refuses a forged sign without spending the code', () => {
    const authCode = code('pay');
    expect(
      send(
        '/pay/micropay',
        md5,
        { body: 'b', out_trade_no: 'F1', total_fee: '1', spbill_create_ip: '1.1.1.1', auth_code: authCode },
        { forge: true },
      ),
    ).toMatchObject({ return_code: 'FAIL', return_msg: '签名错误' });
    expect(micropay(md5, authCode).result_code).toBe('SUCCESS');
  });
});

describe('WeChat Pay APIv2 emulator: reverse', () => {
  it('needs the merchant’s client certificate', () => {
    const no = `M${++sequence}`;
    micropay(md5, code('never'), no);
    expect(reverse(md5, no, null)).toMatchObject({ return_code: 'FAIL', return_msg: '证书验证失败' });
    expect(reverse(md5, no, hmac.mchid)).toMatchObject({ return_code: 'FAIL', return_msg: '证书验证失败' });
    expect(query(md5, no).trade_state).toBe('USERPAYING');
  });

  it('closes an unconfirmed order and refunds a paid one: both REVOKED, recall N; again is fine', () => {
    const waiting = `M${++sequence}`;
    micropay(hmac, code('never'), waiting);
    expect(reverse(hmac, waiting)).toMatchObject({ result_code: 'SUCCESS', recall: 'N' });
    expect(query(hmac, waiting)).toMatchObject({ trade_state: 'REVOKED', trade_state_desc: '已撤销' });
    expect(reverse(hmac, waiting)).toMatchObject({ result_code: 'SUCCESS', recall: 'N' });
    const paid = `M${++sequence}`;
    micropay(hmac, code('pay'), paid);
    expect(reverse(hmac, paid)).toMatchObject({ result_code: 'SUCCESS', recall: 'N' });
    expect(gateway.trades.get(`${hmac.mchid}/${paid}`)).toMatchObject({ state: 'REVOKED', refundedFee: 321 });
    expect(micropay(hmac, code('pay'), paid)).toMatchObject({ err_code: 'ORDERREVERSED' });
  });

  it('answers ORDERNOTEXIST for an unknown order and REVERSE_EXPIRE after 7 days', () => {
    expect(reverse(md5, 'NOPE')).toMatchObject({
      result_code: 'FAIL',
      err_code: 'ORDERNOTEXIST',
      recall: 'N',
    });
    const old = `M${++sequence}`;
    micropay(md5, code('pay'), old);
    gateway.clockOffsetMs = 8 * 86_400_000;
    try {
      expect(reverse(md5, old)).toMatchObject({ err_code: 'REVERSE_EXPIRE' });
    } finally {
      gateway.clockOffsetMs = 0;
    }
  });
});
