/**
 * Trade bills (业务明细) as Alipay hands them out: a zip holding a detail CSV and a summary CSV, in
 * GBK. The detail file opens with `#` lines, then a header and one line per payment (the day it
 * was paid) and per refund (the day it was made, with the merchant's receipt negative and the
 * out_request_no), then closing `#` lines. Values are followed by a tab, as in Alipay's files.
 * The emulator charges no service fee.
 */
import { randomBytes } from 'node:crypto';
import { zipSync } from 'fflate';
import iconv from 'iconv-lite';
import { fenToYuan } from '../../core/money.ts';
import type { SandboxClock } from '../shared/clock.ts';
import type { Trade } from './trades.ts';

export const ALIPAY_BILL_COLUMNS = [
  '支付宝交易号',
  '商户订单号',
  '业务类型',
  '商品名称',
  '创建时间',
  '完成时间',
  '门店编号',
  '门店名称',
  '操作员',
  '终端号',
  '对方账户',
  '订单金额（元）',
  '商家实收（元）',
  '支付宝红包（元）',
  '集分宝（元）',
  '支付宝优惠（元）',
  '商家优惠（元）',
  '券核销金额（元）',
  '券名称',
  '商家红包消费金额（元）',
  '卡消费金额（元）',
  '退款批次号/请求号',
  '服务费（元）',
  '分润（元）',
  '备注',
] as const;

const beijing = (epochMs: number) => new Date(epochMs + 8 * 3600_000).toISOString();
const beijingDate = (epochMs: number) => beijing(epochMs).slice(0, 10);
const beijingTime = (epochMs: number) => beijing(epochMs).slice(0, 19).replace('T', ' ');
const row = (values: Record<string, string>) =>
  ALIPAY_BILL_COLUMNS.map((column) => `${values[column] ?? ''}\t`).join(',');

/** The zip of one app's trade bill for a Beijing date (YYYY-MM-DD). */
export function alipayTradeBillZip(sellerId: string, date: string, trades: Trade[]): Uint8Array {
  const lines: string[] = [];
  let paidFen = 0;
  let refundFen = 0;
  let payments = 0;
  let refunds = 0;
  for (const trade of trades) {
    // What a payment line and its refund lines share.
    const tradeFields = {
      支付宝交易号: trade.tradeNo,
      商户订单号: trade.outTradeNo,
      商品名称: trade.subject,
      创建时间: beijingTime(trade.gmtCreate),
      对方账户: trade.buyer?.buyerLogonId ?? '',
      '订单金额（元）': fenToYuan(trade.totalFen),
      '服务费（元）': '0.00',
    };
    if (trade.gmtPayment !== undefined && beijingDate(trade.gmtPayment) === date) {
      payments += 1;
      paidFen += trade.totalFen;
      lines.push(
        row({
          ...tradeFields,
          业务类型: '交易',
          完成时间: beijingTime(trade.gmtPayment),
          '商家实收（元）': fenToYuan(trade.totalFen),
        }),
      );
    }
    for (const refund of trade.refunds) {
      if (beijingDate(refund.gmtRefund) !== date) continue;
      refunds += 1;
      refundFen += refund.refundFen;
      lines.push(
        row({
          ...tradeFields,
          业务类型: '退款',
          完成时间: beijingTime(refund.gmtRefund),
          '商家实收（元）': `-${fenToYuan(refund.refundFen)}`,
          '退款批次号/请求号': refund.outRequestNo,
          备注: refund.refundReason ?? '',
        }),
      );
    }
  }
  const day = date.replace(/-/g, '');
  const [y, m, d] = date.split('-');
  const detail = [
    '#支付宝业务明细查询',
    `#账号：[${sellerId}0156]`,
    `#起始日期：[${y}年${m}月${d}日 00:00:00]   终止日期：[${y}年${m}月${d}日 23:59:59]`,
    '#-----------------------------------------业务明细列表----------------------------------------',
    ALIPAY_BILL_COLUMNS.join(','),
    ...lines,
    '#-----------------------------------------业务明细列表结束------------------------------------',
    `#交易合计：${payments + refunds}笔，商家实收：${fenToYuan(paidFen - refundFen)}元`,
    `#导出时间：[${beijingTime(Date.now()).replace(/^(\d+)-(\d+)-(\d+)/, '$1年$2月$3日')}]`,
  ].join('\r\n');
  const summary = [
    '#支付宝业务汇总查询',
    '门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）',
    `合计,,${payments},${refunds},${fenToYuan(paidFen)},${fenToYuan(paidFen - refundFen)}`,
  ].join('\r\n');
  return zipSync({
    [`${sellerId}0156_${day}_业务明细.csv`]: iconv.encode(`${detail}\r\n`, 'gbk'),
    [`${sellerId}0156_${day}_业务明细(汇总).csv`]: iconv.encode(`${summary}\r\n`, 'gbk'),
  });
}

/** Alipay makes yesterday's bill before 09:00 Beijing time; today's is never available. */
export const BILL_READY_HOUR = 9;

/** Bills handed out by short-lived download links (30 s of wall time), as Alipay's bill_download_url is. */
export class AlipayBillDesk {
  readonly #files = new Map<string, { zip: Uint8Array; expiresAt: number }>();

  constructor(private readonly wall: SandboxClock) {}

  issue(zip: Uint8Array): string {
    const token = randomBytes(16).toString('hex');
    this.#files.set(token, { zip, expiresAt: this.wall.now() + 30_000 });
    return token;
  }

  take(token: string): Uint8Array | undefined {
    const file = this.#files.get(token);
    return file && file.expiresAt >= this.wall.now() ? file.zip : undefined;
  }
}
