/**
 * CSV export of an order search (RFC 4180), streamed page by page so a large export never sits in
 * memory. A text cell a spreadsheet would read as a formula (= + - @, tab, carriage return) gets a
 * leading quote, so an order subject cannot run in the operator's spreadsheet.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { RowKey } from './cursor.ts';
import { type ConsoleOrderRow, checkOrderSearch, type OrderSearch, orderPage } from './orders.ts';

const COLUMNS: ReadonlyArray<[string, (row: ConsoleOrderRow) => string | number | null]> = [
  ['merchant_id', (row) => row.merchantId],
  ['out_trade_no', (row) => row.outTradeNo],
  ['transaction_id', (row) => row.transactionId],
  ['provider', (row) => row.provider],
  ['scene', (row) => row.scene],
  ['type', (row) => row.type],
  ['subject', (row) => row.subject],
  ['total_fee', (row) => row.totalFen],
  ['refunded_fee', (row) => row.refundedFen],
  ['status', (row) => row.status],
  ['user_id', (row) => row.userId],
  ['pay_date', (row) => row.paidAt],
  ['close_date', (row) => row.closedAt],
  ['create_date', (row) => row.createdAt],
  ['update_date', (row) => row.updatedAt],
];

const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell: numbers as they are; text guarded against formulas, quoted when it holds , " CR or LF. */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const guarded = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replaceAll('"', '""')}"` : guarded;
}

export function csvLine(values: ReadonlyArray<string | number | null>): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

const EXPORT_PAGE = 500;

/** The header line, then one line per order of the search, newest first (its limit and cursor unused). */
export async function* exportOrdersCsv(db: Kysely<Database>, search: OrderSearch): AsyncGenerator<string> {
  const checked = checkOrderSearch(search);
  yield csvLine(COLUMNS.map(([name]) => name));
  let after: RowKey | null = null;
  do {
    const page: { rows: ConsoleOrderRow[]; last: RowKey | null } = await orderPage(
      db,
      checked,
      after,
      EXPORT_PAGE,
    );
    for (const row of page.rows) yield csvLine(COLUMNS.map(([, value]) => value(row)));
    after = page.last;
  } while (after !== null);
}
