/**
 * The byte-level primitives of WeChat Pay APIv3, written from the protocol description (not from any
 * SDK): the strings that get signed, SHA256withRSA, and AEAD_AES_256_GCM with the APIv3 key.
 */
import { createCipheriv, createDecipheriv, createSign, createVerify, type KeyObject } from 'node:crypto';

/** Every line, the last included, ends with "\n"; a GET has an empty body line. */
export function requestSigningString(
  method: string,
  pathWithQuery: string,
  timestamp: string,
  nonce: string,
  body: string,
): string {
  return `${method}\n${pathWithQuery}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** Responses and notifications sign three lines; a 204 signs an empty body line. */
export function responseSigningString(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export function signSha256Rsa(message: string, privateKey: KeyObject): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(privateKey, 'base64');
}

export function verifySha256Rsa(message: string, signatureBase64: string, publicKey: KeyObject): boolean {
  return createVerify('RSA-SHA256').update(message, 'utf8').verify(publicKey, signatureBase64, 'base64');
}

const GCM_TAG_BYTES = 16;

/** Returns base64(ciphertext || 16-byte tag), the form WeChat puts in `resource.ciphertext`. */
export function encryptAes256Gcm(apiV3Key: string, nonce: string, associatedData: string, plaintext: string) {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const encrypted = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return encrypted.toString('base64');
}

export function decryptAes256Gcm(
  apiV3Key: string,
  nonce: string,
  associatedData: string,
  ciphertextBase64: string,
): string {
  const bytes = Buffer.from(ciphertextBase64, 'base64');
  if (bytes.length < GCM_TAG_BYTES) throw new Error('AEAD_AES_256_GCM ciphertext shorter than its tag');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  decipher.setAAD(Buffer.from(associatedData, 'utf8'));
  decipher.setAuthTag(bytes.subarray(bytes.length - GCM_TAG_BYTES));
  return Buffer.concat([
    decipher.update(bytes.subarray(0, bytes.length - GCM_TAG_BYTES)),
    decipher.final(),
  ]).toString('utf8');
}
