/**
 * protocols.md A.10 vectors that need no third-party key (AES-256-GCM; the exact signing strings),
 * plus signatures made with keys generated here and checked with node:crypto directly.
 */
import { createVerify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import { decryptResource, encryptResource } from '../../../src/providers/wxpay/aead.ts';
import {
  appPayMessage,
  authorizationHeader,
  createNonce,
  jsapiPayMessage,
  requestMessage,
  responseMessage,
  rsaSign,
  rsaVerify,
} from '../../../src/providers/wxpay/sign.ts';
import { rsaPair } from './support/keys.ts';
import { parseAuthorization, verifyAuthorization } from './support/signer.ts';

const VECTOR_KEY = Buffer.from('a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb');
const merchant = rsaPair();

const verifiesIndependently = (message: string, signature: string): boolean =>
  createVerify('RSA-SHA256').update(message, 'utf8').verify(merchant.publicKey, signature, 'base64');

describe('AEAD_AES_256_GCM (A.10.1, A.10.3e)', () => {
  it('decrypts the official vector to "message"', () => {
    const resource = {
      ciphertext: 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=',
      nonce: 'uluk4a9R25RW',
      associated_data: 'associatedData',
    };
    expect(decryptResource(resource, VECTOR_KEY, 40002)).toBe('message');
    expect(encryptResource('message', VECTOR_KEY, 'uluk4a9R25RW', 'associatedData')).toBe(
      resource.ciphertext,
    );
  });

  it('re-encrypts the notification vector to the documented ciphertext', () => {
    const plaintext =
      '{"mchid":"1230000109","out_trade_no":"T1","transaction_id":"4200000001","trade_state":"SUCCESS","amount":{"total":1,"currency":"CNY"}}';
    const ciphertext = encryptResource(plaintext, VECTOR_KEY, 'fdasflkja484', 'transaction');
    expect(ciphertext).toHaveLength(200);
    expect(ciphertext.startsWith('Y/YEfUnbjBvKjySBXpexHPMC5wc2rJu6nKuwHvISC/UZfxhQ')).toBe(true);
    expect(ciphertext.endsWith('rlJMxNveNLPIn8UQ')).toBe(true);
    expect(
      decryptResource(
        { ciphertext, nonce: 'fdasflkja484', associated_data: 'transaction' },
        VECTOR_KEY,
        40002,
      ),
    ).toBe(plaintext);
  });

  it('rejects a wrong AAD, a wrong key and a wrong algorithm with the asked code, never echoing the key', () => {
    const ciphertext = 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=';
    const wrongAad = () =>
      decryptResource({ ciphertext, nonce: 'uluk4a9R25RW', associated_data: 'x' }, VECTOR_KEY, 40002);
    expect(wrongAad).toThrowError(PayError);
    try {
      decryptResource(
        { ciphertext, nonce: 'uluk4a9R25RW', associated_data: 'associatedData' },
        Buffer.alloc(32, 1),
        40003,
      );
      expect.unreachable();
    } catch (error) {
      expect((error as PayError).code).toBe(40003);
      expect(JSON.stringify({ m: (error as Error).message, d: (error as PayError).details })).not.toContain(
        'a7cde1',
      );
    }
    expect(() =>
      decryptResource({ ciphertext, nonce: 'uluk4a9R25RW', algorithm: 'AES_128_CBC' }, VECTOR_KEY, 40002),
    ).toThrowError(/unsupported/);
    expect(() => decryptResource({ ciphertext: 'AAAA', nonce: 'n' }, VECTOR_KEY, 40002)).toThrowError(
      /malformed/,
    );
  });

  it('round-trips any text and rejects any single flipped bit (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ maxLength: 15 }), fc.nat(), (plaintext, aad, flip) => {
        const sealed = Buffer.from(encryptResource(plaintext, VECTOR_KEY, 'abcdefghijkl', aad), 'base64');
        const ok = decryptResource(
          { ciphertext: sealed.toString('base64'), nonce: 'abcdefghijkl', associated_data: aad },
          VECTOR_KEY,
          40002,
        );
        expect(ok).toBe(plaintext);
        const bit = flip % (sealed.length * 8);
        sealed[bit >> 3]! ^= 1 << (bit & 7);
        expect(() =>
          decryptResource(
            { ciphertext: sealed.toString('base64'), nonce: 'abcdefghijkl', associated_data: aad },
            VECTOR_KEY,
            40002,
          ),
        ).toThrowError(PayError);
      }),
      { numRuns: 200 },
    );
  });
});

describe('signing strings (A.2, A.3, A.7)', () => {
  it('builds the documented request string, ending with an empty body line for GET', () => {
    expect(
      requestMessage('GET', '/v3/certificates', '1554208460', '593BEC0C930BF1AFEB40B4A08C8FB242', ''),
    ).toBe('GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n');
  });

  it('builds the response string over the raw bytes, and TIMESTAMP\\nNONCE\\n\\n for an empty body', () => {
    const body = Buffer.from('{"prepay_id":"wx201410272009395522657a690389285100"}');
    expect(responseMessage('1554209980', 'c5ac7061fccab6bf3e254dcf98995b8c', body).toString()).toBe(
      '1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{"prepay_id":"wx201410272009395522657a690389285100"}\n',
    );
    expect(responseMessage('1', 'n', Buffer.alloc(0)).toString()).toBe('1\nn\n\n');
  });

  it('builds the JSAPI paySign string with package as the fourth line', () => {
    expect(
      jsapiPayMessage(
        'wx8888888888888888',
        '1414561699',
        '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
        'prepay_id=wx201410272009395522657a690389285100',
      ),
    ).toBe(
      'wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n',
    );
  });

  it('builds the APP sign string with the prepayid (not Sign=WXPay) as the fourth line', () => {
    expect(
      appPayMessage(
        'wx8888888888888888',
        '1414561699',
        '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
        'WX1217752501201407033233368018',
      ),
    ).toBe(
      'wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nWX1217752501201407033233368018\n',
    );
  });

  it('signs SHA256withRSA so that node:crypto verifies it, and rejects a changed message', () => {
    const message = jsapiPayMessage('wx1', '1', 'nonce', 'prepay_id=1');
    const signature = rsaSign(message, merchant.privateKey);
    expect(verifiesIndependently(message, signature)).toBe(true);
    expect(rsaVerify(message, signature, merchant.publicKey)).toBe(true);
    expect(rsaVerify(`${message}x`, signature, merchant.publicKey)).toBe(false);
    expect(rsaVerify(message, 'not base64 at all', merchant.publicKey)).toBe(false);
  });

  it('produces an Authorization header that an independent parser verifies', () => {
    const header = authorizationHeader({
      mchId: '1900009191',
      serialNo: 'ABC',
      privateKey: merchant.privateKey,
      method: 'POST',
      canonicalUrl: '/v3/pay/transactions/native',
      body: '{"a":1}',
      timestamp: '1554208460',
      nonce: '593BEC0C930BF1AFEB40B4A08C8FB242',
    });
    const parsed = parseAuthorization(header);
    expect(parsed).toMatchObject({ mchid: '1900009191', serial_no: 'ABC', timestamp: '1554208460' });
    const request = {
      method: 'POST',
      url: '/v3/pay/transactions/native',
      headers: { authorization: header },
      body: '{"a":1}',
    };
    expect(verifyAuthorization(request, merchant.publicKey)).not.toBeNull();
    expect(verifyAuthorization({ ...request, body: '{"a":2}' }, merchant.publicKey)).toBeNull();
  });

  it('makes 32-character base62 nonces that differ', () => {
    const nonces = new Set(Array.from({ length: 50 }, () => createNonce()));
    expect(nonces.size).toBe(50);
    for (const nonce of nonces) expect(nonce).toMatch(/^[0-9A-Za-z]{32}$/);
  });
});
