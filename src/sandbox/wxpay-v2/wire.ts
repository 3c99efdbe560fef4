/**
 * The emulator's own APIv2 wire: flat <xml> messages and the API-key signature (MD5 or
 * HMAC-SHA256), written apart from the client's so that each checks the other.
 */
import { createCipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type Fields = Record<string, string>;
export type SignType = 'MD5' | 'HMAC-SHA256';

const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: false,
});

/** The fields of a flat <xml> message, or null for anything else (DOCTYPE, nesting, repeats). */
export function readXml(text: string): Fields | null {
  if (text.length > 64 * 1024 || /<!DOCTYPE|<!ENTITY/i.test(text)) return null;
  if (/<\?(?!xml\s)/.test(text) || XMLValidator.validate(text) !== true) return null;
  let parsed: unknown;
  try {
    parsed = parser.parse(text);
  } catch {
    return null;
  }
  const root = (parsed as { xml?: unknown } | null)?.xml;
  if (!parsed || Object.keys(parsed).length !== 1 || root === undefined) return null;
  if (root === '') return {};
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return null;
  const fields: Fields = {};
  for (const [name, value] of Object.entries(root)) {
    if (typeof value !== 'string') return null;
    fields[name] = value;
  }
  return fields;
}

export function writeXml(fields: Record<string, string | number | undefined>): string {
  const parts = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) =>
      typeof value === 'number'
        ? `<${name}>${value}</${name}>`
        : `<${name}><![CDATA[${String(value).replace(/]]>/g, ']]]]><![CDATA[>')}]]></${name}>`,
    );
  return `<xml>${parts.join('')}</xml>`;
}

export function sign(
  fields: Record<string, string | number | undefined>,
  apiKey: string,
  type: SignType,
): string {
  const text = `${Object.keys(fields)
    .filter((k) => k !== 'sign' && fields[k] !== undefined && String(fields[k]) !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&')}&key=${apiKey}`;
  const hash = type === 'MD5' ? createHash('md5') : createHmac('sha256', apiKey);
  return hash.update(text, 'utf8').digest('hex').toUpperCase();
}

export function signatureValid(fields: Fields, apiKey: string, type: SignType): boolean {
  const expected = Buffer.from(sign(fields, apiKey, type));
  const given = Buffer.from(String(fields.sign ?? ''));
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** A signed message: the fields, sign_type when it is not MD5, and sign. */
export function signedXml(
  fields: Record<string, string | number | undefined>,
  apiKey: string,
  type: SignType,
): string {
  const all = { ...fields, ...(type === 'MD5' ? {} : { sign_type: type }) };
  return writeXml({ ...all, sign: sign(all, apiKey, type) });
}

/** req_info of a refund notification: AES-256-ECB under the API key's lowercase hex MD5, base64. */
export function encryptReqInfo(plaintext: string, apiKey: string): string {
  const key = Buffer.from(createHash('md5').update(apiKey).digest('hex'), 'utf8');
  const cipher = createCipheriv('aes-256-ecb', key, null);
  return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64');
}

export function nonce(): string {
  return randomBytes(16).toString('hex');
}

/** yyyyMMddHHmmss, or with `spaced` yyyy-MM-dd HH:mm:ss, in Beijing time. */
export function beijing(ms: number, spaced = false): string {
  const iso = new Date(ms + 8 * 3600_000).toISOString().slice(0, 19);
  return spaced ? iso.replace('T', ' ') : iso.replace(/[-T:]/g, '');
}

export function parseBeijing(value: string): number | null {
  const m = value.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
  return Number.isNaN(ms) ? null : ms;
}
