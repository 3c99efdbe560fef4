import { createSign, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import { unifiedCodeFor } from '../../../src/providers/douyin/errors.ts';
import { ackNotify } from '../../../src/providers/douyin/notify.ts';
import {
  ecpayMsgSignature,
  ecpaySign,
  platformSigningString,
  requestSigningString,
  rsaVerify,
  signedAuthorization,
} from '../../../src/providers/douyin/sign.ts';
import { legacyMsgSignature, legacySign, parseAuthorization } from '../../../src/sandbox/douyin/signing.ts';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const DATA = '{"skuList":[],"outOrderNo":"T20240101000001","totalAmount":1}';

describe('Douyin signatures', () => {
  it('the app signs five lines, each ending in \\n: method, URI, timestamp, nonce, body', () => {
    expect(requestSigningString('POST', '/requestOrder', '1700000000', 'abc', DATA)).toBe(
      `POST\n/requestOrder\n1700000000\nabc\n${DATA}\n`,
    );
    expect(platformSigningString('1700000000', 'abc', '{}')).toBe('1700000000\nabc\n{}\n');
  });

  it('byteAuthorization carries appid, nonce_str, timestamp, key_version and a signature node:crypto computes alike', () => {
    const value = signedAuthorization(
      { appId: 'tt0123456789abcdef', keyVersion: '3', privateKey: keys.privateKey },
      '/requestOrder',
      DATA,
      '1700000000',
      'n0nce',
    );
    // RSASSA-PKCS1-v1_5 is deterministic: the same key and text give the same signature.
    const expected = createSign('sha256')
      .update(Buffer.from(['POST', '/requestOrder', '1700000000', 'n0nce', DATA, ''].join('\n')))
      .sign(keys.privateKey)
      .toString('base64');
    expect(value).toBe(
      `SHA256-RSA2048 appid=tt0123456789abcdef,nonce_str=n0nce,timestamp=1700000000,key_version=3,signature=${expected}`,
    );
    expect(parseAuthorization(value)).toEqual({
      appid: 'tt0123456789abcdef',
      nonce_str: 'n0nce',
      timestamp: '1700000000',
      key_version: '3',
      signature: expected,
    });
    expect(rsaVerify(keys.publicKey, `POST\n/requestOrder\n1700000000\nn0nce\n${DATA}\n`, expected)).toBe(
      true,
    );
    expect(rsaVerify(keys.publicKey, `POST\n/requestOrder\n1700000000\nn0nce\n${DATA}`, expected)).toBe(
      false,
    );
  });

  it('the legacy request sign is the MD5 of the sorted values and salt joined by &, without app_id and sign', () => {
    const params = {
      app_id: 'tt1',
      out_order_no: 'T20240101000001',
      total_amount: 1000,
      subject: 'coins',
      body: ' coins ',
      valid_time: 900,
      notify_url: 'https://example.com/notify',
      cp_extra: '',
      thirdparty_id: 'ignored',
    };
    // Computed apart (Python hashlib) over "1000&900&T20240101000001&coins&coins&https://example.com/notify&s4lt".
    expect(ecpaySign(params, 's4lt')).toBe('325992dd515ba13595f1c17985a54a0f');
    expect(legacySign(params, 's4lt')).toBe('325992dd515ba13595f1c17985a54a0f');
  });

  it('the legacy callback msg_signature is the SHA-1 of token, timestamp, nonce and msg sorted and joined', () => {
    const msg = '{"appid":"tt1","status":"SUCCESS"}';
    // Computed apart (Python hashlib) over '16800745904367tok3n{"appid":"tt1","status":"SUCCESS"}'.
    expect(ecpayMsgSignature('tok3n', '1680074590', '4367', msg)).toBe(
      '032991e5ac5dda0639c922d5f7a85703c930cf17',
    );
    expect(legacyMsgSignature('tok3n', '1680074590', '4367', msg)).toBe(
      '032991e5ac5dda0639c922d5f7a85703c930cf17',
    );
  });

  it("err_no codes map to unified codes; callbacks are answered in Douyin's format", () => {
    expect(unifiedCodeFor(11004, 200)).toBe(40002);
    expect(unifiedCodeFor(20000, 200)).toBe(40005);
    expect(unifiedCodeFor(12001, 200)).toBe(40008);
    expect(unifiedCodeFor(2100005, 200)).toBe(40001);
    expect(unifiedCodeFor(2100004, 200)).toBe(40010);
    expect(unifiedCodeFor(2190008, 200)).toBe(40009);
    expect(unifiedCodeFor(999, 502)).toBe(40010);
    expect(ackNotify('accepted')).toMatchObject({ status: 200, body: '{"err_no":0,"err_tips":"success"}' });
    const refused = ackNotify('refused', new PayError(40002));
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body).err_no).not.toBe(0);
  });
});
