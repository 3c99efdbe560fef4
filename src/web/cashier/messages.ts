/**
 * What the cashier tells a buyer, in Chinese and English: plain words about the buyer's situation
 * and what they can do next. This is not the developers' error table (src/core/errors.ts): the
 * unified code is shown beside these words in small print, for support.
 */
export type Lang = 'zh' | 'en';

export type Situation =
  | 'invalidLink'
  | 'expiredLink'
  | 'expired'
  | 'closed'
  | 'closedByMerchant'
  | 'paid'
  | 'rateLimited'
  | 'offline'
  | 'unavailable'
  | 'notFound'
  | 'balance'
  | 'failed'
  | 'cancelled'
  | 'notCompleted'
  | 'otherMethod'
  | 'notOffered'
  | 'error';

export interface BuyerMessage {
  title: string;
  text: string;
}

type Table = Record<Situation, BuyerMessage>;

const zh: Table = {
  invalidLink: {
    title: '支付链接无效',
    text: '这个支付链接已失效或不完整。请回到商户页面，重新发起支付。',
  },
  expiredLink: {
    title: '支付链接已过期',
    text: '这个支付链接已过期。请回到商户页面，重新下单。',
  },
  expired: {
    title: '订单已超时关闭',
    text: '支付时间已过，此订单无法再支付。如需购买，请回到商户重新下单。',
  },
  closed: { title: '订单已关闭', text: '此订单已关闭，无法再支付。如需购买，请回到商户重新下单。' },
  closedByMerchant: { title: '订单已被商户取消', text: '商户已取消此订单，无需支付。如有疑问，请联系商户。' },
  paid: { title: '订单已支付', text: '此订单已支付成功，无需重复支付。' },
  rateLimited: { title: '请求过于频繁', text: '请稍等片刻再试，页面会自动刷新。' },
  offline: { title: '网络已断开', text: '请检查网络连接。恢复后，页面会继续确认支付结果。' },
  unavailable: { title: '服务暂时不可用', text: '支付服务暂时繁忙，请稍后重试。您的订单不会重复扣款。' },
  notFound: { title: '页面不存在', text: '找不到这个页面。请回到收银台继续支付。' },
  balance: {
    title: '余额不足',
    text: '付款账户余额不足，支付未成功，款项未被扣除。请充值或换一张银行卡后，回到商户重新下单。',
  },
  failed: { title: '支付未成功', text: '这次支付没有完成，款项未被扣除。请回到商户重新下单。' },
  cancelled: { title: '您已取消支付', text: '支付尚未完成。您可以重新支付，或返回商户。' },
  notCompleted: {
    title: '支付尚未完成',
    text: '如果您已经付款，请稍候，我们正在确认结果；否则可以重新支付。',
  },
  otherMethod: {
    title: '此订单已选择其他支付方式',
    text: '此订单已在另一个页面选择了支付方式，请继续用该方式完成支付。',
  },
  notOffered: {
    title: '请在原来的设备上完成支付',
    text: '此订单选择的支付方式在当前设备上不可用。请回到原来的设备完成支付，或返回商户。',
  },
  error: {
    title: '出了点问题',
    text: '暂时无法完成这一步，请重试。如果问题持续，请联系商户并提供下方的代码。',
  },
};

const en: Table = {
  invalidLink: {
    title: 'This payment link is not valid',
    text: 'The link is no longer valid or is incomplete. Please go back to the shop and start the payment again.',
  },
  expiredLink: {
    title: 'This payment link has expired',
    text: 'Please go back to the shop and place the order again.',
  },
  expired: {
    title: 'The order expired and is closed',
    text: 'The time to pay is over and this order can no longer be paid. Please go back to the shop to order again.',
  },
  closed: {
    title: 'Order closed',
    text: 'This order is closed and can no longer be paid. Please go back to the shop to order again.',
  },
  closedByMerchant: {
    title: 'The shop cancelled this order',
    text: 'There is nothing to pay. If you have questions, please contact the shop.',
  },
  paid: { title: 'Already paid', text: 'This order is paid; there is nothing more to pay.' },
  rateLimited: {
    title: 'Too many requests',
    text: 'Please wait a moment and try again; this page reloads by itself.',
  },
  offline: {
    title: 'You are offline',
    text: 'Please check your connection. Once you are back online, this page goes on checking the payment.',
  },
  unavailable: {
    title: 'Service temporarily unavailable',
    text: 'The payment service is busy. Please try again shortly; you will not be charged twice.',
  },
  notFound: {
    title: 'Page not found',
    text: 'There is no such page. Please go back to the checkout to pay.',
  },
  balance: {
    title: 'Insufficient balance',
    text: 'The paying account does not have enough money and nothing was charged. Top up or use another card, then go back to the shop and order again.',
  },
  failed: {
    title: 'The payment did not go through',
    text: 'The payment was not completed and nothing was charged. Please go back to the shop and order again.',
  },
  cancelled: {
    title: 'You cancelled the payment',
    text: 'The order is not paid yet. You can pay again or go back to the shop.',
  },
  notCompleted: {
    title: 'The payment is not complete yet',
    text: 'If you have paid, please wait while we confirm it; otherwise you can pay again.',
  },
  otherMethod: {
    title: 'Another payment method was chosen',
    text: 'A payment method was already chosen for this order in another page; please finish paying with it.',
  },
  notOffered: {
    title: 'Please finish on your first device',
    text: 'The payment method chosen for this order does not work on this device. Finish paying where you started, or go back to the shop.',
  },
  error: {
    title: 'Something went wrong',
    text: 'This step could not be completed; please try again. If it keeps happening, contact the shop with the code below.',
  },
};

export function buyerMessage(situation: Situation, lang: Lang): BuyerMessage {
  return (lang === 'en' ? en : zh)[situation];
}

/** The buyer's situation behind a unified error code from the cashier's own endpoints. */
export function situationOf(code: number): Situation {
  switch (code) {
    case 40002:
      return 'invalidLink';
    case 40009:
      return 'expired';
    case 40006:
      return 'paid';
    case 40007:
      return 'balance';
    case 40008:
      return 'rateLimited';
    case 40004:
      return 'offline';
    case 40003:
    case 40010:
      return 'unavailable';
    case 40005:
      return 'notFound';
    default:
      return 'error';
  }
}

/** The rate-limited page's words: how long to wait, then the "Try again" link below them. */
export function rateLimitedText(lang: Lang, seconds: number): string {
  return lang === 'en'
    ? `Please wait ${seconds} seconds, then choose “Try again” below.`
    : `请等待 ${seconds} 秒，然后点击下方的「重试」。`;
}

/** Labels for the footer of every buyer page. */
export const LABELS = {
  zh: { code: '代码', again: '重试', back: '返回商户', cashier: '返回收银台', otherLang: 'English' },
  en: {
    code: 'Code',
    again: 'Try again',
    back: 'Back to the shop',
    cashier: 'Back to the checkout',
    otherLang: '中文',
  },
} as const;
