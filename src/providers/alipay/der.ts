/**
 * The little DER reading that Alipay's certificate SNs need: the issuer name as attribute/value
 * pairs, the serial number and the signature algorithm OID. node:crypto's X509Certificate does not
 * expose the algorithm, and its issuer text escapes values, which would change the SN.
 */

interface Tlv {
  tag: number;
  /** First byte of the content. */
  start: number;
  /** One past the last byte of the content. */
  end: number;
}

function malformed(what: string): Error {
  return new Error(`certificate DER is malformed: ${what}`);
}

function readTlv(der: Uint8Array, offset: number, limit = der.length): Tlv {
  if (offset + 2 > limit) throw malformed('truncated header');
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > limit) throw malformed('bad length');
    length = 0;
    for (let i = 0; i < bytes; i += 1) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  const end = start + length;
  if (end > limit) throw malformed('content runs past its container');
  return { tag, start, end };
}

/** The TLVs directly inside a constructed value. */
function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const items: Tlv[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const item = readTlv(der, offset, parent.end);
    items.push(item);
    offset = item.end;
  }
  return items;
}

function decodeOid(bytes: Uint8Array): string {
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (parts.length === 0)
        parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

function decodeString(tag: number, bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes);
  if (tag === 0x1e) return new TextDecoder('utf-16be').decode(buffer); // BMPString
  if (tag === 0x14) return buffer.toString('latin1'); // TeletexString, as OpenSSL reads it
  return buffer.toString('utf8'); // UTF8String, PrintableString, IA5String
}

export interface NameAttribute {
  oid: string;
  value: string;
}

export interface CertificateFields {
  serialHex: string;
  /** Issuer attributes in DER order (country first in Alipay's certificates). */
  issuer: NameAttribute[];
  signatureAlgorithmOid: string;
}

export function readCertificate(der: Uint8Array): CertificateFields {
  const certificate = readTlv(der, 0);
  const [tbs, signatureAlgorithm] = children(der, certificate);
  if (!tbs || !signatureAlgorithm) throw malformed('missing tbsCertificate');
  const fields = children(der, tbs);
  // The version is an explicit [0] tag that v1 certificates leave out.
  const first = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = fields[first];
  const issuer = fields[first + 2];
  if (serial?.tag !== 0x02 || !issuer || issuer.tag !== 0x30) throw malformed('tbsCertificate');
  const algorithmOid = children(der, signatureAlgorithm)[0];
  if (algorithmOid?.tag !== 0x06) throw malformed('signature algorithm');
  const attributes: NameAttribute[] = [];
  for (const rdn of children(der, issuer)) {
    for (const pair of children(der, rdn)) {
      const [type, value] = children(der, pair);
      if (!type || !value || type.tag !== 0x06) throw malformed('issuer name');
      attributes.push({
        oid: decodeOid(der.subarray(type.start, type.end)),
        value: decodeString(value.tag, der.subarray(value.start, value.end)),
      });
    }
  }
  return {
    serialHex: Buffer.from(der.subarray(serial.start, serial.end)).toString('hex'),
    issuer: attributes,
    signatureAlgorithmOid: decodeOid(der.subarray(algorithmOid.start, algorithmOid.end)),
  };
}

/** The DER of every certificate in a PEM bundle, in file order. */
export function pemCertificates(pem: string): Buffer[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) =>
    Buffer.from(block.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''), 'base64'),
  );
}
