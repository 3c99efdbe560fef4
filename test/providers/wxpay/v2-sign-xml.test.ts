import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signingString, signV2, verifyV2 } from '../../../src/providers/wxpay/v2/sign.ts';
import { buildXml, parseXml, XmlFormatError } from '../../../src/providers/wxpay/v2/xml.ts';

// WeChat Pay's documented example of the APIv2 signature (安全规范, 签名算法).
const EXAMPLE = {
  appid: 'wxd930ea5d5a258f4f',
  mch_id: '10000100',
  device_info: '1000',
  body: 'test',
  nonce_str: 'ibuaiVcKdpRxkhJA',
};
const EXAMPLE_KEY = '192006250b4c09247ec02edce69f6a2d';

describe('WeChat Pay APIv2 signature', () => {
  it("reproduces the documentation's example", () => {
    expect(signingString(EXAMPLE, EXAMPLE_KEY)).toBe(
      'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d',
    );
    expect(signV2(EXAMPLE, EXAMPLE_KEY, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
    expect(signV2(EXAMPLE, EXAMPLE_KEY, 'HMAC-SHA256')).toBe(
      '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6',
    );
  });

  it('leaves out sign and empty values, sorts by ASCII and matches node:crypto computed apart', () => {
    const key = 'k'.repeat(32);
    const fields = { b: '2', A: '1', sign: 'X', empty: '', a: '中文', sign_type: 'HMAC-SHA256' };
    const message = `A=1&a=中文&b=2&sign_type=HMAC-SHA256&key=${key}`;
    expect(signingString(fields, key)).toBe(message);
    expect(signV2(fields, key, 'MD5')).toBe(createHash('md5').update(message).digest('hex').toUpperCase());
    expect(signV2(fields, key, 'HMAC-SHA256')).toBe(
      createHmac('sha256', key).update(message).digest('hex').toUpperCase(),
    );
  });

  it('verifies its own signatures and refuses tampered fields, other keys and other types', () => {
    const signed = { ...EXAMPLE, sign: signV2(EXAMPLE, EXAMPLE_KEY, 'MD5') };
    expect(verifyV2(signed, EXAMPLE_KEY, 'MD5')).toBe(true);
    expect(verifyV2({ ...signed, sign: signed.sign.toLowerCase() }, EXAMPLE_KEY, 'MD5')).toBe(true);
    expect(verifyV2({ ...signed, body: 'test2' }, EXAMPLE_KEY, 'MD5')).toBe(false);
    expect(verifyV2({ ...signed, extra: 'added' }, EXAMPLE_KEY, 'MD5')).toBe(false);
    expect(verifyV2(signed, 'x'.repeat(32), 'MD5')).toBe(false);
    expect(verifyV2(signed, EXAMPLE_KEY, 'HMAC-SHA256')).toBe(false);
    expect(verifyV2({ ...EXAMPLE }, EXAMPLE_KEY, 'MD5')).toBe(false);
  });
});

describe('WeChat Pay APIv2 XML', () => {
  it('round-trips fields, CDATA included, with a "]]>" inside a value', () => {
    const fields = { return_code: 'SUCCESS', body: 'a]]>b <c> & "d"', total_fee: '1000', empty: '' };
    const xml = buildXml(fields);
    expect(xml.startsWith('<xml><return_code><![CDATA[SUCCESS]]></return_code>')).toBe(true);
    expect(parseXml(xml)).toEqual(fields);
  });

  it('reads plain text, the predefined entities and a declaration', () => {
    expect(
      parseXml(
        '<?xml version="1.0" encoding="UTF-8"?>\n<xml><a>1</a><b>x &amp; y</b><c><![CDATA[z]]></c></xml>',
      ),
    ).toEqual({ a: '1', b: 'x & y', c: 'z' });
  });

  it('refuses DOCTYPE and entities, nesting, repeats, other roots and broken XML', () => {
    const refused = [
      '<!DOCTYPE xml [<!ENTITY e "boom">]><xml><a>&e;</a></xml>',
      '<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><a>1</a></xml>',
      '<xml><a><b>1</b></a></xml>',
      '<xml><a>1</a><a>2</a></xml>',
      '<root><a>1</a></root>',
      '<xml><a>1</a></xml><xml></xml>',
      '<xml><a>1</xml>',
      '<xml><?pi x?><a>1</a></xml>',
      'not xml',
      '{"a":1}',
    ];
    for (const text of refused) expect(() => parseXml(text), text).toThrow(XmlFormatError);
  });
});
