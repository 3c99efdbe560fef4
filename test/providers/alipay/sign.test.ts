/**
 * Signing strings and the Beijing clock, against the vectors of reference/protocols.md C.3 and C.7
 * (the ones that need no third-party key), with keys generated here.
 */
import { createVerify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  beijingTime,
  notifySigningStrings,
  parseBeijingTime,
  requestSigningString,
  signRsa2,
  verifyRsa2,
} from '../../../src/providers/alipay/sign.ts';
import { rsaPair } from './support/keys.ts';

const keys = rsaPair();

describe('alipay request signing string (C.3)', () => {
  const params = {
    app_id: '2021000000000000',
    method: 'alipay.trade.query',
    format: 'JSON',
    charset: 'utf-8',
    sign_type: 'RSA2',
    timestamp: '2024-01-01 12:00:00',
    version: '1.0',
    biz_content: '{"out_trade_no":"T20240101000001"}',
  };

  it('matches the reference vector: sorted, raw values, sign_type kept', () => {
    expect(requestSigningString(params)).toBe(
      'app_id=2021000000000000&biz_content={"out_trade_no":"T20240101000001"}&charset=utf-8&format=JSON&method=alipay.trade.query&sign_type=RSA2&timestamp=2024-01-01 12:00:00&version=1.0',
    );
  });

  it('leaves out sign and empty values', () => {
    const withExtras = { ...params, sign: 'abc', notify_url: '', return_url: undefined };
    expect(requestSigningString(withExtras)).toBe(requestSigningString(params));
  });

  it('does not depend on the order the parameters were added in', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z_]{1,12}$/), fc.string()), (dict) => {
        const reversed = Object.fromEntries(Object.entries(dict).reverse());
        expect(requestSigningString(reversed)).toBe(requestSigningString(dict));
      }),
    );
  });

  it('signs with SHA256withRSA that an independent verifier accepts', () => {
    const content = requestSigningString(params);
    const sign = signRsa2(keys.privateKey, content);
    expect(createVerify('RSA-SHA256').update(content, 'utf8').verify(keys.publicKey, sign, 'base64')).toBe(
      true,
    );
    expect(verifyRsa2(keys.publicKey, content, sign)).toBe(true);
    expect(verifyRsa2(keys.publicKey, `${content} `, sign)).toBe(false);
    expect(verifyRsa2(rsaPair().publicKey, content, sign)).toBe(false);
    expect(verifyRsa2(keys.publicKey, content, 'not base64!')).toBe(false);
  });
});

describe('alipay notification signing string (C.7)', () => {
  it('matches the return_url reference vector: sign and sign_type left out', () => {
    const fields = {
      charset: 'utf-8',
      out_trade_no: '1703141270',
      method: 'alipay.trade.page.pay.return',
      total_amount: '0.01',
      sign: 'xxx',
      trade_no: '2023122122001499160501586202',
      auth_app_id: '9021000122682882',
      version: '1.0',
      app_id: '9021000122682882',
      sign_type: 'RSA2',
      seller_id: '2088721003899159',
      timestamp: '2023-12-21 14:48:44',
    };
    expect(notifySigningStrings(fields)[0]).toBe(
      'app_id=9021000122682882&auth_app_id=9021000122682882&charset=utf-8&method=alipay.trade.page.pay.return&out_trade_no=1703141270&seller_id=2088721003899159&timestamp=2023-12-21 14:48:44&total_amount=0.01&trade_no=2023122122001499160501586202&version=1.0',
    );
  });

  it('uses JSON values such as fund_bill_list verbatim', () => {
    const fields = {
      app_id: '2019073166072302',
      auth_app_id: '2019073166072302',
      buyer_id: '2088102534368455',
      buyer_logon_id: 'xud***@126.com',
      buyer_pay_amount: '0.10',
      charset: 'utf-8',
      fund_bill_list: '[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]',
      sign_type: 'RSA2',
    };
    expect(notifySigningStrings(fields)[0]).toBe(
      'app_id=2019073166072302&auth_app_id=2019073166072302&buyer_id=2088102534368455&buyer_logon_id=xud***@126.com&buyer_pay_amount=0.10&charset=utf-8&fund_bill_list=[{"amount":"0.10","fundChannel":"ALIPAYACCOUNT"}]',
    );
  });

  it('also offers the SDK-compatible forms (empty values kept, sign_type kept) as fallbacks', () => {
    const strings = notifySigningStrings({ a: '1', b: '', sign_type: 'RSA2', sign: 's' });
    expect(strings).toEqual(['a=1', 'a=1&b=', 'a=1&sign_type=RSA2']);
  });
});

describe('alipay Beijing-time timestamp', () => {
  it('is UTC+8 from the injected clock, whatever the machine time zone', () => {
    expect(beijingTime(Date.UTC(2024, 0, 1, 4, 0, 0))).toBe('2024-01-01 12:00:00');
    expect(beijingTime(Date.UTC(2023, 11, 31, 16, 30, 5))).toBe('2024-01-01 00:30:05');
    expect(beijingTime(0)).toBe('1970-01-01 08:00:00');
  });

  it('parses back to the same second', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000 }), (ms) => {
        const text = beijingTime(ms);
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
        expect(parseBeijingTime(text)?.getTime()).toBe(Math.floor(ms / 1000) * 1000);
      }),
    );
    expect(parseBeijingTime('2024-01-01T12:00:00')).toBeNull();
    expect(parseBeijingTime(undefined)).toBeNull();
  });
});
