/**
 * The fixed histogram gateway response times are kept in, by the journal's rollup and by the
 * overview's reads of the journal itself alike: below 100 ms every millisecond is its own bucket;
 * from 100 ms on, bucket k holds [100 * 1.02^k, 100 * 1.02^(k+1)) and stands for the whole
 * millisecond nearest 101 * 1.02^k, its middle. A recorded time is so within 1 % (plus half a
 * millisecond of rounding) of the true one, and a percentile interpolated between two of them too.
 * Times from about 27 hours on share the last bucket.
 */

/** Times below this are kept to the millisecond. */
export const EXACT_BELOW_MS = 100;
/** Ratio of a bucket's upper bound to its lower bound from EXACT_BELOW_MS on. */
const GROWTH = 1.02;
/** The value that stands for the first log-scale bucket, [100, 102): its middle. */
const MIDDLE = 101;
/** Log-scale buckets after the exact ones. */
const LOG_BUCKETS = 700;
/** How many buckets the histogram has. */
export const HISTOGRAM_SLOTS = EXACT_BELOW_MS + LOG_BUCKETS + 1;

/** The SQL expression for the value that stands for a time (an integer expression) in the histogram. */
export function latencyBucketSql(ms: string): string {
  return `(case when ${ms} < ${EXACT_BELOW_MS} then greatest(${ms}, 0)
    else round(${MIDDLE}::float8 * power(${GROWTH}::float8,
      least(floor(ln(${ms}::float8 / ${EXACT_BELOW_MS}) / ln(${GROWTH}::float8)), ${LOG_BUCKETS})))::int end)`;
}

const LN_GROWTH = Math.log(GROWTH);

/** The slot of a value latencyBucketSql gave. */
export function histogramSlot(value: number): number {
  if (value < EXACT_BELOW_MS) return Math.max(value, 0);
  const k = Math.round(Math.log(value / MIDDLE) / LN_GROWTH);
  return EXACT_BELOW_MS + Math.min(Math.max(k, 0), LOG_BUCKETS);
}

/** The value that stands for a slot, as latencyBucketSql gives it. */
export function slotValue(slot: number): number {
  if (slot < EXACT_BELOW_MS) return slot;
  return Math.round(MIDDLE * GROWTH ** (slot - EXACT_BELOW_MS));
}
