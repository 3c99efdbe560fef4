/**
 * Forward-only migrations. Each runs once, in order, recorded in vk_pay_migrations; a change to the
 * schema is a new entry at the end, never an edit of an old one. Instances starting together
 * serialise on an advisory lock, so only one of them applies a migration.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.ts';

export interface Migration {
  id: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'payment tables',
    statements: [
      `create table payment_orders (
        id bigint generated always as identity primary key,
        merchant_id text not null,
        out_trade_no text not null,
        provider text not null,
        scene text not null,
        type text not null,
        subject text not null,
        total_fee integer not null check (total_fee > 0),
        refunded_fee integer not null default 0 check (refunded_fee >= 0 and refunded_fee <= total_fee),
        status text not null,
        user_id text,
        openid text,
        custom jsonb not null default '{}'::jsonb,
        mch_id text,
        app_id text,
        transaction_id text,
        client_ip text,
        paid_at timestamptz,
        closed_at timestamptz,
        expire_at timestamptz,
        user_order_success boolean not null default false,
        gateway_payload jsonb,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now(),
        version integer not null default 0,
        constraint payment_orders_merchant_out_trade_no unique (merchant_id, out_trade_no)
      )`,
      'create index payment_orders_user_id on payment_orders (user_id)',
      'create index payment_orders_status on payment_orders (status)',
      'create index payment_orders_create_date on payment_orders (create_date)',
      `create table payment_refunds (
        id bigint generated always as identity primary key,
        order_id bigint not null references payment_orders (id),
        merchant_id text not null,
        out_trade_no text not null,
        out_refund_no text not null,
        refund_fee integer not null check (refund_fee > 0),
        total_fee integer not null,
        reason text,
        status text not null,
        refund_id text,
        success_time timestamptz,
        gateway_payload jsonb,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now(),
        version integer not null default 0,
        constraint payment_refunds_merchant_out_refund_no unique (merchant_id, out_refund_no)
      )`,
      'create index payment_refunds_order_id on payment_refunds (order_id)',
      `create table payment_logs (
        id bigint generated always as identity primary key,
        type text not null,
        status text not null,
        out_trade_no text,
        provider text,
        amount integer,
        user_id text,
        error jsonb,
        ip text,
        user_agent text,
        response_ms integer,
        create_date timestamptz not null default now()
      )`,
      'create index payment_logs_create_date on payment_logs (create_date)',
      'create index payment_logs_out_trade_no on payment_logs (out_trade_no)',
      `create table payment_errors (
        id bigint generated always as identity primary key,
        code integer not null,
        message text not null,
        action text not null,
        gateway_code text,
        out_trade_no text,
        provider text,
        payload jsonb,
        stack text,
        create_date timestamptz not null default now()
      )`,
      'create index payment_errors_create_date on payment_errors (create_date)',
      `create table payment_notify_events (
        id bigint generated always as identity primary key,
        provider text not null,
        event_id text not null,
        out_trade_no text,
        payload jsonb not null,
        result text not null,
        create_date timestamptz not null default now(),
        constraint payment_notify_events_provider_event unique (provider, event_id)
      )`,
    ],
  },
  {
    id: 2,
    name: 'payment reviews',
    statements: [
      // What needs a person: money that arrived for a closed order, a second payment, a refund the
      // gateway could not complete. One row per case, however often the gateway reports it.
      `create table payment_reviews (
        id bigint generated always as identity primary key,
        merchant_id text not null,
        kind text not null,
        reference text not null,
        out_trade_no text,
        provider text,
        amount integer,
        details jsonb,
        status text not null default 'OPEN',
        note text,
        create_date timestamptz not null default now(),
        resolve_date timestamptz,
        constraint payment_reviews_once unique (merchant_id, kind, reference)
      )`,
      'create index payment_reviews_status on payment_reviews (merchant_id, status, create_date)',
    ],
  },
];

/** Applies every migration not yet recorded. Returns the ids it applied. */
export async function migrate(
  db: Kysely<Database>,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(tx);
    await sql`create table if not exists vk_pay_migrations (
      id integer primary key,
      name text not null,
      applied_at timestamptz not null default now()
    )`.execute(tx);
    const done = await sql<{ id: number }>`select id from vk_pay_migrations`.execute(tx);
    const applied = new Set(done.rows.map((row) => row.id));
    const ran: number[] = [];
    for (const migration of [...migrations].sort((a, b) => a.id - b.id)) {
      if (applied.has(migration.id)) continue;
      for (const statement of migration.statements) await sql.raw(statement).execute(tx);
      await sql`insert into vk_pay_migrations (id, name) values (${migration.id}, ${migration.name})`.execute(
        tx,
      );
      ran.push(migration.id);
    }
    return ran;
  });
}

/** An arbitrary constant shared by every VK-Pay instance on the database. */
const LOCK_KEY = 7_310_424_001;
