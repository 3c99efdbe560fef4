/**
 * The signed content of an answer is the exact bytes of `<method>_response` as sent (C.4).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedEnvelope, readEnvelope } from '../../../src/providers/alipay/envelope.ts';

const method = 'alipay.trade.precreate';

describe('alipay response envelope', () => {
  it('extracts the inner object verbatim, escapes and spacing included', () => {
    const inner =
      '{ "code":"10000","msg":"Success","qr_code":"https:\\/\\/qr.alipay.com\\/bax01","note":"含 } 与 \\" 的值"}';
    const body = `{"alipay_trade_precreate_response":${inner},"alipay_cert_sn":"abc","sign":"c2ln"}`;
    const envelope = readEnvelope(Buffer.from(body), method);
    expect(envelope.signedContent.toString('utf8')).toBe(inner);
    expect(envelope.response.qr_code).toBe('https://qr.alipay.com/bax01');
    expect(envelope.sign).toBe('c2ln');
    expect(envelope.alipayCertSn).toBe('abc');
  });

  it('falls back to error_response, sign or not', () => {
    const envelope = readEnvelope(
      Buffer.from('{"error_response":{"code":"40002","sub_code":"isv.invalid-app-id"}}'),
      method,
    );
    expect(envelope.responseKey).toBe('error_response');
    expect(envelope.sign).toBeNull();
  });

  it('finds the member at the top level only, not a look-alike inside a value', () => {
    const body =
      '{"other":{"alipay_trade_precreate_response":{"code":"10000","fake":true}},"alipay_trade_precreate_response":{"code":"40004"},"sign":"x"}';
    expect(readEnvelope(Buffer.from(body), method).response).toEqual({ code: '40004' });
  });

  it('refuses a repeated member, which JSON.parse would resolve differently from the signature', () => {
    const body =
      '{"alipay_trade_precreate_response":{"code":"40004"},"alipay_trade_precreate_response":{"code":"10000"},"sign":"x"}';
    expect(() => readEnvelope(Buffer.from(body), method)).toThrow(MalformedEnvelope);
  });

  it('refuses bodies that are not JSON or lack the response', () => {
    expect(() => readEnvelope(Buffer.from('<html>502</html>'), method)).toThrow(MalformedEnvelope);
    expect(() => readEnvelope(Buffer.from('{"alipay_trade_precreate_response":{"code":"1'), method)).toThrow(
      MalformedEnvelope,
    );
    expect(() => readEnvelope(Buffer.from('{"sign":"x"}'), method)).toThrow(MalformedEnvelope);
    expect(() =>
      readEnvelope(Buffer.from('{"alipay_trade_precreate_response":"text","sign":"x"}'), method),
    ).toThrow(MalformedEnvelope);
  });

  it('returns exactly the bytes that were embedded, for any JSON object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.boolean(), (inner, spaced) => {
        const innerText = JSON.stringify(inner, null, spaced ? 1 : 0);
        const body = `{"a":[1,{"b":"}"}],"alipay_trade_precreate_response":${innerText},"sign":"s"}`;
        const envelope = readEnvelope(Buffer.from(body), method);
        expect(envelope.signedContent.toString('utf8')).toBe(innerText);
        expect(envelope.response).toEqual(JSON.parse(innerText));
      }),
    );
  });
});
