/** The console's words in Chinese and English. */
import type { Lang } from '../core/errors.ts';

const TEXTS = {
  console: { zh: 'VK-Pay 运营控制台', en: 'VK-Pay operator console' },
  skip: { zh: '跳到主要内容', en: 'Skip to main content' },
  signIn: { zh: '登录', en: 'Sign in' },
  signOut: { zh: '退出登录', en: 'Sign out' },
  name: { zh: '用户名', en: 'User name' },
  password: { zh: '密码', en: 'Password' },
  wrongPassword: { zh: '用户名或密码错误。', en: 'Wrong user name or password.' },
  throttled: {
    zh: '失败次数过多，请 {s} 秒后再试。',
    en: 'Too many failed attempts. Try again in {s} seconds.',
  },
  totpTitle: { zh: '两步验证', en: 'Two-step verification' },
  totpHelp: {
    zh: '输入身份验证器应用中显示的 6 位数字。',
    en: 'Enter the 6-digit code your authenticator app shows.',
  },
  code: { zh: '验证码', en: 'Code' },
  verify: { zh: '验证', en: 'Verify' },
  wrongCode: {
    zh: '验证码错误或已使用，请输入下一个。',
    en: 'Wrong or already used code; enter the next one.',
  },
  enrolTitle: { zh: '设置两步验证', en: 'Set up two-step verification' },
  enrolHelp: {
    zh: '用身份验证器应用扫描二维码（或手动输入密钥），然后输入它显示的验证码。',
    en: 'Scan the QR code with an authenticator app (or type the key), then enter the code it shows.',
  },
  enrolRequired: {
    zh: '生产环境中管理员必须先设置两步验证。',
    en: 'Admins must set up two-step verification before anything else in production.',
  },
  secretKey: { zh: '密钥', en: 'Key' },
  enrolled: { zh: '两步验证已启用。', en: 'Two-step verification is on.' },
  overview: { zh: '概览', en: 'Overview' },
  users: { zh: '用户', en: 'Users' },
  auditLog: { zh: '审计日志', en: 'Audit log' },
  reconciliation: { zh: '对账', en: 'Reconciliation' },
  merchantsAndGateways: { zh: '商户与支付通道', en: 'Merchants and gateways' },
  routes: { zh: '灰度路由', en: 'Routes' },
  signedInAs: { zh: '当前用户', en: 'Signed in as' },
  role: { zh: '角色', en: 'Role' },
  merchants: { zh: '商户', en: 'Merchants' },
  allMerchants: { zh: '全部商户', en: 'All merchants' },
  merchantsHelp: {
    zh: '商户号，用空格或逗号分隔；留空表示全部商户。',
    en: 'Merchant ids separated by spaces or commas; empty for all merchants.',
  },
  overviewSoon: {
    zh: '支付、退款和告警的统计将显示在这里。',
    en: 'Payments, refunds and alerts will be shown here.',
  },
  twoStep: { zh: '两步验证', en: 'Two-step verification' },
  on: { zh: '已启用', en: 'On' },
  off: { zh: '未启用', en: 'Off' },
  setUp: { zh: '设置', en: 'Set up' },
  status: { zh: '状态', en: 'Status' },
  active: { zh: '正常', en: 'Active' },
  disabled: { zh: '已停用', en: 'Disabled' },
  actions: { zh: '操作', en: 'Actions' },
  createUser: { zh: '创建用户', en: 'Create a user' },
  create: { zh: '创建', en: 'Create' },
  save: { zh: '保存', en: 'Save' },
  disable: { zh: '停用', en: 'Disable' },
  resetTotp: { zh: '重置两步验证', en: 'Reset two-step verification' },
  passwordOptional: {
    zh: '密码（留空则自动生成）',
    en: 'Password (leave empty to generate one)',
  },
  createdPassword: {
    zh: '已创建用户 {name}。密码只显示这一次：',
    en: 'User {name} created. Its password is shown this once:',
  },
  changed: { zh: '已保存。', en: 'Saved.' },
  confirmDisable: { zh: '确定停用 {name}？', en: 'Disable {name}?' },
  viewer: { zh: '查看者', en: 'Viewer' },
  operator: { zh: '操作员', en: 'Operator' },
  admin: { zh: '管理员', en: 'Admin' },
  at: { zh: '时间', en: 'Time' },
  who: { zh: '操作人', en: 'Who' },
  action: { zh: '动作', en: 'Action' },
  target: { zh: '对象', en: 'Target' },
  from: { zh: '来源', en: 'From' },
  change: { zh: '变更', en: 'Change' },
  filter: { zh: '筛选', en: 'Filter' },
  next: { zh: '下一页', en: 'Next page' },
  noRows: { zh: '没有记录。', en: 'Nothing here.' },
  dateFrom: { zh: '开始日期', en: 'From date' },
  dateTo: { zh: '结束日期', en: 'To date' },
  error: { zh: '出错了', en: 'Something went wrong' },
  back: { zh: '返回', en: 'Back' },
  language: { zh: 'English', en: '中文' },
  mainNav: { zh: '主导航', en: 'Main' },
} as const;

export type TextKey = keyof typeof TEXTS;

export function text(lang: Lang, key: TextKey, values: Record<string, string | number> = {}): string {
  let phrase: string = TEXTS[key][lang];
  for (const [name, value] of Object.entries(values)) phrase = phrase.replace(`{${name}}`, String(value));
  return phrase;
}
