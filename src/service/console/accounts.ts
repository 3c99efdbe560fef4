/**
 * Operator accounts: create, list, change role or merchant scope, disable, reset the second factor.
 * Each change writes its audit row in its own transaction, and a change of privilege ends the
 * account's sessions, so the new rights start with a new session.
 */
import type { Kysely, Transaction } from 'kysely';
import { PayError } from '../../core/errors.ts';
import type { ConsoleRole, ConsoleUserRow, Database } from '../../store/schema.ts';
import { type Actor, audit } from './audit.ts';
import { generatePassword, hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.ts';

export const ROLES: readonly ConsoleRole[] = ['viewer', 'operator', 'admin'];

/** What an account looks like outside the store: never its hash or TOTP secret. */
export interface ConsoleUser {
  id: number;
  name: string;
  role: ConsoleRole;
  /** null: every merchant. */
  merchantIds: string[] | null;
  totp: boolean;
  disabled: boolean;
  createdAt: string;
}

export function publicUser(row: ConsoleUserRow): ConsoleUser {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    merchantIds: row.merchant_ids,
    totp: row.totp_secret !== null,
    disabled: row.disabled_at !== null,
    createdAt: new Date(row.create_date).toISOString(),
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const MERCHANT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new PayError(40001, {
      field: 'name',
      message: 'name must be 1 to 64 letters, digits or ._@- starting with a letter or digit',
    });
  return name;
}

export function checkRole(role: unknown): ConsoleRole {
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role))
    throw new PayError(40001, { field: 'role', message: `role must be one of ${ROLES.join(', ')}` });
  return role as ConsoleRole;
}

/** An empty list is every merchant. */
export function checkMerchantIds(ids: unknown): string[] | null {
  if (ids === undefined || ids === null) return null;
  if (
    !Array.isArray(ids) ||
    ids.length > 100 ||
    ids.some((id) => typeof id !== 'string' || !MERCHANT_ID.test(id))
  )
    throw new PayError(40001, {
      field: 'merchants',
      message: 'merchants must be at most 100 merchant ids of letters, digits and _.-',
    });
  return ids.length === 0 ? null : [...new Set(ids as string[])].sort();
}

export function checkPassword(password: unknown): string {
  if (
    typeof password !== 'string' ||
    password.length < MIN_PASSWORD_LENGTH ||
    password.length > MAX_PASSWORD_LENGTH
  )
    throw new PayError(40001, {
      field: 'password',
      message: `password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`,
    });
  return password;
}

export interface NewUser {
  name: string;
  role: ConsoleRole;
  merchantIds?: string[] | null;
  /** Without one, a password is generated and returned once. */
  password?: string;
}

export async function createUser(
  db: Kysely<Database>,
  actor: Actor,
  input: NewUser,
): Promise<{ user: ConsoleUser; password: string }> {
  const name = checkName(input.name);
  const role = checkRole(input.role);
  const merchantIds = checkMerchantIds(input.merchantIds);
  const password = input.password === undefined ? generatePassword() : checkPassword(input.password);
  const passwordHash = await hashPassword(password);
  const user = await db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto('console_users')
      .values({
        name,
        role,
        merchant_ids: merchantIds === null ? null : JSON.stringify(merchantIds),
        password_hash: passwordHash,
      })
      .onConflict((conflict) => conflict.column('name').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new PayError(40001, { field: 'name', message: `a user named ${name} exists already` });
    const created = publicUser(row);
    await audit(tx, { actor, action: 'user.created', target: name, after: created });
    return created;
  });
  return { user, password };
}

export async function listUsers(db: Kysely<Database>): Promise<ConsoleUser[]> {
  const rows = await db.selectFrom('console_users').selectAll().orderBy('name').execute();
  return rows.map(publicUser);
}

export async function findUser(
  db: Kysely<Database> | Transaction<Database>,
  name: string,
): Promise<ConsoleUserRow | undefined> {
  return db.selectFrom('console_users').selectAll().where('name', '=', name).executeTakeFirst();
}

async function lockedUser(tx: Transaction<Database>, name: string): Promise<ConsoleUserRow> {
  const row = await tx
    .selectFrom('console_users')
    .selectAll()
    .where('name', '=', name)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new PayError(40005, { field: 'name', message: `no console user named ${name}` });
  return row;
}

export interface UserChange {
  role?: ConsoleRole;
  /** null or []: every merchant. */
  merchantIds?: string[] | null;
}

/** Changes role or scope; the account's sessions end, so the change applies at its next sign-in. */
export async function changeUser(
  db: Kysely<Database>,
  actor: Actor,
  name: string,
  change: UserChange,
): Promise<ConsoleUser> {
  const role = change.role === undefined ? undefined : checkRole(change.role);
  const merchantIds = change.merchantIds === undefined ? undefined : checkMerchantIds(change.merchantIds);
  return db.transaction().execute(async (tx) => {
    const row = await lockedUser(tx, name);
    const before = publicUser(row);
    const updated = await tx
      .updateTable('console_users')
      .set({
        ...(role === undefined ? {} : { role }),
        ...(merchantIds === undefined
          ? {}
          : { merchant_ids: merchantIds === null ? null : JSON.stringify(merchantIds) }),
        update_date: new Date(),
      })
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    const after = publicUser(updated);
    await tx.deleteFrom('console_sessions').where('user_id', '=', row.id).execute();
    await audit(tx, { actor, action: 'user.changed', target: name, before, after });
    return after;
  });
}

export async function disableUser(db: Kysely<Database>, actor: Actor, name: string): Promise<ConsoleUser> {
  return db.transaction().execute(async (tx) => {
    const row = await lockedUser(tx, name);
    const before = publicUser(row);
    if (row.disabled_at !== null) return before;
    const updated = await tx
      .updateTable('console_users')
      .set({ disabled_at: new Date(), update_date: new Date() })
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await tx.deleteFrom('console_sessions').where('user_id', '=', row.id).execute();
    const after = publicUser(updated);
    await audit(tx, { actor, action: 'user.disabled', target: name, before, after });
    return after;
  });
}

/** Removes the second factor (a lost phone); the account enrols again at its next sign-in. */
export async function resetTotp(db: Kysely<Database>, actor: Actor, name: string): Promise<ConsoleUser> {
  return db.transaction().execute(async (tx) => {
    const row = await lockedUser(tx, name);
    const before = publicUser(row);
    const updated = await tx
      .updateTable('console_users')
      .set({ totp_secret: null, totp_last_step: null, update_date: new Date() })
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await tx.deleteFrom('console_sessions').where('user_id', '=', row.id).execute();
    const after = publicUser(updated);
    await audit(tx, { actor, action: 'totp.reset', target: name, before, after });
    return after;
  });
}

/** The first admin of a development store without accounts; null when there are accounts already. */
export async function createFirstAdmin(
  db: Kysely<Database>,
): Promise<{ user: ConsoleUser; password: string } | null> {
  const any = await db.selectFrom('console_users').select('id').limit(1).executeTakeFirst();
  if (any) return null;
  try {
    return await createUser(db, SYSTEM, { name: 'admin', role: 'admin' });
  } catch (error) {
    // Another instance starting at the same moment made it first.
    if (error instanceof PayError && error.code === 40001) return null;
    throw error;
  }
}

/** The actor of changes made from the command line or at start. */
export const SYSTEM: Actor = { id: null, name: 'system', ip: null, userAgent: null };
