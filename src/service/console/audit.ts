/**
 * The console's audit log: one row per state-changing action, written in the transaction of the
 * change itself, so a change without its row cannot commit. Rows are only ever inserted; the
 * database refuses to update or delete them.
 */
import type { Kysely, Transaction } from 'kysely';
import { sanitize } from '../../core/sanitize.ts';
import type { ConsoleAuditRow, Database } from '../../store/schema.ts';

/** Who acted and from where. A failed sign-in has a name but no id. */
export interface Actor {
  id: number | null;
  name: string | null;
  ip: string | null;
  userAgent: string | null;
}

export interface AuditEntry {
  actor: Actor;
  /** A dotted verb: login, login.failed, user.created, refund.created, ... */
  action: string;
  /** What was acted on: a user name, an order number. */
  target?: string | null;
  before?: unknown;
  after?: unknown;
}

const MAX_USER_AGENT = 300;

export async function audit(tx: Kysely<Database> | Transaction<Database>, entry: AuditEntry): Promise<void> {
  await tx
    .insertInto('console_audit')
    .values({
      actor_id: entry.actor.id,
      actor_name: entry.actor.name,
      action: entry.action,
      target: entry.target ?? null,
      before: entry.before === undefined ? null : JSON.stringify(sanitize(entry.before)),
      after: entry.after === undefined ? null : JSON.stringify(sanitize(entry.after)),
      ip: entry.actor.ip,
      user_agent: entry.actor.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
    })
    .execute();
}

export interface AuditFilter {
  action?: string | undefined;
  actor?: string | undefined;
  target?: string | undefined;
  /** Only rows older than this id: the next page after a page ending at it. */
  before?: number | undefined;
  /** ISO dates or times bounding `at`. */
  from?: Date | undefined;
  to?: Date | undefined;
  limit?: number | undefined;
}

export interface AuditPage {
  rows: ConsoleAuditRow[];
  /** The `before` of the next page, or null on the last one. */
  next: number | null;
}

/** Newest first, by keyset on the id. */
export async function listAudit(db: Kysely<Database>, filter: AuditFilter): Promise<AuditPage> {
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
  let query = db.selectFrom('console_audit').selectAll();
  if (filter.action) query = query.where('action', '=', filter.action);
  if (filter.actor) query = query.where('actor_name', '=', filter.actor);
  if (filter.target) query = query.where('target', '=', filter.target);
  if (filter.before !== undefined) query = query.where('id', '<', filter.before);
  if (filter.from) query = query.where('at', '>=', filter.from);
  if (filter.to) query = query.where('at', '<', filter.to);
  const rows = await query
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { rows: page, next: more ? page[page.length - 1]!.id : null };
}
