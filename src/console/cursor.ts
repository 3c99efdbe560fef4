/**
 * The opaque keyset cursor of the console's lists: base64url of the last row's (create_date, id),
 * the date kept to the microsecond PostgreSQL stores so no row between two pages is skipped or
 * repeated. A cursor that does not decode to such a key is the caller's error (40001).
 */
import { PayError } from '../core/errors.ts';

export interface RowKey {
  /** create_date in UTC with microseconds: 2026-01-02T03:04:05.123456Z. */
  createdAt: string;
  id: number;
}

const KEY_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BASE64URL = /^[A-Za-z0-9_-]{1,200}$/;

/** SQL text of a create_date column in the cursor's form. */
export const KEY_TIME_SQL = `to_char(create_date at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export function encodeCursor(key: RowKey): string {
  return Buffer.from(JSON.stringify([key.createdAt, key.id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: unknown, field = 'after'): RowKey {
  const forged = () =>
    new PayError(40001, { field, message: `${field} is not a cursor this service gave out` });
  if (typeof cursor !== 'string' || !BASE64URL.test(cursor)) throw forged();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw forged();
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) throw forged();
  const [createdAt, id] = decoded as [unknown, unknown];
  if (typeof createdAt !== 'string' || !KEY_TIME.test(createdAt)) throw forged();
  // A date PostgreSQL would refuse (February 31st) must not reach it: it round-trips or it is forged.
  const time = new Date(createdAt);
  if (Number.isNaN(time.getTime()) || time.toISOString().slice(0, 19) !== createdAt.slice(0, 19))
    throw forged();
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw forged();
  return { createdAt, id };
}
