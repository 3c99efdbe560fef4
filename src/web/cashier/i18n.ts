/**
 * The cashier's labels in Chinese and English. What a buyer is told about a problem comes from the
 * buyer message table (messages.ts), never from the developers' error table.
 */
import type { Lang } from './messages.ts';

const zh = {
  choose: '选择支付方式',
  wxpay: '微信支付',
  alipay: '支付宝',
  expiresIn: '剩余支付时间',
  scanWxpay: '请使用微信扫一扫完成支付',
  scanAlipay: '请使用支付宝扫一扫完成支付',
  redirecting: '正在前往支付页面…',
  waiting: '等待支付结果…',
  paid: '支付成功',
  paidHint: '订单已支付，感谢您的购买。',
  failed: '支付失败',
  closed: '订单已关闭',
  expired: '订单已超时关闭',
  closedHint: '该订单已无法支付，如需购买请重新下单。',
  noOffersTitle: '暂无可用的支付方式',
  noOffers: '当前环境没有可用的支付方式，请在其他设备或浏览器中打开。',
  retry: '重新选择支付方式',
  back: '返回商户',
  order: '订单号',
  code: '代码',
  action: '建议',
  switchLang: 'English',
  jsapiFailed: '微信支付未完成',
  scanWxpayInWechat: '长按二维码，选择「识别图中的二维码」完成支付。',
  scanAlternative: '也可以截图保存，在微信「扫一扫」中从相册选择；或在电脑上打开此链接扫码支付。',
  payAgain: '重新支付',
  showQrAgain: '重新显示二维码',
  checkNow: '我已完成支付',
  chosenWith: '已选择',
  continueWith: '继续使用',
  chooseAnother: '如需改用其他支付方式，请返回商户重新下单。',
  insteadBefore: '改用',
  insteadAfter: '支付',
  dismiss: '重试',
  checking: '正在确认支付结果…',
};

export type Words = typeof zh;

const en: Words = {
  choose: 'Choose a payment method',
  wxpay: 'WeChat Pay',
  alipay: 'Alipay',
  expiresIn: 'Time left to pay',
  scanWxpay: 'Scan with WeChat to pay',
  scanAlipay: 'Scan with Alipay to pay',
  redirecting: 'Taking you to the payment page…',
  waiting: 'Waiting for the payment…',
  paid: 'Payment successful',
  paidHint: 'Your order is paid. Thank you.',
  failed: 'Payment failed',
  closed: 'Order closed',
  expired: 'The order expired and is closed',
  closedHint: 'This order can no longer be paid; please place a new order.',
  noOffersTitle: 'No payment method here',
  noOffers: 'No payment method works here; please open this page on another device or browser.',
  retry: 'Choose another way to pay',
  back: 'Back to the shop',
  order: 'Order',
  code: 'Code',
  action: 'What to do',
  switchLang: '中文',
  jsapiFailed: 'WeChat Pay was not completed',
  scanWxpayInWechat: 'Press and hold the QR code, then choose “Scan QR code in image” to pay.',
  scanAlternative:
    'Or save a screenshot and pick it from the album in WeChat’s Scan; or open this link on a computer and scan.',
  payAgain: 'Pay again',
  showQrAgain: 'Show the QR code again',
  checkNow: 'I have paid',
  chosenWith: 'Chosen:',
  continueWith: 'Continue with',
  chooseAnother: 'To pay another way, go back to the shop and place the order again.',
  insteadBefore: 'Pay with ',
  insteadAfter: ' instead',
  dismiss: 'Try again',
  checking: 'Checking the payment…',
};

export function wordsFor(lang: Lang): Words {
  return lang === 'en' ? en : zh;
}

/** The QR code's text alternative: whose code and for how much, never the link inside it. */
export function qrCodeAlt(lang: Lang, providerName: string, amount: string): string {
  return lang === 'en' ? `${providerName} QR code for ${amount}` : `${providerName}二维码，金额 ${amount}`;
}
