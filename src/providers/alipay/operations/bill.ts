/**
 * Trade bills (业务明细): alipay.data.dataservice.bill.downloadurl.query names a short-lived link
 * (in a verified answer, so the link is Alipay's); the link serves a zip holding the detail and
 * summary CSV files in GBK. The detail file is read by its header's column names; payments are
 * 交易 lines, refunds 退款 lines whose merchant receipt is negative and whose request number is
 * our out_refund_no.
 */
import { unzipSync } from 'fflate';
import { PayError } from '../../../core/errors.ts';
import { yuanToFen } from '../../../core/money.ts';
import type { FetchLike } from '../../network.ts';
import type { BillRecord, TradeBill } from '../../provider.ts';
import type { AlipayContext } from '../context.ts';

function malformedBill(message: string): PayError {
  return new PayError(50000, { gatewayCode: 'MALFORMED_BILL', message: `alipay trade bill: ${message}` });
}

/** Reads the detail CSV (already decoded) into payment and refund records. */
export function parseAlipayTradeBill(date: string, text: string): TradeBill {
  const lines = text.replace(/^\ufeff/, '').split(/\r?\n/);
  const headerAt = lines.findIndex((line) => line.startsWith('支付宝交易号'));
  if (headerAt === -1) throw malformedBill('no header line');
  const header = lines[headerAt]!.split(',').map((name) => name.trim());
  const column = (name: string) => {
    const index = header.indexOf(name);
    if (index === -1) throw malformedBill(`no column ${name}`);
    return index;
  };
  const at = {
    tradeNo: column('支付宝交易号'),
    outTradeNo: column('商户订单号'),
    kind: column('业务类型'),
    finished: column('完成时间'),
    total: column('订单金额（元）'),
    received: column('商家实收（元）'),
    requestNo: column('退款批次号/请求号'),
  };
  const records: BillRecord[] = [];
  for (const [i, line] of lines.slice(headerAt + 1).entries()) {
    if (line.startsWith('#')) break;
    if (line.trim() === '') continue;
    const values = line.split(',').map((value) => value.trim());
    const money = (index: number, name: string) =>
      yuanToFen((values[index] ?? '').replace(/^-/, ''), `bill line ${headerAt + i + 2} ${name}`);
    const base = {
      time: values[at.finished] ?? '',
      transactionId: values[at.tradeNo] ?? '',
      outTradeNo: values[at.outTradeNo] ?? '',
      totalFen: money(at.total, '订单金额'),
    };
    if (values[at.kind] === '退款') {
      records.push({
        ...base,
        kind: 'refund',
        refundId: '',
        outRefundNo: values[at.requestNo] ?? '',
        refundFen: money(at.received, '商家实收'),
        refundStatus: 'SUCCESS',
      });
    } else if (values[at.kind] === '交易') {
      records.push({ ...base, kind: 'payment', state: 'SUCCESS' });
    }
  }
  return { date, records };
}

export async function downloadAlipayTradeBill(
  context: AlipayContext,
  fetchImpl: FetchLike,
  date: string,
): Promise<TradeBill> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date))
    throw new PayError(40001, { field: 'date', message: 'the bill date must be YYYY-MM-DD (Beijing time)' });
  const { response } = await context.transport.call({
    method: 'alipay.data.dataservice.bill.downloadurl.query',
    bizContent: { bill_type: 'trade', bill_date: date },
    write: false,
  });
  const url = response.bill_download_url;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) throw malformedBill('no bill_download_url');
  let zip: Uint8Array;
  try {
    const answer = await fetchImpl(url, {
      method: 'GET',
      headers: {},
      signal: AbortSignal.timeout(context.merchant.timeoutMs),
      redirect: 'error',
    });
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
    zip = new Uint8Array(await answer.arrayBuffer());
  } catch (error) {
    throw new PayError(40004, { message: `alipay trade bill download failed: ${(error as Error).message}` });
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip);
  } catch {
    throw malformedBill('the download is not a zip file');
  }
  const detail = Object.entries(files).find(([name]) => name.includes('业务明细') && !name.includes('汇总'));
  if (!detail) throw malformedBill('the zip holds no 业务明细 file');
  return parseAlipayTradeBill(date, new TextDecoder('gbk').decode(detail[1]));
}
