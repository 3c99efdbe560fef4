import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decryptAes256Gcm,
  encryptAes256Gcm,
  requestSigningString,
  responseSigningString,
  signSha256Rsa,
  verifySha256Rsa,
} from '../../../src/sandbox/wxpay/wire-crypto.ts';

// protocols.md A.10: the vectors that need no third-party key.
const VECTOR_KEY = 'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb';

describe('AEAD_AES_256_GCM (protocols.md A.10)', () => {
  it('reproduces the official SDK vector (item 1)', () => {
    expect(encryptAes256Gcm(VECTOR_KEY, 'uluk4a9R25RW', 'associatedData', 'message')).toBe(
      'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=',
    );
    expect(
      decryptAes256Gcm(VECTOR_KEY, 'uluk4a9R25RW', 'associatedData', 'ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI='),
    ).toBe('message');
  });

  it('reproduces the notification resource vector (item 3e)', () => {
    const plaintext =
      '{"mchid":"1230000109","out_trade_no":"T1","transaction_id":"4200000001","trade_state":"SUCCESS","amount":{"total":1,"currency":"CNY"}}';
    const ciphertext = encryptAes256Gcm(VECTOR_KEY, 'fdasflkja484', 'transaction', plaintext);
    expect(Buffer.byteLength(plaintext)).toBe(134);
    expect(ciphertext).toHaveLength(200);
    expect(ciphertext.startsWith('Y/YEfUnbjBvKjySBXpexHPMC5wc2rJu6nKuwHvISC/UZfxhQ')).toBe(true);
    expect(ciphertext.endsWith('rlJMxNveNLPIn8UQ')).toBe(true);
  });

  it('rejects a ciphertext decrypted with the wrong associated data', () => {
    const ciphertext = encryptAes256Gcm(VECTOR_KEY, 'fdasflkja484', 'transaction', '{}');
    expect(() => decryptAes256Gcm(VECTOR_KEY, 'fdasflkja484', 'refund', ciphertext)).toThrow();
  });
});

describe('signing strings (protocols.md A.2, A.3, A.10.3)', () => {
  it('builds the documented request string, ending GET lines with an empty body line', () => {
    expect(
      requestSigningString('GET', '/v3/certificates', '1554208460', '593BEC0C930BF1AFEB40B4A08C8FB242', ''),
    ).toBe('GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n');
  });

  it('keeps the query string and the exact body bytes in a POST string', () => {
    const body = '{"mchid":"1230000109"}';
    expect(
      requestSigningString('POST', '/v3/pay/transactions/out-trade-no/T1/close?x=1', '1', 'n', body),
    ).toBe('POST\n/v3/pay/transactions/out-trade-no/T1/close?x=1\n1\nn\n{"mchid":"1230000109"}\n');
  });

  it('builds the documented response string and the 204 string', () => {
    expect(
      responseSigningString(
        '1554209980',
        'c5ac7061fccab6bf3e254dcf98995b8c',
        '{"prepay_id":"wx201410272009395522657a690389285100"}',
      ),
    ).toBe(
      '1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{"prepay_id":"wx201410272009395522657a690389285100"}\n',
    );
    expect(responseSigningString('1554209980', 'abc', '')).toBe('1554209980\nabc\n\n');
  });

  it('signs with SHA256withRSA deterministically and verifies only the signed message', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const message = responseSigningString('1554209980', 'nonce', '{"a":1}');
    const signature = signSha256Rsa(message, privateKey);
    expect(signSha256Rsa(message, privateKey)).toBe(signature);
    expect(verifySha256Rsa(message, signature, publicKey)).toBe(true);
    expect(verifySha256Rsa(message.replace('1}', '2}'), signature, publicKey)).toBe(false);
  });
});
