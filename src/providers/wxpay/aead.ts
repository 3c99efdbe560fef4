/**
 * AEAD_AES_256_GCM as WeChat Pay uses it for notification resources and platform certificates:
 * key = APIv3 key bytes, nonce and AAD = UTF-8 strings, ciphertext = base64(encrypted || 16-byte tag).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { type ErrorCode, PayError } from '../../core/errors.ts';

const TAG_BYTES = 16;

export interface EncryptedResource {
  algorithm?: string;
  ciphertext: string;
  nonce: string;
  associated_data?: string | null;
}

/**
 * Decrypts to UTF-8 text. A wrong key, nonce, AAD or any flipped bit fails the tag check and throws
 * `failureCode` (40002 for notifications, 40003 for certificates); the key never appears in the error.
 */
export function decryptResource(
  resource: EncryptedResource,
  apiV3Key: Buffer,
  failureCode: ErrorCode,
): string {
  if (resource.algorithm !== undefined && resource.algorithm !== 'AEAD_AES_256_GCM') {
    throw new PayError(failureCode, {
      field: 'resource.algorithm',
      message: `unsupported resource algorithm ${String(resource.algorithm).slice(0, 32)}`,
    });
  }
  const sealed = Buffer.from(String(resource.ciphertext ?? ''), 'base64');
  const nonce = Buffer.from(String(resource.nonce ?? ''), 'utf8');
  if (sealed.length < TAG_BYTES || nonce.length === 0) {
    throw new PayError(failureCode, {
      field: 'resource.ciphertext',
      message: 'encrypted resource is malformed',
    });
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', apiV3Key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    return Buffer.concat([
      decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    throw new PayError(failureCode, {
      field: 'resource.ciphertext',
      message: 'encrypted resource did not authenticate with the APIv3 key',
    });
  }
}

/** The inverse, for tests and tools: base64(ciphertext || tag). */
export function encryptResource(
  plaintext: string,
  apiV3Key: Buffer,
  nonce: string,
  associatedData = '',
): string {
  const cipher = createCipheriv('aes-256-gcm', apiV3Key, Buffer.from(nonce, 'utf8'), {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString(
    'base64',
  );
}
