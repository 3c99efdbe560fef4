/**
 * Signing in to the console: the password (throttled per account and per address on the shared
 * cache, so the limit holds across instances), then the second factor when the account has one,
 * and TOTP enrolment. Every outcome writes its audit row; a session is only ever created here,
 * fresh, never promoted from an id the browser brought.
 */
import type { Kysely } from 'kysely';
import type { Cache } from '../../cache/cache.ts';
import { PayError } from '../../core/errors.ts';
import type { ConsoleUserRow, Database } from '../../store/schema.ts';
import type { SecretBox } from '../webhook-settings.ts';
import { checkPassword, publicUser } from './accounts.ts';
import { type Actor, audit } from './audit.ts';
import { decoyHash, hashPassword, verifyPassword } from './passwords.ts';
import { type ActiveSession, endSession, hashSessionId, startSession } from './sessions.ts';
import { acceptedStep, newTotpSecret, openTotp, sealTotp, totpUri } from './totp.ts';

export interface ConsoleDeps {
  db: Kysely<Database>;
  cache: Cache;
  /** Seals TOTP secrets at rest. */
  box: SecretBox;
  now: () => Date;
}

/** Failed sign-ins allowed per account and per address in one window, before 429. */
export const MAX_FAILURES = 5;
export const FAILURE_WINDOW_MS = 15 * 60_000;

/** Where the browser is from: the address and user agent of the request. */
export type Origin = Pick<Actor, 'ip' | 'userAgent'>;

export interface SignInResult {
  sessionId: string;
  user: ConsoleUserRow;
  /** totp: the second factor is still due before anything else. */
  stage: 'totp' | 'full';
}

function blockKeys(name: string, ip: string | null): string[] {
  return [`console:login:block:user:${name.toLowerCase()}`, `console:login:block:ip:${ip ?? '-'}`];
}

/** Refuses with 40008 and the seconds to wait while the account or the address is blocked. */
async function refuseWhileBlocked(deps: ConsoleDeps, name: string, ip: string | null): Promise<void> {
  const now = deps.now().getTime();
  for (const key of blockKeys(name, ip)) {
    // An unreachable cache blocks no one: signing in still needs the password.
    const until = await deps.cache.get<number>(key).catch(() => undefined);
    if (typeof until === 'number' && until > now) {
      const retryAfterSeconds = Math.max(1, Math.ceil((until - now) / 1000));
      throw new PayError(40008, {
        message: `more than ${MAX_FAILURES} failed sign-ins in ${FAILURE_WINDOW_MS / 60_000} minutes`,
        details: { retryAfterSeconds },
      });
    }
  }
}

/** Counts a failure for the account and the address; the fifth in a window blocks until its end. */
async function countFailure(deps: ConsoleDeps, name: string, ip: string | null): Promise<void> {
  const now = deps.now().getTime();
  const window = Math.floor(now / FAILURE_WINDOW_MS);
  const until = (window + 1) * FAILURE_WINDOW_MS;
  const [userBlock, ipBlock] = blockKeys(name, ip);
  const subjects: Array<[string, string]> = [
    [`console:login:fail:user:${name.toLowerCase()}:${window}`, userBlock!],
    [`console:login:fail:ip:${ip ?? '-'}:${window}`, ipBlock!],
  ];
  for (const [counter, block] of subjects) {
    const count = await deps.cache.increment(counter, FAILURE_WINDOW_MS).catch(() => 0);
    if (count >= MAX_FAILURES) await deps.cache.set(block, until, until - now).catch(() => undefined);
  }
}

const wrongCredentials = () =>
  new PayError(40002, { field: 'password', message: 'wrong user name or password' });

export async function signIn(
  deps: ConsoleDeps,
  input: { name: string; password: string; replaces: string | null },
  origin: Origin,
): Promise<SignInResult> {
  const { name, password } = input;
  await refuseWhileBlocked(deps, name, origin.ip);
  const user = await deps.db
    .selectFrom('console_users')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirst();
  // An unknown name costs the same scrypt as a known one, so timing does not tell them apart.
  const check = await verifyPassword(password, user?.password_hash ?? (await decoyHash()));
  if (!user || !check.ok || user.disabled_at !== null) {
    await countFailure(deps, name, origin.ip);
    await audit(deps.db, {
      actor: { id: user?.id ?? null, name: name.slice(0, 64), ...origin },
      action: 'login.failed',
      target: name.slice(0, 64),
      after: { reason: !user ? 'unknown user' : user.disabled_at !== null ? 'disabled' : 'wrong password' },
    });
    throw wrongCredentials();
  }
  const rehashed = check.needsRehash ? await hashPassword(password) : null;
  const stage = user.totp_secret !== null ? 'totp' : 'full';
  const actor: Actor = { id: user.id, name: user.name, ...origin };
  const sessionId = await deps.db.transaction().execute(async (tx) => {
    if (rehashed)
      await tx
        .updateTable('console_users')
        .set({ password_hash: rehashed })
        .where('id', '=', user.id)
        .execute();
    const id = await startSession(tx, {
      userId: user.id,
      stage,
      ...origin,
      now: deps.now(),
      replaces: input.replaces,
    });
    await audit(tx, {
      actor,
      action: stage === 'full' ? 'login' : 'login.password',
      target: user.name,
      ...(rehashed ? { after: { passwordRehashed: true } } : {}),
    });
    return id;
  });
  return { sessionId, user, stage };
}

/** The second step of a sign-in: a code from the account's authenticator ends in a new, full session. */
export async function completeSecondFactor(
  deps: ConsoleDeps,
  active: ActiveSession,
  sessionId: string,
  code: string,
  origin: Origin,
): Promise<string> {
  const { user } = active;
  await refuseWhileBlocked(deps, user.name, origin.ip);
  const actor: Actor = { id: user.id, name: user.name, ...origin };
  if (user.totp_secret === null) throw new PayError(40001, { message: 'this account has no second factor' });
  const secret = openTotp(deps.box, user.totp_secret);
  const step = acceptedStep(secret, code, user.totp_last_step, deps.now());
  if (step === null) {
    await countFailure(deps, user.name, origin.ip);
    await audit(deps.db, { actor, action: 'login.totp_failed', target: user.name });
    throw new PayError(40002, { field: 'code', message: 'wrong or already used code' });
  }
  return deps.db.transaction().execute(async (tx) => {
    // A code is taken once: two requests racing with one code see one success.
    const taken = await tx
      .updateTable('console_users')
      .set({ totp_last_step: step })
      .where('id', '=', user.id)
      .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) !== 1)
      throw new PayError(40002, { field: 'code', message: 'wrong or already used code' });
    const id = await startSession(tx, {
      userId: user.id,
      stage: 'full',
      ...origin,
      now: deps.now(),
      replaces: sessionId,
    });
    await audit(tx, { actor, action: 'login', target: user.name, after: { secondFactor: 'totp' } });
    return id;
  });
}

export interface Enrolment {
  uri: string;
  /** Shown beside the QR code for typing by hand; gone from every answer once enrolled. */
  secret: string;
}

/** Offers a new TOTP secret to the signed-in account, kept (sealed) on its session until confirmed. */
export async function startEnrolment(
  deps: ConsoleDeps,
  active: ActiveSession,
  sessionId: string,
): Promise<Enrolment> {
  let secret: string;
  if (active.session.pending_totp !== null) {
    secret = openTotp(deps.box, active.session.pending_totp);
  } else {
    secret = newTotpSecret();
    await deps.db
      .updateTable('console_sessions')
      .set({ pending_totp: sealTotp(deps.box, secret) })
      .where('id_hash', '=', hashSessionId(sessionId))
      .execute();
  }
  return { uri: totpUri(secret, active.user.name), secret };
}

/** A code from the offered secret makes it the account's second factor; the session id changes. */
export async function confirmEnrolment(
  deps: ConsoleDeps,
  active: ActiveSession,

  code: string,
  origin: Origin,
): Promise<string> {
  const { user, session } = active;
  if (session.pending_totp === null)
    throw new PayError(40001, { field: 'code', message: 'open the enrolment page first' });
  const secret = openTotp(deps.box, session.pending_totp);
  const step = acceptedStep(secret, code, null, deps.now());
  const actor: Actor = { id: user.id, name: user.name, ...origin };
  if (step === null)
    throw new PayError(40001, { field: 'code', message: 'the code does not match; try the next one' });
  return deps.db.transaction().execute(async (tx) => {
    const before = publicUser(user);
    const updated = await tx
      .updateTable('console_users')
      .set({ totp_secret: sealTotp(deps.box, secret), totp_last_step: step, update_date: deps.now() })
      .where('id', '=', user.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    // Other sessions of the account were opened without the factor: they end.
    await tx.deleteFrom('console_sessions').where('user_id', '=', user.id).execute();
    const id = await startSession(tx, { userId: user.id, stage: 'full', ...origin, now: deps.now() });
    await audit(tx, {
      actor,
      action: 'totp.enrolled',
      target: user.name,
      before,
      after: publicUser(updated),
    });
    return id;
  });
}

export async function signOut(
  deps: ConsoleDeps,
  active: ActiveSession,
  sessionId: string,
  origin: Origin,
): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    await endSession(tx, sessionId);
    await audit(tx, {
      actor: { id: active.user.id, name: active.user.name, ...origin },
      action: 'logout',
      target: active.user.name,
    });
  });
}

/**
 * A signed-in user changes their own password: the current one first (throttled like a sign-in, so
 * a session left open does not let anyone try passwords), then the new one is stored, every other
 * session of the user ends and this one gets a new id. Returns the new session id.
 */
export async function changePassword(
  deps: ConsoleDeps,
  active: ActiveSession,
  sessionId: string,
  input: { current: string; next: string },
  origin: Origin,
): Promise<string> {
  const { user } = active;
  const actor: Actor = { id: user.id, name: user.name, ...origin };
  await refuseWhileBlocked(deps, user.name, origin.ip);
  const check = await verifyPassword(input.current, user.password_hash);
  if (!check.ok) {
    await countFailure(deps, user.name, origin.ip);
    await audit(deps.db, {
      actor,
      action: 'password.failed',
      target: user.name,
      after: { reason: 'wrong password' },
    });
    throw new PayError(40002, { field: 'current', message: 'the current password is wrong' });
  }
  const next = checkPassword(input.next);
  if (next === input.current)
    throw new PayError(40001, {
      field: 'password',
      message: 'the new password must differ from the current one',
    });
  const hash = await hashPassword(next);
  return deps.db.transaction().execute(async (tx) => {
    await tx.updateTable('console_users').set({ password_hash: hash }).where('id', '=', user.id).execute();
    const ended = await tx
      .deleteFrom('console_sessions')
      .where('user_id', '=', user.id)
      .where('id_hash', '!=', hashSessionId(sessionId))
      .executeTakeFirst();
    const id = await startSession(tx, {
      userId: user.id,
      stage: 'full',
      ...origin,
      now: deps.now(),
      replaces: sessionId,
    });
    await audit(tx, {
      actor,
      action: 'password.changed',
      target: user.name,
      after: { otherSessionsEnded: Number(ended.numDeletedRows) },
    });
    return id;
  });
}
