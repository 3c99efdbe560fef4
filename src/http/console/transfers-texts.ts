/** The words of the console's transfer pages in Chinese and English. */
import type { Lang } from '../../core/errors.ts';

const TEXTS = {
  transfersTitle: { zh: '转账', en: 'Transfers' },
  waitingTitle: { zh: '待审批的转账', en: 'Transfers waiting for approval' },
  transferTitle: { zh: '转账 {no}', en: 'Transfer {no}' },
  searchTransfers: { zh: '筛选转账', en: 'Filter transfers' },
  views: { zh: '视图', en: 'Views' },
  allTransfers: { zh: '全部转账', en: 'All transfers' },
  waiting: { zh: '待审批', en: 'Waiting for approval' },
  outTransferNo: { zh: '转账单号', en: 'Transfer no. (out_transfer_no)' },
  merchant: { zh: '商户', en: 'Merchant' },
  provider: { zh: '支付渠道', en: 'Gateway' },
  account: { zh: '渠道账号', en: 'Gateway account' },
  status: { zh: '状态', en: 'Status' },
  any: { zh: '全部', en: 'Any' },
  amount: { zh: '金额（元）', en: 'Amount (¥)' },
  payeeType: { zh: '收款人身份类型', en: 'Payee identity type' },
  payeeSealed: {
    zh: '收款人身份和姓名已加密保存，控制台不显示。',
    en: 'The payee’s identity and name are sealed and not shown in the console.',
  },
  remark: { zh: '备注', en: 'Remark' },
  requestedBy: { zh: '申请人', en: 'Requested by' },
  decidedBy: { zh: '审批人', en: 'Decided by' },
  decisionNote: { zh: '审批说明', en: 'Decision note' },
  transferId: { zh: '渠道转账单号', en: 'Gateway transfer id' },
  failReason: { zh: '失败原因', en: 'Fail reason' },
  successTime: { zh: '到账时间', en: 'Succeeded at' },
  created: { zh: '创建时间 (UTC)', en: 'Created (UTC)' },
  updated: { zh: '更新时间 (UTC)', en: 'Updated (UTC)' },
  createdFrom: { zh: '开始日期', en: 'Created from' },
  createdTo: { zh: '结束日期', en: 'Created to' },
  search: { zh: '筛选', en: 'Filter' },
  clear: { zh: '清除', en: 'Clear' },
  results: { zh: '结果', en: 'Results' },
  rowsShown: { zh: '本页 {n} 条', en: '{n} on this page' },
  noTransfers: { zh: '没有符合条件的转账。', en: 'No transfers match.' },
  previous: { zh: '上一页', en: 'Previous page' },
  next: { zh: '下一页', en: 'Next page' },
  pages: { zh: '分页', en: 'Pages' },
  viewTransfer: { zh: '查看转账 {no}', en: 'View transfer {no}' },
  details: { zh: '详情', en: 'Details' },
  timeline: { zh: '时间线', en: 'Timeline' },
  evCreated: { zh: '创建', en: 'Created' },
  evCreatedBy: { zh: '由 {by} 申请，¥{amount}', en: 'asked for by {by}, ¥{amount}' },
  evApproved: { zh: '已批准', en: 'Approved' },
  evRejected: { zh: '已拒绝', en: 'Rejected' },
  evBy: { zh: '审批人 {by}', en: 'by {by}' },
  evJournal: { zh: '渠道调用', en: 'Gateway call' },
  evStep: { zh: '处理步骤', en: 'Step' },
  evError: { zh: '错误', en: 'Error' },
  evCallback: { zh: '渠道通知', en: 'Gateway notification' },
  evSucceeded: { zh: '已到账', en: 'Succeeded' },
  evFailed: { zh: '失败', en: 'Failed' },
  evCancelled: { zh: '已撤销', en: 'Cancelled' },
  evWebhook: { zh: 'Webhook 事件', en: 'Webhook event' },
  latency: { zh: '{ms} 毫秒', en: '{ms} ms' },
  payload: { zh: '内容', en: 'Payload' },
  noEvents: { zh: '还没有记录。', en: 'Nothing recorded yet.' },
  decision: { zh: '审批', en: 'Decision' },
  note: { zh: '说明（可选）', en: 'Note (optional)' },
  noteHelp: {
    zh: '最多 200 个字符；随 transfer.approved / transfer.rejected 事件发给商户。',
    en: 'Up to 200 characters; the merchant receives it with the transfer.approved or transfer.rejected event.',
  },
  approve: { zh: '批准并发送', en: 'Approve and send' },
  reject: { zh: '拒绝', en: 'Reject' },
  confirmApprove: { zh: '确定批准转账 {no}（¥{amount}）？', en: 'Approve transfer {no} (¥{amount})?' },
  confirmReject: { zh: '确定拒绝转账 {no}？', en: 'Reject transfer {no}?' },
  approveHelp: {
    zh: '此转账超过审批额度，需由申请人以外的另一位操作员批准后才会发送。',
    en: 'This transfer is above the approval threshold: another operator than the one who asked must approve it before it is sent.',
  },
  ownTransfer: {
    zh: '此转账由你（{by}）申请，不能由你批准或拒绝，请另一位操作员审批。',
    en: 'You ({by}) asked for this transfer, so you cannot approve or reject it: another operator must decide.',
  },
  viewerOnly: {
    zh: '你的角色只能查看；批准或拒绝需要操作员或管理员。',
    en: 'Your role can only look; approving or rejecting needs an operator or admin.',
  },
  decidedApproved: {
    zh: '{by} 已于 {at} 批准此转账。',
    en: 'Approved by {by} at {at}.',
  },
  decidedRejected: {
    zh: '{by} 已于 {at} 拒绝此转账。',
    en: 'Rejected by {by} at {at}.',
  },
  notWaiting: {
    zh: '此转账状态为 {status}，无需审批。',
    en: 'This transfer is {status}; there is nothing to decide.',
  },
  doneApproved: { zh: '转账 {no} 已批准，将被发送。', en: 'Transfer {no} is approved and will be sent.' },
  doneRejected: { zh: '转账 {no} 已拒绝。', en: 'Transfer {no} is rejected.' },
  errDecidedMeanwhile: {
    zh: '此转账已被 {by} 处理（{status}），你的操作未生效。',
    en: 'This transfer was already decided by {by} ({status}) meanwhile; your decision was not applied.',
  },
  errOwn: {
    zh: '你（{by}）申请了此转账，需由另一位操作员批准或拒绝。',
    en: 'You ({by}) asked for this transfer: another operator must approve or reject it.',
  },
  errNote: { zh: '说明最多 200 个字符。', en: 'The note can have at most 200 characters.' },
} as const;

export type TransfersTextKey = keyof typeof TEXTS;

export function transfersText(
  lang: Lang,
  key: TransfersTextKey,
  values: Record<string, string | number> = {},
): string {
  let phrase: string = TEXTS[key][lang];
  for (const [name, value] of Object.entries(values)) phrase = phrase.replace(`{${name}}`, String(value));
  return phrase;
}
