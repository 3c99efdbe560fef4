/**
 * One result for every way a payment is run on a device: the platform's payment call answered
 * (success, the buyer's cancel, a failure, an unknown result) or the page has a step left to show
 * (a QR code to render, a redirect made). Each platform words its answers differently
 * ("requestPayment:fail cancel", Alipay's resultCode 6001, Douyin's code 4...); they are read here
 * into one outcome with the buyer's words.
 */
import { type BuyerSituation, buyerWords, describeForBuyer } from './buyer.ts';
import type { Failure, Lang } from './errors.ts';

/**
 * paid: the platform says the buyer paid (confirm with waitForPayment before delivering);
 * cancelled: the buyer backed out; failed: it did not go through; pending: not known yet, or the
 * page still has to show `next` (QR code) or has left (redirect).
 */
export type PayOutcome = 'paid' | 'cancelled' | 'failed' | 'pending';

export type PayNext =
  | { kind: 'qr'; codeUrl: string; image?: string }
  | { kind: 'redirect'; url: string }
  | { kind: 'form'; action: string };

export interface PayResult {
  outcome: PayOutcome;
  situation: BuyerSituation;
  /** The buyer's words for the outcome, in the client's language. */
  title: string;
  text: string;
  /** The service's unified error when the payment could not be started or was refused. */
  failure?: Failure;
  /** The platform's own answer, for logs and support: the API called and what it said. */
  platform?: { api: string; message?: string; code?: string | number };
  /** What the page still has to do. */
  next?: PayNext;
  /** The merchant's order number, when the client knows it (to wait for the service's word). */
  outTradeNo?: string;
}

export function payResult(
  outcome: PayOutcome,
  situation: BuyerSituation,
  lang: Lang,
  extra: Omit<PayResult, 'outcome' | 'situation' | 'title' | 'text'> = {},
): PayResult {
  const { title, text } = buyerWords(situation, lang);
  return { outcome, situation, title, text, ...extra };
}

/** A failure of the service (or of the client before any platform call) as a pay result. */
export function failedResult(failure: Failure, lang: Lang, outTradeNo?: string): PayResult {
  const { situation, title, text } = describeForBuyer(failure, lang);
  return {
    outcome: situation === 'alreadyPaid' ? 'paid' : 'failed',
    situation,
    title,
    text,
    failure,
    ...(outTradeNo ? { outTradeNo } : {}),
  };
}

/** What a platform's payment call answered, as the callbacks hand it over. */
export interface PlatformAnswer {
  errMsg?: string;
  errCode?: number | string;
  /** plus.payment and uni's app errors. */
  code?: number | string;
  /** Alipay: 9000 paid, 8000/6004 unknown, 6001 cancelled, 6002 network, 4000 failed. */
  resultCode?: number | string;
  /** Douyin's trade system: tt.requestOrder / tt.getOrderPayment. */
  errNo?: number | string;
  /** uni-app's APP Alipay: the SDK's answer as JSON text, with its resultStatus. */
  rawdata?: string;
}

/** Alipay's result code: the mini program's resultCode, or the APP SDK's resultStatus in rawdata. */
function alipayResultCode(answer: PlatformAnswer | undefined): string | undefined {
  if (answer?.resultCode !== undefined) return String(answer.resultCode);
  if (typeof answer?.rawdata !== 'string') return undefined;
  try {
    const status = (JSON.parse(answer.rawdata) as { resultStatus?: unknown }).resultStatus;
    return status === undefined ? undefined : String(status);
  } catch {
    return undefined;
  }
}

export type PlatformKind = 'wechat' | 'alipay' | 'douyin-pay' | 'douyin-trade' | 'appleiap';

const CANCEL = /cancel|取消/i;
const NOT_INSTALLED = /not ?installed|未安装/i;

/** Reads a platform's answer: `ok` is whether the success callback ran. */
export function readPlatformAnswer(
  kind: PlatformKind,
  ok: boolean,
  answer: PlatformAnswer | undefined,
): { outcome: PayOutcome; situation: BuyerSituation } {
  const message = answer?.errMsg ?? '';
  const code = String(answer?.code ?? answer?.errCode ?? answer?.errNo ?? '');
  if (kind === 'alipay') {
    const resultCode = alipayResultCode(answer);
    if (resultCode === '9000') return { outcome: 'paid', situation: 'paid' };
    if (resultCode === '6001') return { outcome: 'cancelled', situation: 'cancelled' };
    if (resultCode === '8000' || resultCode === '6004') return { outcome: 'pending', situation: 'pending' };
    if (resultCode === '6002') return { outcome: 'failed', situation: 'offline' };
    if (resultCode !== undefined) return { outcome: 'failed', situation: 'failed' };
    // uni-app's app-plus Alipay: 62001 is the buyer's cancel.
    if (!ok && (code === '62001' || code === '-100' || CANCEL.test(message)))
      return { outcome: 'cancelled', situation: 'cancelled' };
  }
  if (kind === 'douyin-pay' && answer?.code !== undefined) {
    // tt.pay: 0 paid, 1 timed out, 2 failed, 3 closed, 4 cancelled, 9 unknown (maybe paid).
    switch (String(answer.code)) {
      case '0':
        return { outcome: 'paid', situation: 'paid' };
      case '1':
        return { outcome: 'failed', situation: 'timeout' };
      case '3':
        return { outcome: 'failed', situation: 'closed' };
      case '4':
        return { outcome: 'cancelled', situation: 'cancelled' };
      case '9':
        return { outcome: 'pending', situation: 'pending' };
      default:
        return { outcome: 'failed', situation: 'failed' };
    }
  }
  if (ok) return { outcome: 'paid', situation: 'paid' };
  // WeChat: "requestPayment:fail cancel"; app-plus: -2 (WXErrCodeUserCancel) or -100; StoreKit: 2.
  if (
    CANCEL.test(message) ||
    code === '-100' ||
    (kind === 'wechat' && code === '-2') ||
    (kind === 'appleiap' && code === '2')
  )
    return { outcome: 'cancelled', situation: 'cancelled' };
  if (NOT_INSTALLED.test(message) || code === '-8') return { outcome: 'failed', situation: 'notInstalled' };
  if (/not ?support|不支持|is not a function|not available/i.test(message))
    return { outcome: 'failed', situation: 'notAvailable' };
  return { outcome: 'failed', situation: 'failed' };
}

/** A platform answer as a pay result in the buyer's words. */
export function platformResult(
  kind: PlatformKind,
  api: string,
  ok: boolean,
  answer: PlatformAnswer | undefined,
  lang: Lang,
  outTradeNo?: string,
): PayResult {
  const { outcome, situation } = readPlatformAnswer(kind, ok, answer);
  const code = answer?.resultCode ?? answer?.code ?? answer?.errCode ?? answer?.errNo;
  return payResult(outcome, situation, lang, {
    platform: {
      api,
      ...(answer?.errMsg !== undefined ? { message: answer.errMsg } : {}),
      ...(code !== undefined ? { code } : {}),
    },
    ...(outTradeNo ? { outTradeNo } : {}),
  });
}
