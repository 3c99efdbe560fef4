/** What the Douyin emulator holds: apps with their keys, orders, refunds, access tokens. */
import type { KeyObject } from 'node:crypto';

export type DouyinApi = 'trade' | 'ecpay';

export interface DouyinApp {
  appId: string;
  api: DouyinApi;
  /** trade: the secret that gets a client_token. */
  appSecret: string;
  /** trade: the app public keys the developer uploaded, by key version. */
  appPublicKeys: Map<string, KeyObject>;
  platformPrivateKey: KeyObject;
  platformPublicKeyPem: string;
  /** ecpay: the salt that signs requests and the token that signs callbacks. */
  salt: string;
  token: string;
  /** Refunds settle by themselves (auto) or wait for the control API (manual). */
  refundMode: 'auto' | 'manual';
}

export type OrderStatus = 'PROCESS' | 'SUCCESS' | 'FAIL' | 'TIMEOUT';

export interface DouyinOrder {
  appId: string;
  orderId: string;
  outOrderNo: string;
  totalAmount: number;
  status: OrderStatus;
  expiresAt: number;
  notifyUrl: string;
  /** ecpay: the token tt.pay takes. */
  orderToken: string | null;
  /** The order JSON as the client sent it (trade), kept to compare a second requestOrder. */
  data: string | null;
  paidAt: number | null;
  refunded: number;
}

export interface DouyinRefund {
  appId: string;
  refundId: string;
  outRefundNo: string;
  outOrderNo: string;
  amount: number;
  status: 'PROCESSING' | 'SUCCESS' | 'FAIL';
  notifyUrl: string;
  createdAt: number;
  settledAt: number | null;
}
