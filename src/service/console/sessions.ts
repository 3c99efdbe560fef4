/**
 * Console sessions. The id is 256 random bits handed to the browser once; the store keeps only its
 * SHA-256, so a copy of the table opens no session. A session ends after 30 minutes unused or 12
 * hours after sign-in, whichever comes first, and is never carried across a sign-in or a change of
 * privilege: those make a new id and drop the old one.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { ConsoleSessionRow, ConsoleUserRow, Database } from '../../store/schema.ts';

export const IDLE_MS = 30 * 60_000;
export const ABSOLUTE_MS = 12 * 3600_000;
/** last_seen_at is written at most this often, not on every page. */
const TOUCH_EVERY_MS = 60_000;

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

type Db = Kysely<Database> | Transaction<Database>;

export interface SessionStart {
  userId: number;
  stage: 'totp' | 'full';
  ip: string | null;
  userAgent: string | null;
  now: Date;
  /** The session this one replaces (sign-in from a pre-set cookie, second factor, enrolment). */
  replaces?: string | null;
}

/** Creates a session and returns its id, the only time the id exists outside the browser. */
export async function startSession(db: Db, start: SessionStart): Promise<string> {
  if (start.replaces) await endSession(db, start.replaces);
  const id = randomBytes(32).toString('base64url');
  await db
    .insertInto('console_sessions')
    .values({
      id_hash: hashSessionId(id),
      user_id: start.userId,
      stage: start.stage,
      ip: start.ip,
      user_agent: start.userAgent?.slice(0, 300) ?? null,
      created_at: start.now,
      last_seen_at: start.now,
      expires_at: new Date(start.now.getTime() + ABSOLUTE_MS),
    })
    .execute();
  return id;
}

export async function endSession(db: Db, id: string): Promise<void> {
  await db.deleteFrom('console_sessions').where('id_hash', '=', hashSessionId(id)).execute();
}

export interface ActiveSession {
  session: ConsoleSessionRow;
  user: ConsoleUserRow;
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** The live session of a cookie value, or null: unknown, expired, idle too long, or its user disabled. */
export async function activeSession(
  db: Kysely<Database>,
  id: string,
  now: Date,
): Promise<ActiveSession | null> {
  if (!SESSION_ID.test(id)) return null;
  const idHash = hashSessionId(id);
  const session = await db
    .selectFrom('console_sessions')
    .selectAll()
    .where('id_hash', '=', idHash)
    .executeTakeFirst();
  if (!session) return null;
  const idleSince = new Date(session.last_seen_at).getTime();
  if (new Date(session.expires_at).getTime() <= now.getTime() || idleSince + IDLE_MS <= now.getTime()) {
    await db.deleteFrom('console_sessions').where('id_hash', '=', idHash).execute();
    return null;
  }
  const user = await db
    .selectFrom('console_users')
    .selectAll()
    .where('id', '=', session.user_id)
    .executeTakeFirst();
  if (!user || user.disabled_at !== null) return null;
  if (now.getTime() - idleSince >= TOUCH_EVERY_MS) {
    await db
      .updateTable('console_sessions')
      .set({ last_seen_at: now })
      .where('id_hash', '=', idHash)
      .execute();
  }
  return { session, user };
}
