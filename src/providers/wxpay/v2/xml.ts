/**
 * The XML of WeChat Pay APIv2: one <xml> root holding flat text fields, values often in CDATA.
 * Parsing is strict: no DOCTYPE (so no entity of ours to expand), no nesting, no repeated field,
 * no processing instruction but the declaration; anything else is not a v2 message.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type XmlFields = Record<string, string>;

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_BYTES = 256 * 1024;

const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  // Only the five predefined entities are ever expanded: a DOCTYPE is refused before parsing.
  processEntities: true,
  htmlEntities: false,
  isArray: () => false,
  cdataPropName: false,
  commentPropName: false,
});

export class XmlFormatError extends Error {}

/** The fields of a v2 message; throws XmlFormatError for anything that is not a flat <xml>. */
export function parseXml(raw: Buffer | string): XmlFields {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (Buffer.byteLength(text, 'utf8') > MAX_BYTES) throw new XmlFormatError('message too large');
  if (/<!DOCTYPE|<!ENTITY|<!ELEMENT|<!ATTLIST/i.test(text))
    throw new XmlFormatError('DOCTYPE is not allowed');
  const withoutDeclaration = text.replace(/^\uFEFF?\s*<\?xml[^?]*\?>/, '');
  if (/<\?/.test(withoutDeclaration)) throw new XmlFormatError('processing instructions are not allowed');
  if (XMLValidator.validate(text) !== true) throw new XmlFormatError('not well-formed XML');
  // Repeated fields would collapse or become arrays: counted on the text itself.
  let parsed: unknown;
  try {
    parsed = parser.parse(text);
  } catch {
    throw new XmlFormatError('not well-formed XML');
  }
  if (!parsed || typeof parsed !== 'object') throw new XmlFormatError('no root element');
  const roots = Object.keys(parsed);
  if (roots.length !== 1 || roots[0] !== 'xml') throw new XmlFormatError('the root element must be <xml>');
  const root = (parsed as Record<string, unknown>).xml;
  if (root === '' || root === undefined) return {};
  if (!root || typeof root !== 'object' || Array.isArray(root))
    throw new XmlFormatError('<xml> must hold fields');
  const fields: XmlFields = {};
  for (const [name, value] of Object.entries(root as Record<string, unknown>)) {
    if (!FIELD_NAME.test(name)) throw new XmlFormatError(`field name ${JSON.stringify(name.slice(0, 32))}`);
    if (typeof value !== 'string') throw new XmlFormatError(`field ${name} is not text`);
    fields[name] = value;
  }
  const outsideCdata = withoutDeclaration.replace(/<!\[CDATA\[[\s\S]*?]]>/g, '');
  const opened = outsideCdata.match(/<([A-Za-z_][A-Za-z0-9_]*)[\s/>]/g)?.length ?? 0;
  if (opened !== Object.keys(fields).length + 1) throw new XmlFormatError('repeated or nested fields');
  return fields;
}

function cdata(value: string): string {
  // "]]>" cannot appear inside one CDATA section: it is split across two.
  return `<![CDATA[${value.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

/** A v2 message from fields; undefined and null fields are left out. */
export function buildXml(fields: Record<string, string | number | undefined | null>): string {
  let body = '<xml>';
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    if (!FIELD_NAME.test(name))
      throw new Error(`invalid XML field name ${JSON.stringify(name.slice(0, 32))}`);
    body += `<${name}>${typeof value === 'number' ? String(value) : cdata(value)}</${name}>`;
  }
  return `${body}</xml>`;
}

/** A String(n) field counted in bytes (body is String(128)): cut at a character boundary. */
export function cutBytes(text: string, maxBytes: number): string {
  let out = '';
  for (const char of text) {
    if (Buffer.byteLength(out + char, 'utf8') > maxBytes) break;
    out += char;
  }
  return out;
}
