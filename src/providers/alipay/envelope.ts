/**
 * Reads the gateway's answer `{"<method>_response":{...},"alipay_cert_sn":"..","sign":".."}`.
 * The signature covers the exact bytes of the inner object as sent (C.4), so the top-level members
 * are located by scanning the raw bytes, never by re-serialising, and the fields the caller gets are
 * parsed from those same verified bytes.
 */

interface Span {
  start: number;
  end: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (byte: number | undefined) =>
  byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

export class MalformedEnvelope extends Error {}

class Scanner {
  position = 0;
  constructor(readonly raw: Uint8Array) {}

  skipSpace(): void {
    while (isSpace(this.raw[this.position])) this.position += 1;
  }

  expect(byte: number): void {
    if (this.raw[this.position] !== byte) {
      throw new MalformedEnvelope(`expected ${String.fromCharCode(byte)} at byte ${this.position}`);
    }
    this.position += 1;
  }

  string(): Span {
    const start = this.position;
    this.expect(QUOTE);
    // Multi-byte UTF-8 never contains an ASCII quote or backslash, so bytes can be scanned directly.
    for (; this.position < this.raw.length; this.position += 1) {
      const byte = this.raw[this.position];
      if (byte === BACKSLASH) this.position += 1;
      else if (byte === QUOTE) {
        this.position += 1;
        return { start, end: this.position };
      }
    }
    throw new MalformedEnvelope('unterminated string');
  }

  value(): Span {
    const start = this.position;
    const first = this.raw[this.position];
    if (first === QUOTE) return this.string();
    if (first === 0x7b || first === 0x5b) {
      let depth = 0;
      while (this.position < this.raw.length) {
        const byte = this.raw[this.position];
        if (byte === QUOTE) {
          this.string();
          continue;
        }
        if (byte === 0x7b || byte === 0x5b) depth += 1;
        else if (byte === 0x7d || byte === 0x5d) depth -= 1;
        this.position += 1;
        if (depth === 0) return { start, end: this.position };
      }
      throw new MalformedEnvelope('unbalanced object');
    }
    // A number or a literal: up to the next separator.
    while (
      this.position < this.raw.length &&
      !/[,}\]\s]/.test(String.fromCharCode(this.raw[this.position]!))
    ) {
      this.position += 1;
    }
    if (this.position === start) throw new MalformedEnvelope(`empty value at byte ${start}`);
    return { start, end: this.position };
  }
}

const text = (raw: Uint8Array, span: Span) =>
  Buffer.from(raw.subarray(span.start, span.end)).toString('utf8');

/** The raw span of each top-level member; a repeated member is refused as ambiguous. */
export function topLevelMembers(raw: Uint8Array): Map<string, Span> {
  try {
    JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    throw new MalformedEnvelope('the body is not JSON');
  }
  const scanner = new Scanner(raw);
  const members = new Map<string, Span>();
  if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) scanner.position = 3;
  scanner.skipSpace();
  scanner.expect(0x7b);
  scanner.skipSpace();
  if (raw[scanner.position] === 0x7d) return members;
  for (;;) {
    scanner.skipSpace();
    const key = JSON.parse(text(raw, scanner.string())) as string;
    scanner.skipSpace();
    scanner.expect(0x3a);
    scanner.skipSpace();
    const value = scanner.value();
    if (members.has(key)) throw new MalformedEnvelope(`member ${key.slice(0, 64)} appears twice`);
    members.set(key, value);
    scanner.skipSpace();
    if (raw[scanner.position] === 0x2c) {
      scanner.position += 1;
      continue;
    }
    scanner.expect(0x7d);
    return members;
  }
}

export interface Envelope {
  /** `<method>_response` or `error_response`. */
  responseKey: string;
  /** The exact bytes the signature covers. */
  signedContent: Buffer;
  /** The inner object, parsed from signedContent. */
  response: Record<string, unknown>;
  sign: string | null;
  alipayCertSn: string | null;
}

function stringMember(raw: Uint8Array, span: Span | undefined): string | null {
  if (!span) return null;
  const value = JSON.parse(text(raw, span)) as unknown;
  return typeof value === 'string' ? value : null;
}

/** The response object for `method`, or the gateway's error_response. */
export function readEnvelope(raw: Uint8Array, method: string): Envelope {
  const members = topLevelMembers(raw);
  const methodKey = `${method.replace(/\./g, '_')}_response`;
  const responseKey = members.has(methodKey) ? methodKey : 'error_response';
  const span = members.get(responseKey);
  if (!span) throw new MalformedEnvelope(`neither ${methodKey} nor error_response is present`);
  const signedContent = Buffer.from(raw.subarray(span.start, span.end));
  const response = JSON.parse(signedContent.toString('utf8')) as unknown;
  if (!response || typeof response !== 'object' || Array.isArray(response)) {
    throw new MalformedEnvelope(`${responseKey} is not an object`);
  }
  return {
    responseKey,
    signedContent,
    response: response as Record<string, unknown>,
    sign: stringMember(raw, members.get('sign')),
    alipayCertSn: stringMember(raw, members.get('alipay_cert_sn')),
  };
}
