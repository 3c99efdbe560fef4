/**
 * Trade bills (交易账单): `GET /v3/bill/tradebill` names the file and its SHA-1; the file itself
 * comes from download_url, signed like any request but answered unsigned, so its hash is what
 * proves it. Parsed by the header's column names (their order is not promised), values stripped of
 * their backquote, yuan read exactly into fen.
 */
import { createHash } from 'node:crypto';
import { PayError } from '../../../core/errors.ts';
import { yuanToFen } from '../../../core/money.ts';
import type { BillRecord, TradeBill } from '../../provider.ts';
import type { WxpayContext } from '../context.ts';

interface TradeBillWire {
  hash_type?: string;
  hash_value?: string;
  download_url?: string;
}

function malformedBill(message: string): PayError {
  return new PayError(50000, { gatewayCode: 'MALFORMED_BILL', message: `wxpay trade bill: ${message}` });
}

const SUMMARY_HEADER = '总交易单数';

/** Reads a trade bill's text into payment and refund records. */
export function parseTradeBill(date: string, text: string): TradeBill {
  const lines = text
    .replace(/^\ufeff/, '')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '');
  const header = lines[0]?.split(',').map((name) => name.trim());
  if (!header?.includes('微信订单号')) throw malformedBill('no header line');
  const summaryAt = lines.findIndex((line) => line.startsWith(SUMMARY_HEADER));
  const details = lines.slice(1, summaryAt === -1 ? undefined : summaryAt);
  const column = (name: string) => {
    const index = header.indexOf(name);
    if (index === -1) throw malformedBill(`no column ${name}`);
    return index;
  };
  const at = {
    time: column('交易时间'),
    transactionId: column('微信订单号'),
    outTradeNo: column('商户订单号'),
    state: column('交易状态'),
    total: column('订单金额'),
    refundId: column('微信退款单号'),
    outRefundNo: column('商户退款单号'),
    refundRequested: column('申请退款金额'),
    refundStatus: column('退款状态'),
  };
  const records: BillRecord[] = details.map((line, i) => {
    const values = line.split(',').map((value) => value.replace(/^`/, '').trim());
    const money = (index: number, name: string) =>
      yuanToFen(values[index] ?? '', `bill line ${i + 2} ${name}`);
    const base = {
      time: values[at.time] ?? '',
      transactionId: values[at.transactionId] ?? '',
      outTradeNo: values[at.outTradeNo] ?? '',
      totalFen: money(at.total, '订单金额'),
    };
    if (values[at.state] === 'REFUND') {
      return {
        ...base,
        kind: 'refund',
        refundId: values[at.refundId] ?? '',
        outRefundNo: values[at.outRefundNo] ?? '',
        refundFen: money(at.refundRequested, '申请退款金额'),
        refundStatus: values[at.refundStatus] ?? '',
      };
    }
    return { ...base, kind: 'payment', state: values[at.state] ?? '' };
  });
  return { date, records };
}

export async function downloadTradeBill(context: WxpayContext, date: string): Promise<TradeBill> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date))
    throw new PayError(40001, { field: 'date', message: 'the bill date must be YYYY-MM-DD (China time)' });
  let named: Awaited<ReturnType<typeof context.transport.call<TradeBillWire>>>;
  try {
    named = await context.transport.call<TradeBillWire>({
      api: 'bill.trade',
      method: 'GET',
      // Partner mode: the service provider's bill narrowed to this sub-merchant's trades.
      path: `/v3/bill/tradebill?bill_date=${date}${
        context.partner ? `&sub_mchid=${encodeURIComponent(context.partner.subMchId)}` : ''
      }&bill_type=ALL`,
      write: false,
    });
  } catch (error) {
    // A past day without a successful trade has no bill: an empty one. (Reconciliation asks only
    // for days whose bills are published, so this is never "not made yet".)
    if (error instanceof PayError && error.gatewayCode === 'NO_STATEMENT_EXIST') return { date, records: [] };
    throw error;
  }
  const { download_url: url, hash_type: hashType, hash_value: hashValue } = named.data ?? {};
  const base = context.merchant.baseUrl;
  // The download is signed with the merchant's key: it may only go to the gateway itself.
  if (!url?.startsWith(`${base}/`)) throw malformedBill('download_url is not on the gateway');
  if (hashType !== 'SHA1' || !hashValue) throw malformedBill(`unsupported hash ${String(hashType)}`);
  const file = await context.transport.call(
    { api: 'bill.download', method: 'GET', path: url.slice(base.length), write: false, file: true },
    false,
  );
  const sha1 = createHash('sha1').update(file.raw).digest('hex');
  if (sha1 !== hashValue.toLowerCase()) throw malformedBill('the file does not match its SHA-1');
  return parseTradeBill(date, file.raw.toString('utf8'));
}
