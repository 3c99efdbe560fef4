/** What the operator console reads: one import for its pages. */

export { csvCell, csvLine, exportOrdersCsv } from './csv.ts';
export { decodeCursor, encodeCursor, type RowKey } from './cursor.ts';
export { type ConsoleOrderRow, MAX_PAGE, type OrderPage, type OrderSearch, searchOrders } from './orders.ts';
export {
  BUCKETS,
  type Bucket,
  chooseBucket,
  type Overview,
  type OverviewRequest,
  overview,
} from './overview.ts';
export { type ReconciliationDay, type ReviewSearch, reconciliationDays, searchReviews } from './reviews.ts';
export type { MerchantScope } from './scope.ts';
export {
  type ConsoleOrderDetail,
  type OrderTimeline,
  orderTimeline,
  type TimelineEntry,
} from './timeline.ts';
