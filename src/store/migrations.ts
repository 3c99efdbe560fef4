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
  {
    id: 3,
    name: 'merchant webhooks',
    statements: [
      // Where a merchant's backend hears of its payments. API-made endpoints keep their signing
      // secret sealed (AES-256-GCM); endpoints from the configuration file keep it there.
      `create table webhook_endpoints (
        id text primary key,
        merchant_id text not null,
        url text not null,
        order_types text[],
        events text[],
        description text,
        source text not null,
        secret_sealed jsonb,
        previous_secret_sealed jsonb,
        previous_secret_until timestamptz,
        timeout_ms integer not null,
        enabled boolean not null default true,
        failures integer not null default 0,
        paused_until timestamptz,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now(),
        version integer not null default 0
      )`,
      'create index webhook_endpoints_merchant on webhook_endpoints (merchant_id)',
      // The outbox: one row per change the merchant must learn of, written in the change's transaction.
      `create table webhook_events (
        id text primary key,
        merchant_id text not null,
        type text not null,
        order_type text,
        out_trade_no text,
        out_refund_no text,
        review_id bigint,
        payload jsonb not null,
        create_date timestamptz not null default now()
      )`,
      'create index webhook_events_merchant_date on webhook_events (merchant_id, create_date)',
      'create index webhook_events_order on webhook_events (merchant_id, out_trade_no)',
      // One row per event and endpoint. next_attempt_at drives both the retry schedule and the claim
      // lease of a delivery in flight, so one partial index finds everything due.
      `create table webhook_deliveries (
        id bigint generated always as identity primary key,
        event_id text not null references webhook_events (id),
        endpoint_id text not null references webhook_endpoints (id),
        merchant_id text not null,
        confirms_order boolean not null default false,
        status text not null,
        attempts integer not null default 0,
        step integer not null default 0,
        next_attempt_at timestamptz,
        claimed_by text,
        last_status_code integer,
        last_error text,
        delivered_at timestamptz,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now()
      )`,
      `create index webhook_deliveries_due on webhook_deliveries (endpoint_id, next_attempt_at)
        where status in ('PENDING', 'DELIVERING')`,
      'create index webhook_deliveries_event on webhook_deliveries (event_id)',
      'create index webhook_deliveries_failed on webhook_deliveries (merchant_id, status, create_date)',
      `create table webhook_attempts (
        id bigint generated always as identity primary key,
        delivery_id bigint not null references webhook_deliveries (id),
        event_id text not null,
        endpoint_id text not null,
        attempt integer not null,
        instance text not null,
        started_at timestamptz not null,
        latency_ms integer not null,
        status_code integer,
        response_excerpt text,
        error text,
        ok boolean not null,
        constraint webhook_attempts_once unique (delivery_id, attempt)
      )`,
      'create index webhook_attempts_event on webhook_attempts (event_id)',
      // Settings the service keeps for itself (the development key that seals endpoint secrets).
      `create table vk_pay_settings (
        name text primary key,
        value text not null,
        create_date timestamptz not null default now()
      )`,
    ],
  },
  {
    id: 4,
    name: 'fair healing and reconciled days',
    statements: [
      // Each unpaid order carries its own next check, so a tick takes what is due, oldest first,
      // however many others wait.
      'alter table payment_orders add column next_check_at timestamptz',
      `update payment_orders set next_check_at = create_date + interval '1 minute'
        where status in ('NOTPAY', 'USERPAYING')`,
      `create index payment_orders_due on payment_orders (next_check_at)
        where status in ('NOTPAY', 'USERPAYING')`,
      // One row per gateway bill reconciled: which days are done, and what each found.
      `create table reconciled_days (
        provider text not null,
        merchant_id text not null,
        bill_date date not null,
        status text not null,
        outcome jsonb,
        attempts integer not null default 0,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now(),
        primary key (provider, merchant_id, bill_date)
      )`,
    ],
  },
  {
    id: 5,
    name: 'service instances',
    statements: [
      // Each running `vk-pay serve` keeps a row here, its heartbeat renewed; a row unrenewed for a
      // while is a process that died.
      `create table service_instances (
        id text primary key,
        host text not null,
        pid integer not null,
        shared_cache boolean not null,
        started_at timestamptz not null default now(),
        heartbeat_at timestamptz not null default now()
      )`,
    ],
  },
  {
    id: 6,
    name: 'checkouts',
    statements: [
      // One row per checkout issued: the buyer's choice and the merchant's cancellation both take
      // this row's lock, so a cancel racing the choice has exactly one outcome.
      `create table checkouts (
        merchant_id text not null,
        out_trade_no text not null,
        expires_at timestamptz not null,
        cancelled_at timestamptz,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now(),
        primary key (merchant_id, out_trade_no)
      )`,
    ],
  },
  {
    id: 7,
    name: 'earlier payment attempts',
    statements: [
      // The gateways an order was offered at before the buyer switched method: each was closed there
      // (or never existed there), and a late payment through one still settles the order.
      `alter table payment_orders add column attempts jsonb not null default '[]'::jsonb`,
    ],
  },
  {
    id: 8,
    name: 'console accounts',
    statements: [
      // Operators of the console. merchant_ids null: every merchant; else only those listed.
      // password_hash carries its own scrypt parameters; totp_secret is sealed like webhook secrets.
      `create table console_users (
        id bigint generated always as identity primary key,
        name text not null unique,
        role text not null check (role in ('viewer', 'operator', 'admin')),
        merchant_ids jsonb,
        password_hash text not null,
        totp_secret jsonb,
        totp_last_step bigint,
        disabled_at timestamptz,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now()
      )`,
      // Only the SHA-256 of a session id is kept: a copy of the table opens no session.
      `create table console_sessions (
        id_hash text primary key,
        user_id bigint not null references console_users (id) on delete cascade,
        stage text not null check (stage in ('totp', 'full')),
        pending_totp jsonb,
        ip text,
        user_agent text,
        created_at timestamptz not null default now(),
        last_seen_at timestamptz not null default now(),
        expires_at timestamptz not null
      )`,
      'create index console_sessions_user on console_sessions (user_id)',
      `create table console_audit (
        id bigint generated always as identity primary key,
        at timestamptz not null default now(),
        actor_id bigint,
        actor_name text,
        action text not null,
        target text,
        before jsonb,
        after jsonb,
        ip text,
        user_agent text
      )`,
      'create index console_audit_action on console_audit (action, id)',
      'create index console_audit_actor on console_audit (actor_name, id)',
      // The audit log is append-only: the database itself refuses to change or remove a row.
      `create function console_audit_append_only() returns trigger language plpgsql as $$
        begin
          raise exception 'console_audit is append-only';
        end
      $$`,
      `create trigger console_audit_no_change before update or delete on console_audit
        for each row execute function console_audit_append_only()`,
      `create trigger console_audit_no_truncate before truncate on console_audit
        for each statement execute function console_audit_append_only()`,
    ],
  },
  {
    id: 9,
    name: 'console indexes',
    statements: [
      // The console lists orders newest first in keyset pages on (create_date, id): across every
      // merchant the create_date index serves (ties sorted on the fly); within one merchant, or one
      // user, these; exact lookups by number or transaction id skip the date order.
      'create index if not exists payment_orders_merchant_listing on payment_orders (merchant_id, create_date, id)',
      'create index if not exists payment_orders_out_trade_no on payment_orders (out_trade_no)',
      `create index if not exists payment_orders_transaction_id on payment_orders (transaction_id)
        where transaction_id is not null`,
      'create index if not exists payment_orders_user_listing on payment_orders (user_id, create_date, id)',
      // The overview aggregates a range of days: these cover every column it reads, so PostgreSQL
      // answers from the index alone (an index-only scan) without visiting the table's rows.
      `create index if not exists payment_orders_overview on payment_orders (create_date)
        include (merchant_id, status, total_fee)`,
      `create index if not exists payment_refunds_overview on payment_refunds (create_date)
        include (merchant_id, status, refund_fee)`,
      `create index if not exists payment_logs_overview on payment_logs (create_date)
        include (type, provider, status, response_ms, out_trade_no, error)`,
      // An order's timeline.
      'create index if not exists payment_errors_out_trade_no on payment_errors (out_trade_no)',
      'create index if not exists payment_notify_events_out_trade_no on payment_notify_events (out_trade_no)',
      'create index if not exists payment_reviews_order on payment_reviews (merchant_id, out_trade_no)',
      'create index if not exists payment_reviews_listing on payment_reviews (create_date, id)',
    ],
  },
  {
    id: 10,
    name: 'gateway accounts and routes',
    statements: [
      // The merchant's gateway account that took the order: queries, closes, refunds and callbacks
      // go through it whatever the routes say later. The route and its side, when a route chose it.
      `alter table payment_orders add column account text not null default 'default'`,
      `alter table payment_orders add column route text`,
      `alter table payment_orders add column variant text`,
      // A route's share as changed at run time (a rollback sets 0), over the config file's.
      `create table route_overrides (
        merchant_id text not null,
        route_id text not null,
        share double precision not null,
        updated_by text not null,
        updated_at timestamptz not null default now(),
        primary key (merchant_id, route_id)
      )`,
      // Every change of an override: who, when, the share before (null: the file's) and after.
      `create table route_override_changes (
        id serial primary key,
        merchant_id text not null,
        route_id text not null,
        share_before double precision,
        share_after double precision not null,
        changed_by text not null,
        changed_at timestamptz not null default now()
      )`,
    ],
  },
  {
    id: 11,
    name: 'journal hourly rollups',
    statements: [
      // The journal summed per closed hour, once over every row (merchant_id '') and once per
      // merchant whose order the row names, so the console's overview reads a few rows an hour
      // instead of every call. Response times are kept whole: each distinct value and how many
      // gateway calls took it, ascending, so percentiles come out as from the rows themselves.
      `create table journal_hourly (
        merchant_id text not null,
        hour timestamptz not null,
        provider text not null,
        operation text not null,
        events integer not null,
        errors integer not null,
        calls integer not null,
        call_errors integer not null,
        latency_ms integer[] not null,
        latency_counts integer[] not null,
        primary key (merchant_id, hour, provider, operation)
      )`,
      // Every hour before rolled_until is in journal_hourly; the rest is read from the journal.
      `create table journal_rollup_progress (
        name text primary key,
        rolled_until timestamptz not null,
        updated_at timestamptz not null default now()
      )`,
    ],
  },
  {
    id: 12,
    name: 'alert history and the deliveries listing',
    statements: [
      // Every alert the monitoring sent: the instance that won the incident's lock on the shared
      // cache writes it, so an incident has one row per announcement however many instances watch.
      `create table monitoring_alerts (
        id bigint generated always as identity primary key,
        alert text not null,
        kind text not null check (kind in ('firing', 'repeated', 'resolved')),
        incident timestamptz not null,
        rate double precision,
        errors integer not null,
        events integer not null,
        threshold double precision not null,
        window_minutes double precision not null,
        by_code jsonb not null default '[]'::jsonb,
        at timestamptz not null,
        unique (alert, incident, kind, at)
      )`,
      'create index monitoring_alerts_at on monitoring_alerts (at)',
      // The console's list of deliveries, newest first across merchants.
      'create index webhook_deliveries_listing on webhook_deliveries (create_date, id)',
    ],
  },
  {
    id: 13,
    name: 'gray release statistics and removing a stored share',
    statements: [
      // A gateway call of an order a route chose carries the merchant, route and side, so the
      // statistics and the automatic rollback compare the two sides without a join.
      'alter table payment_logs add column merchant_id text',
      'alter table payment_logs add column route text',
      'alter table payment_logs add column variant text',
      `create index payment_logs_route on payment_logs (merchant_id, route, create_date)
        where route is not null`,
      // Removing a stored share returns to the config file's: recorded as a change to null.
      'alter table route_override_changes alter column share_after drop not null',
    ],
  },
  {
    id: 14,
    name: 'latency histograms and journal periods',
    statements: [
      // journal_hourly summed over 6-hour periods and days, so a 30- or 90-day overview reads a
      // few hundred rows: a period is written once its last hour is rolled up.
      `create table journal_periods (
        seconds integer not null,
        merchant_id text not null,
        start timestamptz not null,
        provider text not null,
        operation text not null,
        events integer not null,
        errors integer not null,
        calls integer not null,
        call_errors integer not null,
        latency_ms integer[] not null,
        latency_counts integer[] not null,
        primary key (seconds, merchant_id, start, provider, operation)
      )`,
      // Response times are now kept in a fixed histogram (src/service/latency-histogram.ts): the
      // rollup starts over, and until it has caught up the overview reads the journal itself.
      'delete from journal_hourly',
      'delete from journal_rollup_progress',
    ],
  },
  {
    id: 15,
    name: 'transfers to buyers',
    statements: [
      // The payee's identity and name are stored sealed (AES-256-GCM, src/service/sealing.ts) only.
      `create table payment_transfers (
        id bigint generated always as identity primary key,
        merchant_id text not null,
        out_transfer_no text not null,
        provider text not null,
        account text not null default 'default',
        amount integer not null check (amount > 0),
        remark text not null,
        payee_type text not null,
        payee_identity_sealed jsonb not null,
        payee_name_sealed jsonb,
        scene_id text,
        scene_report_infos jsonb,
        user_recv_perception text,
        user_id text,
        status text not null,
        transfer_id text,
        package_info text,
        fail_reason text,
        requested_by text not null,
        decided_by text,
        decision_note text,
        limit_date text not null,
        next_check_at timestamptz,
        checks integer not null default 0,
        success_time timestamptz,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now(),
        version integer not null default 0,
        constraint payment_transfers_merchant_out_transfer_no unique (merchant_id, out_transfer_no)
      )`,
      'create index payment_transfers_limit on payment_transfers (merchant_id, limit_date)',
      `create index payment_transfers_due on payment_transfers (next_check_at)
        where next_check_at is not null`,
      'create index payment_transfers_status on payment_transfers (status, create_date)',
    ],
  },
  {
    id: 16,
    name: 'profit sharing',
    statements: [
      // An order created for splitting: the gateway keeps its funds frozen until split or unfrozen.
      'alter table payment_orders add column profit_sharing boolean not null default false',
      // A receiver's name is stored sealed (AES-256-GCM, src/service/sealing.ts) only.
      `create table payment_split_receivers (
        id bigint generated always as identity primary key,
        merchant_id text not null,
        provider text not null,
        account text not null default 'default',
        type text not null,
        receiver_account text not null,
        name_sealed jsonb,
        relation_type text,
        custom_relation text,
        bound_at timestamptz,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now(),
        constraint payment_split_receivers_unique unique (merchant_id, provider, account, type, receiver_account)
      )`,
      `create table payment_splits (
        id bigint generated always as identity primary key,
        order_id bigint not null references payment_orders (id),
        merchant_id text not null,
        provider text not null,
        account text not null default 'default',
        out_trade_no text not null,
        out_split_no text not null,
        split_id text,
        kind text not null,
        status text not null,
        finish boolean not null default false,
        amount integer not null check (amount >= 0),
        fail_reason text,
        next_check_at timestamptz,
        checks integer not null default 0,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now(),
        version integer not null default 0,
        constraint payment_splits_merchant_out_split_no unique (merchant_id, out_split_no)
      )`,
      'create index payment_splits_order on payment_splits (order_id)',
      `create index payment_splits_due on payment_splits (next_check_at)
        where next_check_at is not null`,
      `create table payment_split_lines (
        id bigint generated always as identity primary key,
        split_ref bigint not null references payment_splits (id),
        line_no integer not null,
        type text not null,
        receiver_account text not null,
        amount integer not null check (amount > 0),
        description text not null,
        result text not null,
        fail_reason text,
        detail_id text,
        finished_at timestamptz,
        constraint payment_split_lines_unique unique (split_ref, line_no)
      )`,
      `create table payment_split_returns (
        id bigint generated always as identity primary key,
        merchant_id text not null,
        order_id bigint not null references payment_orders (id),
        split_ref bigint not null references payment_splits (id),
        out_return_no text not null,
        receiver_type text not null,
        receiver_account text not null,
        amount integer not null check (amount > 0),
        description text not null,
        status text not null,
        return_id text,
        fail_reason text,
        refund_ref bigint references payment_refunds (id),
        next_check_at timestamptz,
        checks integer not null default 0,
        finished_at timestamptz,
        create_date timestamptz not null default now(),
        update_date timestamptz not null default now(),
        version integer not null default 0,
        constraint payment_split_returns_merchant_out_return_no unique (merchant_id, out_return_no)
      )`,
      'create index payment_split_returns_order on payment_split_returns (order_id)',
      `create index payment_split_returns_due on payment_split_returns (next_check_at)
        where next_check_at is not null`,
    ],
  },
  {
    id: 17,
    name: 'journal rows name their merchant and kind',
    statements: [
      // Which of the merchant's numbers out_trade_no holds (src/core/journal-subject.ts): an order's
      // (its refunds' rows too) or a transfer's; and whose. The console reads a payment's or a
      // transfer's rows by (number, kind, merchant), so an order and a transfer of one number, or two
      // merchants' of one number, no longer show each other's calls. No check on the kind: a new
      // kind is a new value, and an instance that does not know it yet writes 'payment'.
      `alter table payment_logs add column subject_kind text not null default 'payment'`,
      `alter table payment_errors add column subject_kind text not null default 'payment'`,
      'alter table payment_errors add column merchant_id text',
      `alter table payment_notify_events add column subject_kind text not null default 'payment'`,
      'alter table payment_notify_events add column merchant_id text',
      // Rows from before: a payment's, but for the transfer rows, told by what they hold. A log row
      // is a transfer's by its type (transfer, transfer_query, transfer_start, ...), a callback by
      // its result (transfer_success, ...). An error row holds no type: it is a transfer's when only
      // a transfer has its number on its gateway, and when an order has it too, it takes the kind of
      // the failed log row of that number written with it (a failed call writes its error row, then
      // its log row).
      `update payment_logs set subject_kind = 'transfer' where type like 'transfer%'`,
      `update payment_notify_events set subject_kind = 'transfer' where result like 'transfer%'`,
      `update payment_errors e set subject_kind = 'transfer'
        where e.out_trade_no is not null
          and exists (select 1 from payment_transfers t
            where t.out_transfer_no = e.out_trade_no and t.provider = e.provider)
          and (not exists (select 1 from payment_orders o
                where o.out_trade_no = e.out_trade_no and o.provider = e.provider)
            or (select l.subject_kind from payment_logs l
                where l.out_trade_no = e.out_trade_no and l.provider = e.provider and l.status = 'ERROR'
                  and l.create_date >= e.create_date
                order by l.create_date, l.id limit 1) = 'transfer')`,
      // The merchant, where one merchant alone has a thing of that kind, number and gateway; rows of
      // a number two merchants share keep none, and the console leaves them out (it cannot tell).
      ...(['payment_logs', 'payment_errors', 'payment_notify_events'] as const).flatMap((table) => [
        `update ${table} j set merchant_id = o.merchant_id
          from (select out_trade_no, provider, min(merchant_id) as merchant_id from payment_orders
                group by 1, 2 having count(*) = 1) o
          where j.merchant_id is null and j.subject_kind = 'payment'
            and j.out_trade_no = o.out_trade_no and j.provider = o.provider`,
        `update ${table} j set merchant_id = t.merchant_id
          from (select out_transfer_no, provider, min(merchant_id) as merchant_id from payment_transfers
                group by 1, 2 having count(*) = 1) t
          where j.merchant_id is null and j.subject_kind = 'transfer'
            and j.out_trade_no = t.out_transfer_no and j.provider = t.provider`,
      ]),
      // A payment's or transfer's page reads its rows by number, kind and merchant: the number leads,
      // so these also serve every read by number alone, and replace the indexes on the number.
      'create index payment_logs_subject on payment_logs (out_trade_no, subject_kind, merchant_id)',
      'drop index if exists payment_logs_out_trade_no',
      'create index payment_errors_subject on payment_errors (out_trade_no, subject_kind, merchant_id)',
      'drop index if exists payment_errors_out_trade_no',
      `create index payment_notify_events_subject on payment_notify_events
        (out_trade_no, subject_kind, merchant_id)`,
      'drop index if exists payment_notify_events_out_trade_no',
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
