/** The closing table: each figure beside its same-run baseline, with the product's targets checked. */

export interface SummaryRow {
  figure: string;
  value: string;
  baseline?: string;
  ratio?: string;
  /** p50/p99 in ms. */
  latency?: string;
  target?: string;
  check?: boolean;
  /** Peak RSS of the measured service process, MB, and whether it is under the 200 MB target. */
  rss?: string;
  rssCheck?: boolean;
}

const verdict = (passed: boolean | undefined) => (passed === undefined ? '' : passed ? 'PASS' : 'MISS');

export function summaryTable(rows: SummaryRow[]): string {
  const header = [
    'figure',
    'value',
    'baseline (same run)',
    'ratio',
    'p50/p99 ms',
    'target',
    '',
    'peak RSS MB',
    '',
  ];
  const cells = rows.map((row) => [
    row.figure,
    row.value,
    row.baseline ?? '',
    row.ratio ?? '',
    row.latency ?? '',
    row.target ?? '',
    verdict(row.check),
    row.rss ?? '',
    verdict(row.rssCheck),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => (i === 0 || i === 2 ? value.padEnd(widths[i]!) : value.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
}
