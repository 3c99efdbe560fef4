/**
 * application/x-www-form-urlencoded decoding for notifications: bytes are percent-decoded once
 * (values may legitimately contain "%", C.7) and then read in the charset the gateway declared.
 */
import { PayError } from '../../core/errors.ts';

const CHARSETS: Readonly<Record<string, string>> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  gbk: 'gbk',
  gb2312: 'gbk',
  gb18030: 'gb18030',
};

function badForm(message: string, field = 'body'): PayError {
  return new PayError(40001, { field, message: `alipay notification ${message}` });
}

function percentDecode(text: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i += 1) {
    const char = text.charCodeAt(i);
    if (char === 0x2b) bytes.push(0x20);
    else if (char === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(char & 0xff);
  }
  return Uint8Array.from(bytes);
}

/** The declared charset: the Content-Type parameter, else the form's own `charset` field. */
export function formCharset(contentType: string | undefined, raw: Buffer): string {
  const fromHeader = /charset=["']?([\w-]+)/i.exec(contentType ?? '')?.[1];
  // The charset field's name and value are ASCII in every charset Alipay uses.
  const fromBody = /(?:^|&)charset=([\w-]+)/.exec(raw.toString('latin1'))?.[1];
  const declared = (fromHeader ?? fromBody ?? 'utf-8').toLowerCase();
  const charset = CHARSETS[declared];
  if (!charset) throw badForm(`charset ${JSON.stringify(declared.slice(0, 32))} is not supported`, 'charset');
  return charset;
}

/** Decodes every field once; a repeated field is ambiguous and refused. */
export function decodeForm(raw: Buffer, charset: string): Record<string, string> {
  const decoder = new TextDecoder(charset, { fatal: true });
  const fields: Record<string, string> = Object.create(null);
  const text = raw.toString('latin1');
  if (text.trim() === '') throw badForm('has an empty body');
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const [rawKey, rawValue] = equals < 0 ? [pair, ''] : [pair.slice(0, equals), pair.slice(equals + 1)];
    let key: string;
    let value: string;
    try {
      key = decoder.decode(percentDecode(rawKey));
      value = decoder.decode(percentDecode(rawValue));
    } catch {
      throw badForm(`is not valid ${charset}`);
    }
    if (key in fields) throw badForm(`repeats the field ${JSON.stringify(key.slice(0, 64))}`, key);
    fields[key] = value;
  }
  return { ...fields };
}
