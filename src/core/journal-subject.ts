/**
 * What a journal row (payment_logs, payment_errors, payment_notify_events) is about: its
 * `subject_kind` says which of a merchant's numbers `out_trade_no` holds, so an order and a
 * transfer of the same number, or two merchants' of the same number, keep their rows apart.
 * A refund's rows and a split's (profit sharing) are their order's: kind 'payment' with the order's
 * number, so the order's page shows them. A new kind of thing the gateways are called for is one
 * more entry here; the column has no check, so older rows and instances keep working.
 */
export const SUBJECT_KINDS = ['payment', 'transfer'] as const;

export type SubjectKind = (typeof SUBJECT_KINDS)[number];

/** One merchant's payment or transfer (or later kind), as the journal names it. */
export interface JournalSubject {
  merchantId: string;
  kind: SubjectKind;
  /** out_trade_no of a payment, out_transfer_no of a transfer. */
  number: string;
}
