/**
 * The signatures of WeChat mini program virtual payment and of its message push: HMAC-SHA256 with
 * the AppKey (paySig, pay_sig) or the buyer's session_key (signature), SHA-1 over the sorted push
 * parameters, and the AES-256-CBC envelope of the push's encrypted (安全) mode.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { PayError } from '../../core/errors.ts';

const hmacHex = (key: string | Buffer, message: string) =>
  createHmac('sha256', key).update(message, 'utf8').digest('hex');

/** wx.requestVirtualPayment's paySig: HMAC-SHA256(AppKey, "requestVirtualPayment&" + signData). */
export function paySigOf(appKey: string, signData: string): string {
  return hmacHex(appKey, `requestVirtualPayment&${signData}`);
}

/** The user-state signature: HMAC-SHA256(session_key, signData), the key taken as its UTF-8 text. */
export function userSignatureOf(sessionKey: string, signData: string): string {
  return hmacHex(sessionKey, signData);
}

/** A server API's pay_sig: HMAC-SHA256(AppKey, uri + "&" + post body), uri without host or query. */
export function apiPaySigOf(appKey: string, uri: string, body: string): string {
  return hmacHex(appKey, `${uri}&${body}`);
}

/** The push URL's signature: SHA-1 of the lexically sorted, concatenated strings. */
export function sha1Sorted(...parts: string[]): string {
  return createHash('sha1')
    .update([...parts].sort().join(''), 'utf8')
    .digest('hex');
}

/** Compares two hex signatures in constant time; false for anything malformed. */
export function sameHex(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected, 'utf8'), Buffer.from(given.toLowerCase(), 'utf8'));
}

/** The 32-byte key of a 43-character EncodingAESKey (base64 without its final "="). */
export function aesKeyOf(encodingAesKey: string): Buffer {
  if (!/^[A-Za-z0-9+/]{43}$/.test(encodingAesKey))
    throw new PayError(40003, {
      field: 'encodingAesKey',
      message: 'encodingAesKey must be 43 characters of base64',
    });
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (key.length !== 32)
    throw new PayError(40003, { field: 'encodingAesKey', message: 'encodingAesKey is not 32 bytes' });
  return key;
}

const BLOCK = 32;

/**
 * The push's Encrypt field: AES-256-CBC, IV the key's first 16 bytes, PKCS#7 padding to 32 bytes,
 * over 16 random bytes, the message length (4 bytes, big-endian), the message and the appid.
 */
export function encryptPush(key: Buffer, random16: Buffer, message: string, appId: string): string {
  const body = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length, 0);
  const plain = Buffer.concat([random16, length, body, Buffer.from(appId, 'utf8')]);
  const pad = BLOCK - (plain.length % BLOCK);
  const padded = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]).toString('base64');
}

/** The message and appid inside an Encrypt field; 40002 when it does not decrypt to that layout. */
export function decryptPush(key: Buffer, encrypted: string): { message: string; appId: string } {
  const refused = (message: string) => new PayError(40002, { field: 'Encrypt', message });
  const data = Buffer.from(encrypted, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw refused('Encrypt is not AES-256-CBC ciphertext');
  let padded: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    padded = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    throw refused('Encrypt does not decrypt');
  }
  const pad = padded[padded.length - 1] ?? 0;
  if (pad < 1 || pad > BLOCK || pad > padded.length) throw refused('Encrypt has a bad padding');
  for (let i = padded.length - pad; i < padded.length; i++)
    if (padded[i] !== pad) throw refused('Encrypt has a bad padding');
  const plain = padded.subarray(0, padded.length - pad);
  if (plain.length < 20) throw refused('Encrypt is too short');
  const length = plain.readUInt32BE(16);
  if (20 + length > plain.length) throw refused('Encrypt has a bad length');
  return {
    message: plain.subarray(20, 20 + length).toString('utf8'),
    appId: plain.subarray(20 + length).toString('utf8'),
  };
}
