/** Row types of the payment tables, as Kysely sees them. */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { SubjectKind } from '../core/journal-subject.ts';
import type {
  SplitKind,
  SplitLineStatus,
  SplitReturnStatus,
  SplitStatus,
} from '../core/profit-sharing-states.ts';
import type { OrderStatus, RefundStatus } from '../core/states.ts';
import type { TransferStatus } from '../core/transfer-states.ts';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T = unknown> = ColumnType<T, string, string>;

export interface PaymentOrdersTable {
  id: Generated<number>;
  merchant_id: string;
  out_trade_no: string;
  provider: string;
  scene: string;
  type: string;
  subject: string;
  total_fee: number;
  refunded_fee: Generated<number>;
  status: OrderStatus;
  user_id: string | null;
  openid: string | null;
  custom: ColumnType<Record<string, unknown>, string | undefined, string>;
  mch_id: string | null;
  app_id: string | null;
  transaction_id: string | null;
  client_ip: string | null;
  paid_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  closed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  expire_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** When the healing job next asks the gateway about this unpaid order. */
  next_check_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  user_order_success: Generated<boolean>;
  gateway_payload: ColumnType<unknown, string | null | undefined, string | null>;
  /** The gateways the order was offered at before its current one (JSON array of OrderAttempt). */
  attempts: ColumnType<OrderAttempt[], string | undefined, string>;
  /** The merchant's gateway account that takes this order's payment (`default` for the first). */
  account: ColumnType<string, string | undefined, string>;
  /** The route that chose the account, and its side (`stable` or `canary`); null without a route. */
  route: ColumnType<string | null, string | null | undefined, string | null>;
  variant: ColumnType<string | null, string | null | undefined, string | null>;
  /** Created for splitting: the gateway keeps the funds frozen until split or unfrozen. */
  profit_sharing: Generated<boolean>;
  create_date: Timestamp;
  update_date: Timestamp;
  version: Generated<number>;
}

/** A gateway the order was offered at before the buyer switched to another. */
export interface OrderAttempt {
  provider: string;
  scene: string;
  mch_id: string | null;
  app_id: string | null;
  /** The account of that attempt; absent in attempts recorded before accounts existed (`default`). */
  account?: string;
  /**
   * closed: the gateway closed it; absent: the gateway had no trade yet (an unscanned Alipay QR);
   * open: displaced by a payment through an earlier attempt, and asked to close after it.
   */
  closed: 'closed' | 'absent' | 'open';
  /** When the buyer switched away, ISO 8601. */
  at: string;
}

export interface PaymentRefundsTable {
  id: Generated<number>;
  order_id: number;
  merchant_id: string;
  out_trade_no: string;
  out_refund_no: string;
  refund_fee: number;
  total_fee: number;
  reason: string | null;
  status: RefundStatus;
  refund_id: string | null;
  success_time: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  gateway_payload: ColumnType<unknown, string | null | undefined, string | null>;
  create_date: Timestamp;
  update_date: Timestamp;
  version: Generated<number>;
}

export interface PaymentLogsTable {
  id: Generated<number>;
  type: string;
  status: 'SUCCESS' | 'ERROR';
  out_trade_no: string | null;
  provider: string | null;
  amount: number | null;
  user_id: string | null;
  error: Json | null;
  ip: string | null;
  user_agent: string | null;
  response_ms: number | null;
  /** What out_trade_no numbers: a payment (its refunds too) or a transfer (src/store/journal.ts). */
  subject_kind: Generated<SubjectKind>;
  /** The subject's merchant; null on rows written before the journal carried it and not attributable. */
  merchant_id: string | null;
  /** The route and side, when a route chose the order's account. */
  route: string | null;
  variant: string | null;
  create_date: Timestamp;
}

export interface PaymentReviewsTable {
  id: Generated<number>;
  merchant_id: string;
  /** paid_after_close, second_payment, refund_abnormal, refund_stuck */
  kind: string;
  /** What makes the case one: the gateway's transaction id, or the out_refund_no. */
  reference: string;
  out_trade_no: string | null;
  provider: string | null;
  amount: number | null;
  details: Json | null;
  status: Generated<'OPEN' | 'RESOLVED'>;
  note: string | null;
  create_date: Timestamp;
  resolve_date: Date | null;
}

export interface PaymentErrorsTable {
  id: Generated<number>;
  code: number;
  message: string;
  action: string;
  gateway_code: string | null;
  out_trade_no: string | null;
  subject_kind: Generated<SubjectKind>;
  merchant_id: string | null;
  provider: string | null;
  payload: Json | null;
  stack: string | null;
  create_date: Timestamp;
}

export interface PaymentNotifyEventsTable {
  id: Generated<number>;
  provider: string;
  event_id: string;
  out_trade_no: string | null;
  subject_kind: Generated<SubjectKind>;
  merchant_id: string | null;
  payload: Json;
  result: string;
  create_date: Timestamp;
}

export interface WebhookEndpointsTable {
  id: string;
  merchant_id: string;
  url: string;
  /** The order types this endpoint is for; null: the default endpoint, for types without their own. */
  order_types: string[] | null;
  /** The event types it wants; null: all. */
  events: string[] | null;
  description: string | null;
  source: 'api' | 'config';
  secret_sealed: Json | null;
  previous_secret_sealed: Json | null;
  previous_secret_until: Date | null;
  timeout_ms: number;
  enabled: Generated<boolean>;
  failures: Generated<number>;
  paused_until: Date | null;
  create_date: Timestamp;
  update_date: Timestamp;
  version: Generated<number>;
}

export interface WebhookEventsTable {
  id: string;
  merchant_id: string;
  type: string;
  order_type: string | null;
  out_trade_no: string | null;
  out_refund_no: string | null;
  review_id: number | null;
  payload: Json;
  create_date: Timestamp;
}

export type DeliveryStatus = 'PENDING' | 'DELIVERING' | 'DELIVERED' | 'FAILED' | 'CANCELLED';

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  event_id: string;
  endpoint_id: string;
  merchant_id: string;
  /** A payment.succeeded delivery whose acknowledgement makes the order's user_order_success true. */
  confirms_order: Generated<boolean>;
  status: DeliveryStatus;
  /** Attempts sent, ever; numbers the attempt rows. */
  attempts: Generated<number>;
  /** Position in the retry schedule; a replay starts it again. */
  step: Generated<number>;
  next_attempt_at: Date | null;
  claimed_by: string | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  create_date: Timestamp;
  update_date: Timestamp;
}

export interface WebhookAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  event_id: string;
  endpoint_id: string;
  attempt: number;
  instance: string;
  started_at: Date;
  latency_ms: number;
  status_code: number | null;
  response_excerpt: string | null;
  error: string | null;
  ok: boolean;
}

export interface ReconciledDaysTable {
  provider: string;
  merchant_id: string;
  /** The China date of the bill, YYYY-MM-DD. */
  bill_date: ColumnType<string, string, string>;
  /** DONE, or FAILED (tried again on the next run). */
  status: 'DONE' | 'FAILED';
  outcome: Json | null;
  attempts: Generated<number>;
  create_date: Timestamp;
  update_date: Timestamp;
}

export interface SettingsTable {
  name: string;
  value: string;
  create_date: Timestamp;
}

export interface ServiceInstancesTable {
  id: string;
  host: string;
  pid: number;
  shared_cache: boolean;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
}

export interface CheckoutsTable {
  merchant_id: string;
  out_trade_no: string;
  expires_at: Timestamp;
  cancelled_at: Timestamp | null;
  create_date: Timestamp;
  update_date: Timestamp;
}

export interface ConsoleUsersTable {
  id: Generated<number>;
  name: string;
  role: ConsoleRole;
  /** null: every merchant; else the only merchants this operator sees and acts on. */
  merchant_ids: ColumnType<string[] | null, string | null, string | null>;
  /** `scrypt$ln=15,r=8,p=1$salt$hash`: the parameters travel with the hash. */
  password_hash: string;
  /** The TOTP secret, sealed (AES-256-GCM); null without a second factor. */
  totp_secret: ColumnType<unknown | null, string | null, string | null>;
  /** The last 30-second step a code was accepted for: a code is good once. */
  totp_last_step: number | null;
  disabled_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  create_date: Timestamp;
  update_date: Timestamp;
}

export type ConsoleRole = 'viewer' | 'operator' | 'admin';

export interface ConsoleSessionsTable {
  /** SHA-256 (hex) of the session id the cookie carries. */
  id_hash: string;
  user_id: number;
  /** totp: the password was right, the second factor is still due; full: signed in. */
  stage: 'totp' | 'full';
  /** A sealed TOTP secret offered for enrolment, until a code confirms it. */
  pending_totp: ColumnType<unknown | null, string | null | undefined, string | null>;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
}

export interface ConsoleAuditTable {
  id: Generated<number>;
  at: Timestamp;
  actor_id: number | null;
  actor_name: string | null;
  action: string;
  target: string | null;
  before: ColumnType<unknown, string | null, never>;
  after: ColumnType<unknown, string | null, never>;
  ip: string | null;
  user_agent: string | null;
}

export interface Database {
  payment_orders: PaymentOrdersTable;
  payment_refunds: PaymentRefundsTable;
  payment_logs: PaymentLogsTable;
  payment_errors: PaymentErrorsTable;
  payment_notify_events: PaymentNotifyEventsTable;
  payment_reviews: PaymentReviewsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  route_overrides: RouteOverridesTable;
  route_override_changes: RouteOverrideChangesTable;
  vk_pay_settings: SettingsTable;
  reconciled_days: ReconciledDaysTable;
  service_instances: ServiceInstancesTable;
  checkouts: CheckoutsTable;
  console_users: ConsoleUsersTable;
  console_sessions: ConsoleSessionsTable;
  console_audit: ConsoleAuditTable;
  monitoring_alerts: MonitoringAlertsTable;
  journal_hourly: JournalHourlyTable;
  journal_periods: JournalPeriodsTable;
  journal_rollup_progress: JournalRollupProgressTable;
  payment_transfers: PaymentTransfersTable;
  payment_split_receivers: PaymentSplitReceiversTable;
  payment_splits: PaymentSplitsTable;
  payment_split_lines: PaymentSplitLinesTable;
  payment_split_returns: PaymentSplitReturnsTable;
}

type MaybeTime = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** A receiver bound at the gateway for a merchant's splits; its name only sealed. */
export interface PaymentSplitReceiversTable {
  id: Generated<number>;
  merchant_id: string;
  provider: string;
  account: string;
  /** MERCHANT_ID, PERSONAL_OPENID, ALIPAY_USER_ID, ALIPAY_LOGON_ID. */
  type: string;
  receiver_account: string;
  name_sealed: ColumnType<unknown | null, string | null, string | null>;
  relation_type: string | null;
  custom_relation: string | null;
  bound_at: MaybeTime;
  create_date: Timestamp;
  update_date: Timestamp;
}

/** A split of a paid order (kind split), or the unfreeze of what is left of it (kind unfreeze). */
export interface PaymentSplitsTable {
  id: Generated<number>;
  order_id: number;
  merchant_id: string;
  provider: string;
  account: string;
  out_trade_no: string;
  out_split_no: string;
  split_id: string | null;
  kind: SplitKind;
  status: SplitStatus;
  /** Unfreeze what is left to the merchant with this split. */
  finish: boolean;
  /** The sum of its lines, fen. */
  amount: number;
  fail_reason: string | null;
  next_check_at: MaybeTime;
  checks: Generated<number>;
  create_date: Timestamp;
  update_date: Timestamp;
  version: Generated<number>;
}

export interface PaymentSplitLinesTable {
  id: Generated<number>;
  split_ref: number;
  line_no: number;
  type: string;
  receiver_account: string;
  amount: number;
  description: string;
  result: SplitLineStatus;
  fail_reason: string | null;
  detail_id: string | null;
  finished_at: MaybeTime;
}

/** A split taken back from a receiver: on its own (WeChat) or with a refund (Alipay, refund_ref). */
export interface PaymentSplitReturnsTable {
  id: Generated<number>;
  merchant_id: string;
  order_id: number;
  split_ref: number;
  out_return_no: string;
  receiver_type: string;
  receiver_account: string;
  amount: number;
  description: string;
  status: SplitReturnStatus;
  return_id: string | null;
  fail_reason: string | null;
  refund_ref: number | null;
  next_check_at: MaybeTime;
  checks: Generated<number>;
  finished_at: MaybeTime;
  create_date: Timestamp;
  update_date: Timestamp;
  version: Generated<number>;
}

/** A transfer to a buyer's wallet; the payee's identity and name only sealed. */
export interface PaymentTransfersTable {
  id: Generated<number>;
  merchant_id: string;
  out_transfer_no: string;
  provider: string;
  account: string;
  amount: number;
  remark: string;
  /** OPENID, ALIPAY_USER_ID, ALIPAY_LOGON_ID. */
  payee_type: string;
  payee_identity_sealed: ColumnType<unknown, string, string>;
  payee_name_sealed: ColumnType<unknown | null, string | null, string | null>;
  scene_id: string | null;
  scene_report_infos: ColumnType<unknown | null, string | null, string | null>;
  user_recv_perception: string | null;
  user_id: string | null;
  status: TransferStatus;
  transfer_id: string | null;
  package_info: string | null;
  fail_reason: string | null;
  requested_by: string;
  /** Who approved or rejected it (above the approval threshold). */
  decided_by: string | null;
  decision_note: string | null;
  /** The China date whose daily limit it counts in. */
  limit_date: string;
  /** When the job next asks the gateway about it; null when nothing is awaited. */
  next_check_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  checks: Generated<number>;
  success_time: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  create_date: Timestamp;
  update_date: Timestamp;
  version: Generated<number>;
}

/** The journal summed per closed hour: merchant_id '' counts every row, a merchant its orders' rows. */
export interface JournalHourlyTable {
  merchant_id: string;
  hour: Timestamp;
  /** '' for rows without a provider. */
  provider: string;
  operation: string;
  events: number;
  errors: number;
  calls: number;
  call_errors: number;
  /** The latency histogram's buckets the gateway calls fell in, ascending, and their calls. */
  latency_ms: number[];
  latency_counts: number[];
}

/** journal_hourly summed over 6-hour periods and days (`seconds`), for long ranges. */
export interface JournalPeriodsTable extends Omit<JournalHourlyTable, 'hour'> {
  seconds: number;
  start: Timestamp;
}

export interface JournalRollupProgressTable {
  name: string;
  rolled_until: Timestamp;
  updated_at: Timestamp;
}

export type AlertKind = 'firing' | 'repeated' | 'resolved';

/** One alert the monitoring sent: the first of an incident, a reminder while it lasts, the all-clear. */
export interface MonitoringAlertsTable {
  id: Generated<number>;
  alert: string;
  kind: AlertKind;
  /** When the incident's first alert fired: the same on each of its rows. */
  incident: Date;
  rate: number | null;
  errors: number;
  events: number;
  threshold: number;
  window_minutes: number;
  by_code: ColumnType<Array<{ code: number; count: number }>, string, never>;
  /** When the check that sent it ran. */
  at: Date;
}

export interface RouteOverridesTable {
  merchant_id: string;
  route_id: string;
  share: number;
  updated_by: string;
  updated_at: Timestamp;
}

export interface RouteOverrideChangesTable {
  id: Generated<number>;
  merchant_id: string;
  route_id: string;
  share_before: number | null;
  /** Null: the stored share was removed, the config file's is in force again. */
  share_after: number | null;
  changed_by: string;
  changed_at: Timestamp;
}

export type OrderRow = Selectable<PaymentOrdersTable>;
export type CheckoutRow = Selectable<CheckoutsTable>;
export type ReviewRow = Selectable<PaymentReviewsTable>;
export type NewOrderRow = Insertable<PaymentOrdersTable>;
export type RefundRow = Selectable<PaymentRefundsTable>;
export type NewRefundRow = Insertable<PaymentRefundsTable>;
export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookEventRow = Selectable<WebhookEventsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type WebhookAttemptRow = Selectable<WebhookAttemptsTable>;
export type ConsoleUserRow = Selectable<ConsoleUsersTable>;
export type TransferRow = Selectable<PaymentTransfersTable>;
export type SplitReceiverRow = Selectable<PaymentSplitReceiversTable>;
export type SplitRow = Selectable<PaymentSplitsTable>;
export type SplitLineRow = Selectable<PaymentSplitLinesTable>;
export type SplitReturnRow = Selectable<PaymentSplitReturnsTable>;
export type ConsoleSessionRow = Selectable<ConsoleSessionsTable>;
export type ConsoleAuditRow = Selectable<ConsoleAuditTable>;
export type MonitoringAlertRow = Selectable<MonitoringAlertsTable>;
