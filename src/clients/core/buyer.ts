/**
 * What an app or mini program tells its buyer, in Chinese or English: the outcome of a payment
 * (paid, cancelled, failed, still being confirmed) and a unified error code, in plain words. The
 * developers' wording of a code is describeError's (the server's error table); this is the buyer's.
 */
import type { Failure, Lang } from './errors.ts';

export type BuyerSituation =
  | 'paid'
  | 'cancelled'
  | 'failed'
  | 'pending'
  | 'timeout'
  | 'closed'
  | 'expired'
  | 'alreadyPaid'
  | 'balance'
  | 'offline'
  | 'busy'
  | 'rateLimited'
  | 'notFound'
  | 'badRequest'
  | 'notAvailable'
  | 'notInstalled'
  | 'error';

export interface BuyerWords {
  situation: BuyerSituation;
  title: string;
  text: string;
}

type Table = Record<BuyerSituation, [title: string, text: string]>;

const zh: Table = {
  paid: ['支付成功', '订单已支付，感谢您的购买。'],
  cancelled: ['您已取消支付', '订单尚未支付，您可以重新支付。'],
  failed: ['支付未成功', '这次支付没有完成，款项未被扣除。请重试或更换支付方式。'],
  pending: ['正在确认支付结果', '如果您已付款，请稍候，我们正在确认结果。'],
  timeout: ['支付超时', '支付没有在规定时间内完成，请重新支付。'],
  closed: ['订单已关闭', '此订单已关闭，无法再支付。如需购买，请重新下单。'],
  expired: ['订单已超时关闭', '支付时间已过，此订单无法再支付。如需购买，请重新下单。'],
  alreadyPaid: ['订单已支付', '此订单已支付成功，无需重复支付。'],
  balance: ['余额不足', '付款账户余额不足，款项未被扣除。请充值或更换支付方式后重试。'],
  offline: ['网络连接失败', '请检查网络连接后重试。'],
  busy: ['支付服务繁忙', '请稍后重试，您的订单不会重复扣款。'],
  rateLimited: ['操作过于频繁', '请稍等片刻再试。'],
  notFound: ['订单不存在', '找不到这个订单，请返回重新下单。'],
  badRequest: ['订单信息有误', '无法发起这笔支付，请返回重新下单。'],
  notAvailable: ['暂不支持此支付方式', '当前设备或环境无法使用此支付方式，请更换支付方式。'],
  notInstalled: ['未安装支付应用', '请先安装对应的支付应用，或更换支付方式。'],
  error: ['出了点问题', '暂时无法完成支付，请重试。如果问题持续，请联系商家。'],
};

const en: Table = {
  paid: ['Payment successful', 'The order is paid. Thank you for your purchase.'],
  cancelled: ['You cancelled the payment', 'The order is not paid yet; you can pay again.'],
  failed: [
    'The payment did not go through',
    'The payment was not completed and nothing was charged. Try again or use another method.',
  ],
  pending: ['Confirming the payment', 'If you have paid, please wait while we confirm it.'],
  timeout: ['The payment timed out', 'The payment was not completed in time; please pay again.'],
  closed: ['Order closed', 'This order is closed and can no longer be paid. Please order again.'],
  expired: ['The order expired', 'The time to pay is over; please order again.'],
  alreadyPaid: ['Already paid', 'This order is paid; there is nothing more to pay.'],
  balance: [
    'Insufficient balance',
    'The paying account does not have enough money and nothing was charged. Top up or use another method.',
  ],
  offline: ['No connection', 'Please check your network connection and try again.'],
  busy: ['Payment service busy', 'Please try again shortly; you will not be charged twice.'],
  rateLimited: ['Too many attempts', 'Please wait a moment and try again.'],
  notFound: ['Order not found', 'This order could not be found; please order again.'],
  badRequest: ['Order details are not valid', 'This payment cannot be started; please order again.'],
  notAvailable: [
    'This payment method is not available here',
    'It does not work on this device or in this app; please choose another method.',
  ],
  notInstalled: ['Payment app not installed', 'Install the payment app first, or choose another method.'],
  error: [
    'Something went wrong',
    'The payment could not be completed; please try again. If it keeps happening, contact the shop.',
  ],
};

export function buyerWords(situation: BuyerSituation, lang: Lang = 'zh'): BuyerWords {
  const [title, text] = (lang === 'en' ? en : zh)[situation];
  return { situation, title, text };
}

/** The buyer's situation behind a unified error code. */
export function buyerSituationOf(code: number): BuyerSituation {
  switch (code) {
    case 0:
      return 'paid';
    case 40001:
      return 'badRequest';
    case 40004:
      return 'offline';
    case 40005:
      return 'notFound';
    case 40006:
      return 'alreadyPaid';
    case 40007:
      return 'balance';
    case 40008:
      return 'rateLimited';
    case 40009:
      return 'notAvailable';
    case 40003:
    case 40010:
      return 'busy';
    default:
      return 'error';
  }
}

/** A unified error code (or a failed result) in the buyer's words. */
export function describeForBuyer(failure: number | Pick<Failure, 'code'>, lang: Lang = 'zh'): BuyerWords {
  return buyerWords(buyerSituationOf(typeof failure === 'number' ? failure : failure.code), lang);
}
