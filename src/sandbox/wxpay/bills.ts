/**
 * Trade bills (交易账单) as WeChat Pay writes them: a header line, one line per payment (on the
 * China date it succeeded) and per refund (on the date it was accepted), then a summary header and
 * a summary line. Every value is prefixed with a backquote, amounts are yuan, lines end in CRLF,
 * and the file starts with a byte-order mark. The emulator charges no fee. A day's bill exists
 * from 10:00 China time the next day, and only when the day had a payment or a refund.
 */
import { createHash, randomBytes } from 'node:crypto';
import { fenToYuan } from '../../core/money.ts';
import type { Refund } from './refunds.ts';
import { formatChinaTime } from './runtime.ts';
import type { Trade } from './trades.ts';

export const BILL_COLUMNS = [
  '交易时间',
  '公众账号ID',
  '商户号',
  '特约商户号',
  '设备号',
  '微信订单号',
  '商户订单号',
  '用户标识',
  '交易类型',
  '交易状态',
  '付款银行',
  '货币种类',
  '应结订单金额',
  '代金券金额',
  '微信退款单号',
  '商户退款单号',
  '退款金额',
  '充值券退款金额',
  '退款类型',
  '退款状态',
  '商品名称',
  '商户数据包',
  '手续费',
  '费率',
  '订单金额',
  '申请退款金额',
  '费率备注',
] as const;

const SUMMARY_COLUMNS = [
  '总交易单数',
  '应结订单总金额',
  '退款总金额',
  '充值券退款总金额',
  '手续费总金额',
  '订单总金额',
  '申请退款总金额',
];

const chinaDate = (epochMs: number) => formatChinaTime(epochMs).slice(0, 10);
const chinaTime = (epochMs: number) => formatChinaTime(epochMs).slice(0, 19).replace('T', ' ');
const line = (values: readonly string[]) => values.map((value) => `\`${value}`).join(',');

/** WeChat Pay makes yesterday's bills from 09:00 and asks merchants to fetch them from 10:00. */
export const BILL_READY_HOUR = 10;

/** The bill of a China date, or undefined when the day had no payment and no refund (no bill). */
export function tradeBillText(
  mchid: string,
  date: string,
  trades: Trade[],
  refunds: Refund[],
): string | undefined {
  const rows: string[] = [];
  let paidFen = 0;
  let refundFen = 0;
  const tradesById = new Map(trades.map((trade) => [trade.transactionId, trade]));
  for (const trade of trades) {
    if (trade.mchid !== mchid || !trade.transactionId || trade.successAt === undefined) continue;
    if (chinaDate(trade.successAt) !== date) continue;
    paidFen += trade.totalFen;
    const row: Record<string, string> = {
      交易时间: chinaTime(trade.successAt),
      公众账号ID: trade.appid,
      商户号: mchid,
      微信订单号: trade.transactionId,
      商户订单号: trade.outTradeNo,
      用户标识: trade.payerOpenid ?? '',
      交易类型: trade.tradeType,
      交易状态: 'SUCCESS',
      付款银行: trade.bankType ?? 'OTHERS',
      货币种类: trade.currency,
      应结订单金额: fenToYuan(trade.totalFen),
      代金券金额: '0.00',
      退款金额: '0.00',
      充值券退款金额: '0.00',
      商品名称: trade.description,
      商户数据包: trade.attach ?? '',
      手续费: '0.00',
      费率: '0.00%',
      订单金额: fenToYuan(trade.totalFen),
      申请退款金额: '0.00',
    };
    rows.push(line(BILL_COLUMNS.map((column) => row[column] ?? '')));
  }
  for (const refund of refunds) {
    if (refund.mchid !== mchid || chinaDate(refund.createdAt) !== date) continue;
    refundFen += refund.refundFen;
    const trade = tradesById.get(refund.transactionId);
    const row: Record<string, string> = {
      交易时间: chinaTime(refund.createdAt),
      公众账号ID: trade?.appid ?? '',
      商户号: mchid,
      微信订单号: refund.transactionId,
      商户订单号: refund.outTradeNo,
      用户标识: trade?.payerOpenid ?? '',
      交易类型: trade?.tradeType ?? '',
      交易状态: 'REFUND',
      付款银行: trade?.bankType ?? 'OTHERS',
      货币种类: refund.currency,
      应结订单金额: '0.00',
      代金券金额: '0.00',
      微信退款单号: refund.refundId,
      商户退款单号: refund.outRefundNo,
      退款金额: fenToYuan(refund.refundFen),
      充值券退款金额: '0.00',
      退款类型: 'ORIGINAL',
      退款状态: refund.status,
      商品名称: trade?.description ?? '',
      商户数据包: trade?.attach ?? '',
      手续费: '0.00',
      费率: '0.00%',
      订单金额: fenToYuan(refund.totalFen),
      申请退款金额: fenToYuan(refund.refundFen),
    };
    rows.push(line(BILL_COLUMNS.map((column) => row[column] ?? '')));
  }
  if (rows.length === 0) return undefined;
  const summary = [
    String(rows.length),
    fenToYuan(paidFen),
    fenToYuan(refundFen),
    '0.00',
    '0.00',
    fenToYuan(paidFen),
    fenToYuan(refundFen),
  ];
  return `\ufeff${[BILL_COLUMNS.join(','), ...rows, SUMMARY_COLUMNS.join(','), line(summary)].join('\r\n')}\r\n`;
}

/** Bills handed out by download token, as WeChat Pay's download_url does. */
export class BillDesk {
  readonly #files = new Map<string, { mchid: string; text: string }>();

  issue(mchid: string, text: string): { token: string; sha1: string } {
    const token = randomBytes(16).toString('hex');
    this.#files.set(token, { mchid, text });
    return { token, sha1: createHash('sha1').update(text, 'utf8').digest('hex') };
  }

  take(mchid: string, token: string): string | undefined {
    const file = this.#files.get(token);
    return file && file.mchid === mchid ? file.text : undefined;
  }
}
