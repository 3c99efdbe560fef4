/** The cashier's words in Chinese and English. Error messages come from the error table instead. */
import type { Lang } from '../errors.ts';

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
  noOffers: '当前环境没有可用的支付方式，请在其他设备或浏览器中打开。',
  retry: '重新选择支付方式',
  back: '返回商户',
  order: '订单号',
  code: '错误码',
  action: '建议',
  switchLang: 'English',
  jsapiFailed: '微信支付未完成',
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
  noOffers: 'No payment method works here; please open this page on another device or browser.',
  retry: 'Choose another way to pay',
  back: 'Back to the shop',
  order: 'Order',
  code: 'Code',
  action: 'What to do',
  switchLang: '中文',
  jsapiFailed: 'WeChat Pay was not completed',
};

export function wordsFor(lang: Lang): Words {
  return lang === 'en' ? en : zh;
}
