/** The overview page's words in Chinese and English. */
import type { Lang } from '../../core/errors.ts';

const TEXTS = {
  range: { zh: '时间范围', en: 'Range' },
  range1h: { zh: '最近 1 小时', en: 'Last hour' },
  range24h: { zh: '最近 24 小时', en: 'Last 24 hours' },
  range7d: { zh: '最近 7 天', en: 'Last 7 days' },
  range30d: { zh: '最近 30 天', en: 'Last 30 days' },
  range90d: { zh: '最近 90 天', en: 'Last 90 days' },
  merchant: { zh: '商户', en: 'Merchant' },
  allMerchants: { zh: '全部商户', en: 'All merchants' },
  allMine: { zh: '我的全部商户', en: 'All my merchants' },
  show: { zh: '查看', en: 'Show' },
  updated: {
    zh: '数据截至 {at}（UTC+8），每 10 秒自动刷新。',
    en: 'Figures as of {at} (UTC+8), refreshed every 10 seconds.',
  },
  updatedStatic: { zh: '数据截至 {at}（UTC+8）。', en: 'Figures as of {at} (UTC+8).' },
  refreshFailed: {
    zh: '刷新失败，稍后重试。显示的是 {at} 的数据。',
    en: 'Refresh failed; trying again. Showing the figures of {at}.',
  },
  totals: { zh: '合计', en: 'Totals' },
  created: { zh: '创建的支付', en: 'Payments created' },
  paid: { zh: '已支付', en: 'Paid' },
  successRate: { zh: '成功率', en: 'Success rate' },
  paidAmount: { zh: '支付金额', en: 'Paid amount' },
  refunds: { zh: '退款', en: 'Refunds' },
  refundAmount: { zh: '退款金额', en: 'Refund amount' },
  errorRate: { zh: '错误率', en: 'Error rate' },
  errorRateOf: {
    zh: '{errors} / {events} 条日志；告警阈值 {threshold}',
    en: '{errors} of {events} journal events; alert threshold {threshold}',
  },
  openReviews: { zh: '待处理工单', en: 'Open reviews' },
  openedInRange: { zh: '本时段新增 {n}', en: '{n} opened in this range' },
  alertsFired: { zh: '触发告警', en: 'Alerts fired' },
  alertsFiringNow: { zh: '全部商户 · 正在告警', en: 'all merchants · firing now' },
  alertsQuiet: { zh: '全部商户 · 当前无告警', en: 'all merchants · none open now' },
  alertHistory: { zh: '告警历史', en: 'Alert history' },
  charts: { zh: '图表', en: 'Charts' },
  chartNote: {
    zh: '图表中的数字与下方表格相同。',
    en: 'The charts show the figures of the tables below.',
  },
  chartPayments: { zh: '创建与已支付的支付（笔）', en: 'Payments created and paid (count)' },
  chartRates: {
    zh: '成功率与错误率（%），虚线为告警阈值',
    en: 'Success rate and error rate (%), the dashed line is the alert threshold',
  },
  chartAmounts: { zh: '支付与退款金额（元）', en: 'Paid and refunded amounts (yuan)' },
  chartLatency: {
    zh: '网关响应时间 p95（毫秒），按渠道与操作',
    en: 'Gateway response time p95 (ms) by provider and operation',
  },
  alertThreshold: { zh: '告警阈值', en: 'Alert threshold' },
  latency: { zh: '网关响应时间', en: 'Gateway response times' },
  provider: { zh: '渠道', en: 'Provider' },
  operation: { zh: '操作', en: 'Operation' },
  calls: { zh: '调用', en: 'Calls' },
  callErrors: { zh: '失败', en: 'Failed' },
  noCalls: { zh: '这段时间没有网关调用。', en: 'No gateway calls in this range.' },
  byTime: { zh: '按时间', en: 'By time' },
  bucketAt: { zh: '开始时间（UTC+8）', en: 'Start (UTC+8)' },
  bucketNote: { zh: '每行 {width}。', en: 'One row per {width}.' },
  width1m: { zh: '1 分钟', en: 'minute' },
  width5m: { zh: '5 分钟', en: '5 minutes' },
  width15m: { zh: '15 分钟', en: '15 minutes' },
  width1h: { zh: '1 小时', en: 'hour' },
  width6h: { zh: '6 小时', en: '6 hours' },
  width1d: { zh: '1 天', en: 'day' },
  events: { zh: '日志条数', en: 'Journal events' },
  you: { zh: '你的账号', en: 'Your account' },
} as const;

export type OverviewTextKey = keyof typeof TEXTS;

export function overviewText(
  lang: Lang,
  key: OverviewTextKey,
  values: Record<string, string | number> = {},
): string {
  let phrase: string = TEXTS[key][lang];
  for (const [name, value] of Object.entries(values)) phrase = phrase.replace(`{${name}}`, String(value));
  return phrase;
}
