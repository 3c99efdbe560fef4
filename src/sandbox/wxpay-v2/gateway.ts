/**
 * The WeChat Pay APIv2 gateway emulator's state and rules: merchants (API key, sign type, client
 * certificate), trades, refunds, and notifications with retries. As strict as the gateway: the
 * sign with the merchant's sign type, appid and mch_id, required fields, amounts, a reused
 * out_trade_no with other parameters, refunds only of paid trades and never above what was paid.
 */
import { randomBytes } from 'node:crypto';
import type { IssuedCertificate, V2CertificateAuthority } from './certificates.ts';
import { type DeskAnswer, MicropayDesk, V2PaymentCodes } from './micropay.ts';
import {
  beijing,
  encryptReqInfo,
  type Fields,
  nonce,
  parseBeijing,
  readXml,
  type SignType,
  signatureValid,
  signedXml,
  writeXml,
} from './wire.ts';

export interface V2Merchant {
  mchid: string;
  appids: string[];
  apiKey: string;
  signType: SignType;
}

export interface V2Trade {
  mchid: string;
  appid: string;
  outTradeNo: string;
  tradeType: string;
  body: string;
  totalFee: number;
  notifyUrl: string;
  openid: string | null;
  prepayId: string;
  codeUrl: string | null;
  mwebUrl: string | null;
  /** USERPAYING and REVOKED are payment-code (MICROPAY) states: confirming, and reversed. */
  state: 'NOTPAY' | 'USERPAYING' | 'SUCCESS' | 'CLOSED' | 'PAYERROR' | 'REFUND' | 'REVOKED';
  transactionId: string | null;
  timeEnd: string | null;
  expireAt: number | null;
  refundedFee: number;
  /** When it was paid, in ms. */
  paidAt: number | null;
  /** When it was made, in ms (payment codes: the reverse window counts from it). */
  createdAt?: number;
  /** A payment-code buyer who never confirms: the control API's pay is refused. */
  neverConfirms?: boolean;
}

export interface V2Refund {
  mchid: string;
  outTradeNo: string;
  outRefundNo: string;
  refundId: string;
  refundFee: number;
  totalFee: number;
  notifyUrl: string | null;
  status: 'PROCESSING' | 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE';
  successTime: string | null;
  createdAt: number;
}

export interface DeliveryAttempt {
  at: string;
  status: number | null;
  accepted: boolean;
}

export interface V2Notification {
  kind: 'payment' | 'refund';
  mchid: string;
  outTradeNo: string;
  outRefundNo: string | null;
  url: string;
  attempts: DeliveryAttempt[];
  delivered: boolean;
}

/** Seconds between resends, as WeChat documents: 15s, 15s, 30s, 3m, 10m, 20m, 30m... */
export const V2_RETRY_SECONDS = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600];

export interface Answer {
  status: number;
  body: string;
}

const OUT_NO = /^[0-9A-Za-z_\-|*@]{1,32}$/;

const STATE_WORDS: Partial<Record<V2Trade['state'], string>> = {
  CLOSED: '订单已关闭',
  USERPAYING: '需要用户输入支付密码',
  REVOKED: '已撤销',
  PAYERROR: '支付失败',
};

export class WxpayV2Gateway {
  readonly merchants = new Map<string, V2Merchant>();
  readonly trades = new Map<string, V2Trade>();
  readonly refunds = new Map<string, V2Refund>();
  readonly notifications: V2Notification[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;
  /** Gateway time minus wall time: payments and refunds are stamped (and billed) at gateway time. */
  clockOffsetMs = 0;
  /** Sandbox buyers' payment codes, and the micropay and reverse rules. */
  readonly paymentCodes = new V2PaymentCodes(() => this.now());
  readonly micropayDesk = new MicropayDesk(this.trades, this.paymentCodes, () => this.now());

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  constructor(
    readonly authority: V2CertificateAuthority,
    readonly options: { timeFactor: number; publicUrl: () => string },
  ) {}

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  async addMerchant(input: {
    mchid?: string;
    appid?: string;
    appids?: string[];
    signType?: string;
  }): Promise<V2Merchant & { clientCertificate: IssuedCertificate; caPem: string }> {
    const mchid = input.mchid ?? `16${randomBytes(4).readUInt32BE(0).toString().padStart(8, '0').slice(-8)}`;
    if (!/^\d{8,10}$/.test(mchid)) throw new Error('mchid must be 8 to 10 digits');
    if (this.merchants.has(mchid)) throw new Error(`merchant ${mchid} exists`);
    const signType = (input.signType ?? 'MD5') as SignType;
    if (signType !== 'MD5' && signType !== 'HMAC-SHA256')
      throw new Error('signType must be MD5 or HMAC-SHA256');
    const appids = [input.appid ?? `wx${randomBytes(8).toString('hex')}`, ...(input.appids ?? [])];
    const merchant: V2Merchant = { mchid, appids, apiKey: randomBytes(16).toString('hex'), signType };
    this.merchants.set(mchid, merchant);
    const clientCertificate = await this.authority.issue(
      `CN=${mchid}, OU=VK-Pay Sandbox, O=VK-Pay Sandbox, C=CN`,
      'client',
    );
    return { ...merchant, clientCertificate, caPem: this.authority.certificatePem };
  }

  // --- API -----------------------------------------------------------------------------------

  /** One API request: the raw XML in, the XML answer out; `clientMchid` is the TLS peer's CN when it verified. */
  handle(path: string, raw: string, clientMchid: string | null): Answer {
    const fields = readXml(raw);
    if (!fields) return this.#returnFail('XML格式错误');
    const merchant = this.merchants.get(fields.mch_id ?? '');
    if (!merchant) return this.#returnFail('mch_id参数格式错误');
    if (path.startsWith('/secapi/') && clientMchid !== merchant.mchid)
      return this.#returnFail('证书验证失败');
    const requested = fields.sign_type || 'MD5';
    if (requested !== merchant.signType) return this.#returnFail('签名类型错误');
    if (!signatureValid(fields, merchant.apiKey, merchant.signType)) return this.#returnFail('签名错误');
    if (!fields.nonce_str || fields.nonce_str.length > 32)
      return this.#fail(merchant, fields, 'LACK_PARAMS', '缺少参数nonce_str');
    if (!merchant.appids.includes(fields.appid ?? ''))
      return this.#fail(merchant, fields, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
    switch (path) {
      case '/pay/unifiedorder':
        return this.#unifiedOrder(merchant, fields);
      case '/pay/orderquery':
        return this.#orderQuery(merchant, fields);
      case '/pay/closeorder':
        return this.#closeOrder(merchant, fields);
      case '/secapi/pay/refund':
        return this.#refund(merchant, fields);
      case '/pay/refundquery':
        return this.#refundQuery(merchant, fields);
      case '/pay/downloadbill':
        return this.#downloadBill(merchant, fields);
      case '/pay/micropay':
        return this.#desk(merchant, fields, this.micropayDesk.micropay(merchant, fields));
      case '/secapi/pay/reverse':
        return this.#desk(
          merchant,
          fields,
          this.micropayDesk.reverse(merchant, fields, (f) =>
            this.#trade(merchant, f.out_trade_no, f.transaction_id),
          ),
        );
      default:
        return { status: 404, body: writeXml({ return_code: 'FAIL', return_msg: 'not found' }) };
    }
  }

  #returnFail(message: string): Answer {
    return { status: 200, body: writeXml({ return_code: 'FAIL', return_msg: message }) };
  }

  #ok(merchant: V2Merchant, fields: Fields, result: Record<string, string | number | undefined>): Answer {
    const answer = {
      return_code: 'SUCCESS',
      return_msg: 'OK',
      appid: fields.appid,
      mch_id: merchant.mchid,
      nonce_str: nonce(),
      result_code: 'SUCCESS',
      ...result,
    };
    return { status: 200, body: signedXml(answer, merchant.apiKey, merchant.signType) };
  }

  #desk(merchant: V2Merchant, fields: Fields, answer: DeskAnswer): Answer {
    return 'ok' in answer
      ? this.#ok(merchant, fields, answer.ok)
      : this.#fail(merchant, fields, answer.fail, answer.description, answer.extra);
  }

  #fail(
    merchant: V2Merchant,
    fields: Fields,
    code: string,
    description: string,
    extra: Record<string, string | number | undefined> = {},
  ): Answer {
    return {
      status: 200,
      body: signedXml(
        {
          return_code: 'SUCCESS',
          return_msg: 'OK',
          appid: fields.appid,
          mch_id: merchant.mchid,
          nonce_str: nonce(),
          result_code: 'FAIL',
          err_code: code,
          err_code_des: description,
          ...extra,
        },
        merchant.apiKey,
        merchant.signType,
      ),
    };
  }

  #trade(merchant: V2Merchant, outTradeNo: string | undefined, transactionId?: string): V2Trade | undefined {
    if (transactionId) {
      for (const trade of this.trades.values())
        if (trade.mchid === merchant.mchid && trade.transactionId === transactionId) return trade;
      return undefined;
    }
    return this.trades.get(`${merchant.mchid}/${outTradeNo ?? ''}`);
  }

  #expire(trade: V2Trade): void {
    if (trade.state === 'NOTPAY' && trade.expireAt !== null && Date.now() > trade.expireAt)
      trade.state = 'CLOSED';
  }

  #unifiedOrder(merchant: V2Merchant, f: Fields): Answer {
    for (const name of ['body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'notify_url', 'trade_type'])
      if (!f[name]) return this.#fail(merchant, f, 'LACK_PARAMS', `缺少参数${name}`);
    if (!OUT_NO.test(f.out_trade_no!))
      return this.#fail(merchant, f, 'INVALID_REQUEST', 'out_trade_no格式错误');
    if (!/^[1-9]\d{0,9}$/.test(f.total_fee!))
      return this.#fail(merchant, f, 'INVALID_REQUEST', 'total_fee格式错误');
    if (Buffer.byteLength(f.body!, 'utf8') > 128)
      return this.#fail(merchant, f, 'INVALID_REQUEST', 'body长度超限');
    if (!/^https?:\/\/[^\s?]+/.test(f.notify_url!))
      return this.#fail(merchant, f, 'INVALID_REQUEST', 'notify_url格式错误');
    if (f.fee_type && f.fee_type !== 'CNY') return this.#fail(merchant, f, 'INVALID_REQUEST', 'fee_type错误');
    const tradeType = f.trade_type!;
    if (!['JSAPI', 'NATIVE', 'APP', 'MWEB'].includes(tradeType))
      return this.#fail(merchant, f, 'INVALID_REQUEST', 'trade_type错误');
    if (tradeType === 'JSAPI' && !f.openid)
      return this.#fail(merchant, f, 'LACK_PARAMS', 'trade_type=JSAPI时openid必传');
    if (tradeType === 'NATIVE' && !f.product_id)
      return this.#fail(merchant, f, 'LACK_PARAMS', 'trade_type=NATIVE时product_id必传');
    let expireAt: number | null = null;
    if (f.time_expire) {
      expireAt = parseBeijing(f.time_expire);
      if (expireAt === null || expireAt < Date.now() + 60_000)
        return this.#fail(
          merchant,
          f,
          'INVALID_REQUEST',
          'time_expire时间过短，最短失效时间间隔必须大于1分钟',
        );
    }
    const existing = this.#trade(merchant, f.out_trade_no);
    if (existing) {
      this.#expire(existing);
      if (existing.state === 'SUCCESS' || existing.state === 'REFUND')
        return this.#fail(merchant, f, 'ORDERPAID', '该订单已支付');
      if (existing.state === 'CLOSED') return this.#fail(merchant, f, 'ORDERCLOSED', '该订单已关');
      const same =
        existing.totalFee === Number(f.total_fee) &&
        existing.body === f.body &&
        existing.tradeType === tradeType &&
        existing.appid === f.appid &&
        existing.openid === (f.openid ?? null) &&
        existing.notifyUrl === f.notify_url;
      if (!same) return this.#fail(merchant, f, 'INVALID_REQUEST', '201 商户订单号重复');
      return this.#ok(merchant, f, this.#prepayFields(existing));
    }
    const prepayId = `wx${beijing(Date.now())}${randomBytes(10).toString('hex')}`;
    const trade: V2Trade = {
      mchid: merchant.mchid,
      appid: f.appid!,
      outTradeNo: f.out_trade_no!,
      tradeType,
      body: f.body!,
      totalFee: Number(f.total_fee),
      notifyUrl: f.notify_url!,
      openid: f.openid ?? null,
      prepayId,
      codeUrl:
        tradeType === 'NATIVE' ? `weixin://wxpay/bizpayurl?pr=${randomBytes(5).toString('hex')}` : null,
      mwebUrl:
        tradeType === 'MWEB'
          ? `${this.options.publicUrl()}/sandbox/payer?prepay_id=${prepayId}&package=${randomBytes(5).toString('hex')}`
          : null,
      state: 'NOTPAY',
      transactionId: null,
      timeEnd: null,
      expireAt,
      refundedFee: 0,
      paidAt: null,
    };
    this.trades.set(`${merchant.mchid}/${trade.outTradeNo}`, trade);
    return this.#ok(merchant, f, this.#prepayFields(trade));
  }

  #prepayFields(trade: V2Trade): Record<string, string | undefined> {
    return {
      trade_type: trade.tradeType,
      prepay_id: trade.prepayId,
      code_url: trade.codeUrl ?? undefined,
      mweb_url: trade.mwebUrl ?? undefined,
    };
  }

  #orderQuery(merchant: V2Merchant, f: Fields): Answer {
    if (!f.out_trade_no && !f.transaction_id)
      return this.#fail(merchant, f, 'LACK_PARAMS', '缺少参数out_trade_no');
    const trade = this.#trade(merchant, f.out_trade_no, f.transaction_id);
    if (!trade) return this.#fail(merchant, f, 'ORDERNOTEXIST', '此交易订单号不存在');
    this.#expire(trade);
    const paid = trade.state === 'SUCCESS' || trade.state === 'REFUND';
    return this.#ok(merchant, f, {
      out_trade_no: trade.outTradeNo,
      trade_state: trade.state,
      trade_state_desc: paid ? '支付成功' : (STATE_WORDS[trade.state] ?? '订单未支付'),
      total_fee: trade.totalFee,
      fee_type: 'CNY',
      trade_type: paid ? trade.tradeType : undefined,
      transaction_id: trade.transactionId ?? undefined,
      time_end: trade.timeEnd ?? undefined,
      cash_fee: paid ? trade.totalFee : undefined,
      openid: paid ? (trade.openid ?? undefined) : undefined,
      bank_type: paid ? 'OTHERS' : undefined,
    });
  }

  #closeOrder(merchant: V2Merchant, f: Fields): Answer {
    const trade = this.#trade(merchant, f.out_trade_no);
    if (!trade) return this.#fail(merchant, f, 'ORDERNOTEXIST', '订单不存在');
    this.#expire(trade);
    if (trade.state === 'SUCCESS' || trade.state === 'REFUND')
      return this.#fail(merchant, f, 'ORDERPAID', '订单已支付');
    if (trade.state === 'CLOSED') return this.#fail(merchant, f, 'ORDERCLOSED', '订单已关闭');
    trade.state = 'CLOSED';
    return this.#ok(merchant, f, {});
  }

  #refund(merchant: V2Merchant, f: Fields): Answer {
    for (const name of ['out_refund_no', 'total_fee', 'refund_fee'])
      if (!f[name]) return this.#fail(merchant, f, 'LACK_PARAMS', `缺少参数${name}`);
    if (!OUT_NO.test(f.out_refund_no!))
      return this.#fail(merchant, f, 'INVALID_REQUEST', 'out_refund_no格式错误');
    if (!/^[1-9]\d{0,9}$/.test(f.refund_fee!) || !/^[1-9]\d{0,9}$/.test(f.total_fee!))
      return this.#fail(merchant, f, 'INVALID_REQUEST', '金额格式错误');
    const trade = this.#trade(merchant, f.out_trade_no, f.transaction_id);
    if (!trade) return this.#fail(merchant, f, 'ORDERNOTEXIST', '订单不存在');
    if (trade.state !== 'SUCCESS' && trade.state !== 'REFUND')
      return this.#fail(merchant, f, 'TRADE_STATE_ERROR', '订单状态错误');
    const refundFee = Number(f.refund_fee);
    if (Number(f.total_fee) !== trade.totalFee)
      return this.#fail(merchant, f, 'INVALID_REQUEST', '订单金额或退款金额与之前请求不一致，请核实后再试');
    const key = `${merchant.mchid}/${f.out_refund_no}`;
    const existing = this.refunds.get(key);
    if (existing) {
      if (existing.refundFee !== refundFee || existing.outTradeNo !== trade.outTradeNo)
        return this.#fail(merchant, f, 'INVALID_REQUEST', '订单金额或退款金额与之前请求不一致，请核实后再试');
      return this.#ok(merchant, f, this.#refundFields(trade, existing));
    }
    if (trade.refundedFee + refundFee > trade.totalFee)
      return this.#fail(merchant, f, 'INVALID_REQUEST', '累计退款金额大于支付金额');
    const refund: V2Refund = {
      mchid: merchant.mchid,
      outTradeNo: trade.outTradeNo,
      outRefundNo: f.out_refund_no!,
      refundId: `50${beijing(Date.now())}${randomBytes(6).toString('hex')}`,
      refundFee,
      totalFee: trade.totalFee,
      notifyUrl: f.notify_url || null,
      status: 'PROCESSING',
      successTime: null,
      createdAt: this.now(),
    };
    trade.refundedFee += refundFee;
    trade.state = 'REFUND';
    this.refunds.set(key, refund);
    return this.#ok(merchant, f, this.#refundFields(trade, refund));
  }

  #refundFields(trade: V2Trade, refund: V2Refund): Record<string, string | number> {
    return {
      transaction_id: trade.transactionId ?? '',
      out_trade_no: trade.outTradeNo,
      out_refund_no: refund.outRefundNo,
      refund_id: refund.refundId,
      refund_fee: refund.refundFee,
      total_fee: trade.totalFee,
      cash_fee: trade.totalFee,
    };
  }

  #refundQuery(merchant: V2Merchant, f: Fields): Answer {
    const list = [...this.refunds.values()].filter(
      (r) =>
        r.mchid === merchant.mchid &&
        (f.out_refund_no ? r.outRefundNo === f.out_refund_no : r.outTradeNo === f.out_trade_no),
    );
    if (!f.out_refund_no && !f.out_trade_no)
      return this.#fail(merchant, f, 'LACK_PARAMS', '缺少参数out_refund_no');
    if (list.length === 0) return this.#fail(merchant, f, 'REFUNDNOTEXIST', '退款订单查询失败');
    const trade = this.#trade(merchant, list[0]!.outTradeNo)!;
    const result: Record<string, string | number | undefined> = {
      transaction_id: trade.transactionId ?? undefined,
      out_trade_no: trade.outTradeNo,
      total_fee: trade.totalFee,
      cash_fee: trade.totalFee,
      refund_count: list.length,
    };
    list.forEach((refund, n) => {
      result[`out_refund_no_${n}`] = refund.outRefundNo;
      result[`refund_id_${n}`] = refund.refundId;
      result[`refund_fee_${n}`] = refund.refundFee;
      result[`refund_status_${n}`] = refund.status;
      result[`refund_success_time_${n}`] = refund.successTime ?? undefined;
    });
    return this.#ok(merchant, f, result);
  }

  /** The ALL bill of a China date as text (amounts in yuan, values after a backquote); XML when there is none. */
  #downloadBill(merchant: V2Merchant, f: Fields): Answer {
    if (!/^\d{8}$/.test(f.bill_date ?? ''))
      return this.#fail(merchant, f, 'INVALID_REQUEST', 'bill_date格式错误');
    if (f.bill_type && f.bill_type !== 'ALL')
      return this.#fail(merchant, f, 'INVALID_REQUEST', 'bill_type仅支持ALL');
    const day = (ms: number) => beijing(ms).slice(0, 8);
    const yuan = (fen: number) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
    const rows: string[][] = [];
    let paid = 0;
    let refunded = 0;
    for (const trade of this.trades.values()) {
      if (trade.mchid !== merchant.mchid || trade.paidAt === null || day(trade.paidAt) !== f.bill_date)
        continue;
      paid += trade.totalFee;
      rows.push([
        beijing(trade.paidAt, true),
        trade.appid,
        merchant.mchid,
        '',
        '',
        trade.transactionId!,
        trade.outTradeNo,
        trade.openid ?? '',
        trade.tradeType,
        'SUCCESS',
        'OTHERS',
        'CNY',
        yuan(trade.totalFee),
        '0.00',
        '0',
        '0',
        '0.00',
        '0.00',
        '',
        '',
        trade.body,
        '',
        '0.00',
        '0.00%',
        yuan(trade.totalFee),
        '0.00',
        '',
      ]);
    }
    for (const refund of this.refunds.values()) {
      if (refund.mchid !== merchant.mchid || day(refund.createdAt) !== f.bill_date) continue;
      const trade = this.trades.get(`${merchant.mchid}/${refund.outTradeNo}`)!;
      refunded += refund.refundFee;
      rows.push([
        beijing(refund.createdAt, true),
        trade.appid,
        merchant.mchid,
        '',
        '',
        trade.transactionId ?? '',
        trade.outTradeNo,
        trade.openid ?? '',
        trade.tradeType,
        'REFUND',
        'OTHERS',
        'CNY',
        '0.00',
        '0.00',
        refund.refundId,
        refund.outRefundNo,
        yuan(refund.refundFee),
        '0.00',
        'ORIGINAL',
        refund.status,
        trade.body,
        '',
        '0.00',
        '0.00%',
        yuan(trade.totalFee),
        yuan(refund.refundFee),
        '',
      ]);
    }
    if (rows.length === 0)
      return {
        status: 200,
        body: writeXml({ return_code: 'FAIL', return_msg: 'No Bill Exist', error_code: '20002' }),
      };
    const header =
      '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
    const lines = rows.map((row) => row.map((value) => `\`${value}`).join(','));
    const summary = [
      '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
      [String(rows.length), yuan(paid), yuan(refunded), '0.00', '0.00', yuan(paid), yuan(refunded)]
        .map((v) => `\`${v}`)
        .join(','),
    ];
    return { status: 200, body: `${[header, ...lines, ...summary].join('\r\n')}\r\n` };
  }

  // --- payer and operator actions ------------------------------------------------------------

  /** The payer pays (or the payment fails); a paid trade's notification goes out. */
  pay(
    mchid: string,
    outTradeNo: string,
    options: { fail?: boolean; openid?: string; duplicates?: number } = {},
  ): V2Trade {
    const trade = this.trades.get(`${mchid}/${outTradeNo}`);
    if (!trade) throw new Error('no such trade');
    this.#expire(trade);
    if (trade.state !== 'NOTPAY' && trade.state !== 'USERPAYING')
      throw new Error(`the trade is ${trade.state}`);
    if (trade.neverConfirms) throw new Error('the buyer of this payment code never confirms');
    if (trade.tradeType === 'JSAPI' && options.openid && options.openid !== trade.openid)
      throw new Error('the payer is not the openid the order was made for');
    if (options.fail) {
      trade.state = 'PAYERROR';
      return trade;
    }
    trade.state = 'SUCCESS';
    trade.transactionId = `42${beijing(Date.now()).slice(2)}${randomBytes(6).readUIntBE(0, 6).toString().padStart(15, '0').slice(0, 14)}`;
    trade.timeEnd = beijing(this.now());
    trade.paidAt = this.now();
    trade.openid ??= `oSandbox${randomBytes(10).toString('hex')}`;
    // Payment codes are answered at the counter: WeChat sends no notification for them.
    if (!trade.notifyUrl) return trade;
    const merchant = this.merchants.get(mchid)!;
    const body = this.paymentNotification(merchant, trade);
    for (let i = 0; i <= (options.duplicates ?? 0); i += 1)
      this.#deliver(
        {
          kind: 'payment',
          mchid,
          outTradeNo,
          outRefundNo: null,
          url: trade.notifyUrl,
          attempts: [],
          delivered: false,
        },
        body,
      );
    return trade;
  }

  paymentNotification(merchant: V2Merchant, trade: V2Trade): string {
    return signedXml(
      {
        return_code: 'SUCCESS',
        return_msg: 'OK',
        appid: trade.appid,
        mch_id: merchant.mchid,
        nonce_str: nonce(),
        result_code: 'SUCCESS',
        openid: trade.openid ?? undefined,
        is_subscribe: 'N',
        trade_type: trade.tradeType,
        bank_type: 'OTHERS',
        total_fee: trade.totalFee,
        fee_type: 'CNY',
        cash_fee: trade.totalFee,
        transaction_id: trade.transactionId!,
        out_trade_no: trade.outTradeNo,
        time_end: trade.timeEnd!,
      },
      merchant.apiKey,
      merchant.signType,
    );
  }

  /** The refund settles (SUCCESS, or CHANGE/REFUNDCLOSE) and its encrypted notification goes out. */
  settleRefund(
    mchid: string,
    outRefundNo: string,
    status: 'SUCCESS' | 'CHANGE' | 'REFUNDCLOSE' = 'SUCCESS',
  ): V2Refund {
    const refund = this.refunds.get(`${mchid}/${outRefundNo}`);
    if (!refund) throw new Error('no such refund');
    if (refund.status !== 'PROCESSING') throw new Error(`the refund is ${refund.status}`);
    refund.status = status;
    const trade = this.trades.get(`${mchid}/${refund.outTradeNo}`)!;
    if (status === 'SUCCESS') refund.successTime = beijing(this.now(), true);
    else trade.refundedFee -= refund.refundFee;
    if (refund.notifyUrl) {
      const merchant = this.merchants.get(mchid)!;
      const inner = writeXml({
        transaction_id: trade.transactionId ?? '',
        out_trade_no: trade.outTradeNo,
        refund_id: refund.refundId,
        out_refund_no: refund.outRefundNo,
        total_fee: trade.totalFee,
        refund_fee: refund.refundFee,
        settlement_refund_fee: refund.refundFee,
        refund_status: status,
        success_time: refund.successTime ?? undefined,
        refund_recv_accout: '支付用户零钱',
        refund_account: 'REFUND_SOURCE_RECHARGE_FUNDS',
        refund_request_source: 'API',
      });
      const body = writeXml({
        return_code: 'SUCCESS',
        appid: trade.appid,
        mch_id: mchid,
        nonce_str: nonce(),
        req_info: encryptReqInfo(inner, merchant.apiKey),
      });
      this.#deliver(
        {
          kind: 'refund',
          mchid,
          outTradeNo: trade.outTradeNo,
          outRefundNo,
          url: refund.notifyUrl,
          attempts: [],
          delivered: false,
        },
        body,
      );
    }
    return refund;
  }

  #deliver(record: V2Notification, body: string): void {
    this.notifications.push(record);
    const send = async (attempt: number) => {
      if (this.#stopped) return;
      let status: number | null = null;
      let accepted = false;
      try {
        const response = await fetch(record.url, {
          method: 'POST',
          headers: { 'content-type': 'text/xml; charset=utf-8' },
          body,
          signal: AbortSignal.timeout(5_000),
        });
        status = response.status;
        const answer = readXml(await response.text());
        accepted = status === 200 && answer?.return_code === 'SUCCESS';
      } catch {
        // No answer: resent on the schedule.
      }
      record.attempts.push({ at: new Date().toISOString(), status, accepted });
      if (accepted) {
        record.delivered = true;
        return;
      }
      const delay = V2_RETRY_SECONDS[attempt];
      if (delay === undefined || this.#stopped) return;
      const timer = setTimeout(
        () => {
          this.#timers.delete(timer);
          void send(attempt + 1);
        },
        delay * 1000 * this.options.timeFactor,
      );
      this.#timers.add(timer);
    };
    void send(0);
  }
}
