/**
 * The APIv2 emulator's payment codes: /pay/micropay with a sandbox buyer's code (18 digits starting
 * 10..15, single use, expiring; issued by the control API with how the buyer behaves) and
 * /secapi/pay/reverse. A micropay trade is USERPAYING while the buyer confirms, SUCCESS once paid,
 * REVOKED once reversed (closed, or refunded in full if it was paid). No notification: WeChat sends
 * none for micropay.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { PaymentCodeBook } from '../shared/payment-codes.ts';
import type { V2Merchant, V2Trade } from './gateway.ts';
import { beijing, type Fields } from './wire.ts';

const OUT_NO = /^[0-9A-Za-z_\-|*@]{1,32}$/;
/** A payment-code order can be reversed for 7 days. */
const REVERSE_WINDOW_MS = 7 * 86_400_000;

export interface CodeBuyer {
  openid?: string;
}

export class V2PaymentCodes extends PaymentCodeBook<CodeBuyer> {
  constructor(now: () => number) {
    super({ prefix: '13', length: 18, pattern: /^1[0-5]\d{16}$/ }, now, (count) =>
      Array.from({ length: count }, () => String(randomInt(10))).join(''),
    );
  }
}

type Result = Record<string, string | number | undefined>;

/** What the gateway answers: a SUCCESS with fields, or a result_code=FAIL with err_code. */
export type DeskAnswer = { ok: Result } | { fail: string; description: string; extra?: Result };

const fail = (code: string, description: string, extra?: Result): DeskAnswer => ({
  fail: code,
  description,
  ...(extra ? { extra } : {}),
});

export class MicropayDesk {
  constructor(
    private readonly trades: Map<string, V2Trade>,
    readonly codes: V2PaymentCodes,
    private readonly now: () => number,
  ) {}

  micropay(merchant: V2Merchant, f: Fields): DeskAnswer {
    for (const name of ['body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'auth_code'])
      if (!f[name]) return fail('LACK_PARAMS', `缺少参数${name}`);
    if (!OUT_NO.test(f.out_trade_no!)) return fail('PARAM_ERROR', 'out_trade_no格式错误');
    if (!/^[1-9]\d{0,9}$/.test(f.total_fee!)) return fail('PARAM_ERROR', 'total_fee格式错误');
    if (Buffer.byteLength(f.body!, 'utf8') > 128) return fail('PARAM_ERROR', 'body长度超限');
    if (f.fee_type && f.fee_type !== 'CNY') return fail('PARAM_ERROR', 'fee_type错误');
    const key = `${merchant.mchid}/${f.out_trade_no}`;
    const existing = this.trades.get(key);
    if (existing) {
      // The order is checked before the code is read: a refused order spends no code.
      if (existing.state === 'SUCCESS' || existing.state === 'REFUND') return fail('ORDERPAID', '订单已支付');
      if (existing.state === 'REVOKED') return fail('ORDERREVERSED', '当前订单已经被撤销');
      if (existing.state === 'CLOSED') return fail('ORDERCLOSED', '当前订单已关闭，请重新下单');
      if (existing.state === 'USERPAYING') return fail('USERPAYING', '需要用户输入支付密码');
      return fail('OUT_TRADE_NO_USED', '商户订单号重复');
    }
    const taken = this.codes.take(f.auth_code!);
    if ('refused' in taken) {
      if (taken.refused === 'expired')
        return fail('AUTHCODEEXPIRE', '二维码已过期，请用户在微信上刷新后再试');
      if (taken.refused === 'used')
        return fail('AUTH_CODE_INVALID', '101 每个二维码仅限使用一次，请刷新再试');
      return fail('AUTH_CODE_INVALID', '请扫描微信支付授权码(以10/11/12/13/14/15为前缀的18位数字)');
    }
    const { code } = taken;
    if (code.behaviour === 'insufficient') return fail('NOTENOUGH', '用户余额不足');
    const trade: V2Trade = {
      mchid: merchant.mchid,
      appid: f.appid!,
      outTradeNo: f.out_trade_no!,
      tradeType: 'MICROPAY',
      body: f.body!,
      totalFee: Number(f.total_fee),
      notifyUrl: '',
      openid: code.buyer.openid ?? `oSandbox${randomBytes(10).toString('hex')}`,
      prepayId: '',
      codeUrl: null,
      mwebUrl: null,
      state: 'USERPAYING',
      transactionId: null,
      timeEnd: null,
      expireAt: null,
      refundedFee: 0,
      paidAt: null,
      createdAt: this.now(),
      ...(code.behaviour === 'never' ? { neverConfirms: true } : {}),
    };
    this.trades.set(key, trade);
    if (code.behaviour !== 'pay') return fail('USERPAYING', '需要用户输入支付密码');
    this.settle(trade);
    return { ok: paidFields(trade) };
  }

  /** The buyer's payment goes through (at once, or on confirming the password). */
  settle(trade: V2Trade): void {
    trade.state = 'SUCCESS';
    trade.transactionId = `42${beijing(this.now()).slice(2)}${String(randomInt(1e9)).padStart(9, '0')}${String(randomInt(1e5)).padStart(5, '0')}`;
    trade.timeEnd = beijing(this.now());
    trade.paidAt = this.now();
  }

  reverse(merchant: V2Merchant, f: Fields, find: (f: Fields) => V2Trade | undefined): DeskAnswer {
    if (!f.out_trade_no && !f.transaction_id) return fail('LACK_PARAMS', '缺少参数out_trade_no');
    const trade = find(f);
    if (!trade || trade.mchid !== merchant.mchid) return fail('ORDERNOTEXIST', '订单不存在', { recall: 'N' });
    if (this.now() - (trade.createdAt ?? trade.paidAt ?? this.now()) > REVERSE_WINDOW_MS)
      return fail('REVERSE_EXPIRE', '订单已超过撤销期限，请使用退款接口', { recall: 'N' });
    if (trade.state === 'REFUND') return fail('TRADE_ERROR', '订单已发起退款，不能撤销', { recall: 'N' });
    // Closed unpaid, or paid and refunded in full: either way the buyer keeps the money.
    if (trade.state === 'SUCCESS') trade.refundedFee = trade.totalFee;
    trade.state = 'REVOKED';
    return { ok: { recall: 'N' } };
  }
}

/** The fields of a paid micropay answer. The code is never echoed. */
export function paidFields(trade: V2Trade): Result {
  return {
    openid: trade.openid ?? undefined,
    is_subscribe: 'N',
    trade_type: 'MICROPAY',
    bank_type: 'OTHERS',
    fee_type: 'CNY',
    total_fee: trade.totalFee,
    cash_fee_type: 'CNY',
    cash_fee: trade.totalFee,
    transaction_id: trade.transactionId!,
    out_trade_no: trade.outTradeNo,
    time_end: trade.timeEnd!,
  };
}
