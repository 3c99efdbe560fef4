/**
 * What the mini program and uni-app clients share: a request function over `uni.request` /
 * `wx.request` (same callback shape), a promise over a platform's success/fail callbacks, and the
 * service's word on a payment after the platform's.
 */
import type {
  BackendPayRequest,
  CheckoutPayRequest,
  PaymentTarget,
  RequestFunction,
  VkPayClient,
  WaitOptions,
} from './client.ts';
import { isSuccess, type Lang } from './errors.ts';
import { failedResult, type PayResult, payResult } from './pay-result.ts';
import type { PaymentStart } from './types.ts';

/** What a mini-program client's pay() takes: a payment to start, or one the backend started. */
export type MiniPayRequest =
  | CheckoutPayRequest
  | BackendPayRequest
  | { start: PaymentStart; outTradeNo?: string; checkoutToken?: string };

/**
 * pay() of the uni-app and WeChat mini program clients alike: starts the payment (or takes one
 * already started), has the platform run it, then, when asked, waits for the service's word.
 */
export async function payOnPlatform(
  client: VkPayClient,
  request: MiniPayRequest,
  confirm: boolean | WaitOptions | undefined,
  lang: Lang,
  run: (start: PaymentStart, outTradeNo: string | undefined) => Promise<PayResult>,
): Promise<PayResult> {
  let start: PaymentStart;
  let target: PaymentTarget | undefined;
  let outTradeNo: string | undefined;
  if ('start' in request) {
    start = request.start;
    outTradeNo = request.outTradeNo;
    target = outTradeNo
      ? { outTradeNo }
      : request.checkoutToken
        ? { checkoutToken: request.checkoutToken }
        : undefined;
  } else {
    if ('body' in request && typeof request.body.out_trade_no === 'string')
      outTradeNo = request.body.out_trade_no;
    target =
      'checkoutToken' in request
        ? { checkoutToken: request.checkoutToken }
        : outTradeNo
          ? { outTradeNo }
          : undefined;
    const created = await client.createPayment(request);
    if (!isSuccess(created)) return failedResult(created, lang, outTradeNo);
    start = created.data;
  }
  const result = await run(start, outTradeNo);
  const wait = confirm === true ? {} : confirm || undefined;
  return wait ? confirmWithService(client, result, target, wait, lang) : result;
}

/** `uni.request` and `wx.request` alike: the little of them the client uses. */
export type CallbackRequest = (options: {
  url: string;
  method: 'GET' | 'POST';
  header: Record<string, string>;
  data?: unknown;
  dataType?: 'json';
  timeout?: number;
  success(answer: { statusCode: number; data: unknown }): void;
  fail(answer: { errMsg: string }): void;
}) => unknown;

/** A request function over uni.request / wx.request: JSON both ways, `timeoutMs` per request. */
export function callbackRequestFunction(request: CallbackRequest, timeoutMs?: number): RequestFunction {
  return ({ url, method, headers, body }) =>
    new Promise((resolve) =>
      request({
        url,
        method,
        header: headers,
        ...(body !== undefined ? { data: body } : {}),
        dataType: 'json',
        ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}),
        success: (answer) => resolve({ status: answer.statusCode, body: parsed(answer.data) }),
        fail: (answer) => resolve({ unanswered: answer?.errMsg ?? 'request:fail' }),
      }),
    );
}

/** A body the platform could not parse as JSON comes as text; try once more, else it is not JSON. */
function parsed(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}

/** Calls a platform API with success/fail callbacks; a missing API or a throw reads as a fail. */
export function invoke<T>(
  api: ((options: Record<string, unknown>) => unknown) | undefined,
  name: string,
  args: Record<string, unknown>,
): Promise<{ ok: true; answer: T } | { ok: false; answer: { errMsg: string; [key: string]: unknown } }> {
  return new Promise((resolve) => {
    if (typeof api !== 'function') {
      resolve({ ok: false, answer: { errMsg: `${name}:fail not available on this platform` } });
      return;
    }
    try {
      api({
        ...args,
        success: (answer: T) => resolve({ ok: true, answer }),
        fail: (answer: { errMsg: string }) =>
          resolve({ ok: false, answer: answer ?? { errMsg: `${name}:fail` } }),
      });
    } catch (error) {
      resolve({
        ok: false,
        answer: { errMsg: `${name}:fail ${error instanceof Error ? error.message : error}` },
      });
    }
  });
}

/**
 * The platform said paid (or could not say): wait for the service's word, which is the one that
 * counts. A cancel or a failure the platform reported stays as it is.
 */
export async function confirmWithService(
  client: VkPayClient,
  result: PayResult,
  target: PaymentTarget | undefined,
  wait: WaitOptions,
  lang: Lang,
): Promise<PayResult> {
  if (!target || result.next || (result.outcome !== 'paid' && result.outcome !== 'pending')) return result;
  const answer = await client.waitForPayment(target, wait);
  const keep = { ...(result.platform ? { platform: result.platform } : {}), ...outTradeNoOf(result) };
  if (!isSuccess(answer)) return { ...result, failure: answer };
  switch (answer.data.outcome) {
    case 'paid':
      return payResult('paid', 'paid', lang, keep);
    case 'closed':
      return payResult('failed', 'closed', lang, keep);
    case 'expired':
      return payResult('failed', 'expired', lang, keep);
    case 'failed':
      return payResult('failed', answer.data.failure?.code === 40007 ? 'balance' : 'failed', lang, keep);
    default:
      return payResult('pending', 'pending', lang, keep);
  }
}

function outTradeNoOf(result: PayResult): { outTradeNo?: string } {
  return result.outTradeNo ? { outTradeNo: result.outTradeNo } : {};
}
