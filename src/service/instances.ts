/**
 * The instance registry: every running service keeps a row in `service_instances`, renewed by a
 * heartbeat, and removes it when it stops. At start an instance looks at the others that are alive:
 * replay nonces, rate-limit counters, job locks and the result cache live in the cache, so
 * instances on one database must share it (Redis). A start that would mix per-process caches with
 * other instances is refused, unless the operator allowed it explicitly.
 */
import { hostname } from 'node:os';
import { type Kysely, sql } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/schema.ts';

export const HEARTBEAT_INTERVAL_MS = 10_000;
/** A row whose heartbeat is older than this belongs to a process that is gone. */
export const INSTANCE_STALE_MS = 30_000;

/** Serialises instances registering at once, so two starting together see each other. */
const REGISTRY_LOCK = 7_310_424_003;

export interface LiveInstance {
  id: string;
  host: string;
  pid: number;
  sharedCache: boolean;
  startedAt: Date;
}

export class SharedCacheRequiredError extends Error {
  override name = 'SharedCacheRequiredError';
  constructor(
    message: string,
    readonly others: LiveInstance[],
  ) {
    super(message);
  }
}

export interface RegisterOptions {
  /** This process's id (the one its webhook claims carry). */
  id: string;
  /** Whether this instance's cache is shared (Redis) rather than in this process's memory. */
  sharedCache: boolean;
  /** The operator's explicit consent to per-process caches beside other instances. */
  allowLocalCache: boolean;
  /** The store is opened by one process at a time (the locked PGlite folder): rows left are former lives. */
  singleProcessStore: boolean;
  logger: Logger;
  heartbeatMs?: number;
  staleMs?: number;
}

export interface InstanceRegistration {
  readonly id: string;
  /** Stops the heartbeat and removes the row. */
  stop(): Promise<void>;
}

const SWITCH = 'VKPAY_ALLOW_LOCAL_CACHE=1';
const WHY =
  'replay nonces, rate limits, job locks and the result cache would be kept per process: a replayed request accepted by each instance, each allowing the full rate, the same jobs run at once';

function describe(instance: LiveInstance): string {
  return `${instance.id} (pid ${instance.pid} on ${instance.host}, since ${instance.startedAt.toISOString()}, ${instance.sharedCache ? 'Redis' : 'in-memory cache'})`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why this start must be refused beside `others`, or null. */
export function sharedCacheConflict(sharedCache: boolean, others: LiveInstance[]): string | null {
  if (others.length === 0) return null;
  if (!sharedCache) {
    return `${others.length} other instance(s) run on this database: ${others.map(describe).join('; ')}. Without REDIS_URL ${WHY}. Set REDIS_URL, the same on every instance, or ${SWITCH} to run them with separate caches on purpose`;
  }
  const local = others.filter((other) => !other.sharedCache);
  if (local.length === 0) return null;
  return `instance(s) without a shared cache run on this database: ${local.map(describe).join('; ')}. Beside them ${WHY}. Restart them with REDIS_URL, or set ${SWITCH} here to run so on purpose`;
}

export async function registerInstance(
  db: Kysely<Database>,
  options: RegisterOptions,
): Promise<InstanceRegistration> {
  const staleMs = options.staleMs ?? INSTANCE_STALE_MS;
  const host = hostname();
  const row = { id: options.id, host, pid: process.pid, shared_cache: options.sharedCache };

  const refusal = await db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${REGISTRY_LOCK})`.execute(tx);
    await tx
      .deleteFrom('service_instances')
      .where('heartbeat_at', '<', sql<Date>`now() - ${staleMs}::int * interval '1 millisecond'`)
      .execute();
    const rows = await tx.selectFrom('service_instances').selectAll().execute();
    // A row of this host whose process is gone (or that had our pid: a container's former life) is
    // stale however fresh its heartbeat; so is every row when only one process can open the store.
    const gone = rows.filter(
      (other) =>
        options.singleProcessStore ||
        (other.host === host && (other.pid === process.pid || !pidAlive(other.pid))),
    );
    if (gone.length > 0)
      await tx
        .deleteFrom('service_instances')
        .where(
          'id',
          'in',
          gone.map((other) => other.id),
        )
        .execute();
    const others: LiveInstance[] = rows
      .filter((other) => !gone.includes(other))
      .map((other) => ({
        id: other.id,
        host: other.host,
        pid: other.pid,
        sharedCache: other.shared_cache,
        startedAt: new Date(other.started_at),
      }));
    const conflict = sharedCacheConflict(options.sharedCache, others);
    if (conflict && !options.allowLocalCache) return new SharedCacheRequiredError(conflict, others);
    if (conflict)
      options.logger.warn(
        { others: others.map(describe) },
        `running beside other instances: ${SWITCH} is set`,
      );
    await tx.insertInto('service_instances').values(row).execute();
    return null;
  });
  if (refusal) throw refusal;

  let beating: Promise<void> | null = null;
  const beat = async () => {
    try {
      const updated = await db
        .updateTable('service_instances')
        .set({ heartbeat_at: sql<Date>`now()` })
        .where('id', '=', row.id)
        .executeTakeFirst();
      // Missing after a pause longer than the stale time (the database was away): here again.
      if (updated.numUpdatedRows === 0n)
        await db
          .insertInto('service_instances')
          .values(row)
          .onConflict((oc) => oc.doNothing())
          .execute();
    } catch (error) {
      options.logger.warn({ err: error }, 'instance heartbeat failed');
    }
  };
  const timer = setInterval(() => {
    beating ??= beat().finally(() => {
      beating = null;
    });
  }, options.heartbeatMs ?? HEARTBEAT_INTERVAL_MS);
  timer.unref();

  return {
    id: row.id,
    async stop() {
      clearInterval(timer);
      await beating;
      try {
        await db.deleteFrom('service_instances').where('id', '=', row.id).execute();
      } catch (error) {
        options.logger.warn({ err: error }, 'instance could not deregister; its row expires');
      }
    },
  };
}
