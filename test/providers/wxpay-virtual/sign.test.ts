import { createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isPayError } from '../../../src/core/errors.ts';
import {
  aesKeyOf,
  apiPaySigOf,
  decryptPush,
  encryptPush,
  paySigOf,
  sha1Sorted,
  userSignatureOf,
} from '../../../src/providers/wxpay-virtual/sign.ts';
import { sealPush } from '../../../src/sandbox/wxpay-virtual/wire-crypto.ts';

// The example signData of WeChat's wx.requestVirtualPayment documentation.
const SIGN_DATA =
  '{"offerId":"123","buyQuantity":1,"env":0,"currencyType":"CNY","platform":"android","productId":"testproductId","goodsPrice":10,"outTradeNo":"xxxxxx","attach":"testdata"}';

const independentHmac = (key: string, message: string) => {
  const h = createHmac('sha256', Buffer.from(key, 'utf8'));
  h.update(Buffer.from(message, 'utf8'));
  return h.digest().toString('hex');
};

describe('virtual payment signatures', () => {
  it('paySig is HMAC-SHA256 of "requestVirtualPayment&" + signData with the AppKey', () => {
    const appKey = randomBytes(24).toString('base64url');
    expect(paySigOf(appKey, SIGN_DATA)).toBe(independentHmac(appKey, `requestVirtualPayment&${SIGN_DATA}`));
    expect(paySigOf(appKey, SIGN_DATA)).toMatch(/^[0-9a-f]{64}$/);
    expect(paySigOf(appKey, SIGN_DATA)).not.toBe(paySigOf(`${appKey}x`, SIGN_DATA));
  });

  it('signature is HMAC-SHA256 of signData keyed by the session_key text', () => {
    const sessionKey = randomBytes(16).toString('base64');
    expect(userSignatureOf(sessionKey, SIGN_DATA)).toBe(independentHmac(sessionKey, SIGN_DATA));
    // The key is the base64 text itself, not its decoded bytes.
    const decodedKey = createHmac('sha256', Buffer.from(sessionKey, 'base64'))
      .update(SIGN_DATA)
      .digest('hex');
    expect(userSignatureOf(sessionKey, SIGN_DATA)).not.toBe(decodedKey);
  });

  it('an API pay_sig covers the URI, "&" and the exact body', () => {
    const appKey = 'k'.repeat(32);
    const body = '{"order_id":"VP00000001","env":1}';
    expect(apiPaySigOf(appKey, '/xpay/query_order', body)).toBe(
      independentHmac(appKey, `/xpay/query_order&${body}`),
    );
    expect(apiPaySigOf(appKey, '/xpay/query_order', body)).not.toBe(
      apiPaySigOf(appKey, '/xpay/query_order', '{"env":1,"order_id":"VP00000001"}'),
    );
  });

  it('the push signatures are SHA-1 over the sorted strings joined without separator', () => {
    const [token, timestamp, nonce, encrypt] = ['AAAtoken', '1714112445', '415670741', 'Zm9vYmFy'];
    const expected = createHash('sha1').update([token, timestamp, nonce].sort().join('')).digest('hex');
    expect(sha1Sorted(token, timestamp, nonce)).toBe(expected);
    expect(sha1Sorted(nonce, token, timestamp)).toBe(expected);
    expect(sha1Sorted(token, timestamp, nonce, encrypt)).toBe(
      createHash('sha1').update([encrypt, nonce, timestamp, token].sort().join('')).digest('hex'),
    );
  });
});

describe('the encrypted push envelope', () => {
  const encodingAesKey = randomBytes(32).toString('base64').slice(0, 43);
  const key = aesKeyOf(encodingAesKey);
  const message = JSON.stringify({
    Event: 'xpay_goods_deliver_notify',
    OutTradeNo: 'VP12345678',
    note: '虚拟支付',
  });

  it('decodes a 43-character EncodingAESKey to 32 bytes and refuses others', () => {
    expect(key).toHaveLength(32);
    expect(() => aesKeyOf('short')).toThrow();
  });

  it('encrypts as AES-256-CBC, IV the key head, 32-byte PKCS#7, random|length|msg|appid', () => {
    const random = randomBytes(16);
    const encrypted = encryptPush(key, random, message, 'wx1234567890abcdef');
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    const padded = Buffer.concat([decipher.update(Buffer.from(encrypted, 'base64')), decipher.final()]);
    expect(padded.length % 32).toBe(0);
    const pad = padded[padded.length - 1] ?? 0;
    expect(pad).toBeGreaterThanOrEqual(1);
    expect(pad).toBeLessThanOrEqual(32);
    const plain = padded.subarray(0, padded.length - pad);
    expect(plain.subarray(0, 16).equals(random)).toBe(true);
    const length = plain.readUInt32BE(16);
    expect(length).toBe(Buffer.byteLength(message));
    expect(plain.subarray(20, 20 + length).toString()).toBe(message);
    expect(plain.subarray(20 + length).toString()).toBe('wx1234567890abcdef');
  });

  it('decrypts what the emulator seals with its own code, and refuses a flipped byte', () => {
    const sealed = sealPush(encodingAesKey, message, 'wx1234567890abcdef');
    expect(decryptPush(key, sealed)).toEqual({ message, appId: 'wx1234567890abcdef' });
    const bytes = Buffer.from(sealed, 'base64');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x55;
    let code = 0;
    try {
      const opened = decryptPush(key, bytes.toString('base64'));
      // A flipped byte that still unpads cannot keep the message and appid intact.
      code = opened.message === message && opened.appId === 'wx1234567890abcdef' ? 0 : 40002;
    } catch (error) {
      code = isPayError(error) ? error.code : -1;
    }
    expect(code).toBe(40002);
    const otherKey = aesKeyOf(randomBytes(32).toString('base64').slice(0, 43));
    expect(() => {
      const opened = decryptPush(otherKey, sealed);
      if (opened.message !== message) throw new Error('garbage');
    }).toThrow();
  });
});
