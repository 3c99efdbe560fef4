/**
 * Field sealing: configured fields of a merchant's custom data (user_info by default) are stored
 * encrypted with AES-256-GCM. The key id travels with each sealed value, so keys can rotate: new
 * values use the active key, old values open with the key they name.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { PayError } from '../core/errors.ts';

export interface SealingConfig {
  /** Key id -> 32-byte key. */
  keys: Record<string, Buffer>;
  activeKeyId: string;
  /** Top-level field names of `custom` to seal. */
  fields: string[];
}

export interface SealedValue {
  $sealed: 'aes-256-gcm';
  kid: string;
  iv: string;
  tag: string;
  data: string;
}

export interface FieldSealer {
  seal(custom: Record<string, unknown>): Record<string, unknown>;
  unseal(custom: Record<string, unknown>): Record<string, unknown>;
  /** One value sealed with the active key, whatever `fields` says (a transfer's payee). */
  sealValue(value: unknown): SealedValue;
  /** A sealed value opened with the key it names. */
  openValue(sealed: unknown): unknown;
}

/**
 * A 32-byte key as operators write it: 64 hex digits, base64 (or base64url) of 32 bytes, or 32
 * characters used as they are (the form `ENCRYPTION_KEY` takes in the original plugin). Null for
 * anything else.
 */
export function parseSealingKey(text: string): Buffer | null {
  const value = text.trim();
  if (/^[0-9a-f]{64}$/i.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) {
    const key = Buffer.from(value, 'base64');
    if (key.length === 32) return key;
  }
  const raw = Buffer.from(value, 'utf8');
  return raw.length === 32 ? raw : null;
}

/** The id a key gets when it is given without one: 'k' and the first 8 hex digits of its SHA-256. */
export function sealingKeyId(key: Buffer): string {
  return `k${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

function isSealed(value: unknown): value is SealedValue {
  return typeof value === 'object' && value !== null && (value as SealedValue).$sealed === 'aes-256-gcm';
}

export function createFieldSealer(config: SealingConfig): FieldSealer {
  for (const [kid, key] of Object.entries(config.keys)) {
    if (key.length !== 32)
      throw new PayError(40003, {
        field: `encryption.keys.${kid}`,
        message: `encryption key ${kid} must be 32 bytes`,
      });
  }
  const active = config.keys[config.activeKeyId];
  if (!active)
    throw new PayError(40003, {
      field: 'encryption.activeKeyId',
      message: `no encryption key ${config.activeKeyId}`,
    });
  // Every key also opens what it sealed under its fingerprint id, whatever id it is listed under now.
  const byFingerprint = new Map(Object.values(config.keys).map((key) => [sealingKeyId(key), key]));
  const sealValue = (value: unknown): SealedValue => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', active, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return {
      $sealed: 'aes-256-gcm',
      kid: config.activeKeyId,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  };
  const openValue = (value: SealedValue, field: string): unknown => {
    const key = config.keys[value.kid] ?? byFingerprint.get(value.kid);
    if (!key)
      throw new PayError(40003, {
        field,
        message: `${field} is sealed with key ${value.kid}, which is not configured`,
      });
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(value.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(value.tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(value.data, 'base64')), decipher.final()]);
    return JSON.parse(plain.toString('utf8'));
  };
  return {
    seal(custom) {
      const copy = { ...custom };
      for (const field of config.fields) {
        if (!(field in copy) || isSealed(copy[field])) continue;
        copy[field] = sealValue(copy[field]);
      }
      return copy;
    },
    unseal(custom) {
      const copy = { ...custom };
      for (const [field, value] of Object.entries(copy)) {
        if (isSealed(value)) copy[field] = openValue(value, field);
      }
      return copy;
    },
    sealValue,
    openValue(sealed) {
      if (!isSealed(sealed)) throw new PayError(50000, { message: 'the value is not sealed' });
      return openValue(sealed, '(sealed value)');
    },
  };
}
