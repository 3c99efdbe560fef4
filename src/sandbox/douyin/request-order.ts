/**
 * What the platform does when a mini app calls tt.requestOrder(data, byteAuthorization): checks
 * the signature with the app's public key of that key version, the timestamp, the order JSON
 * (one sku, its price times quantity equal to totalAmount, an expiry within 48 hours, an HTTPS
 * notify URL), then places the order.
 */
import { DouyinFailure, type DouyinGateway, ERR, TIMESTAMP_WINDOW_SECONDS } from './gateway.ts';
import { appSigningText, parseAuthorization, verifyRsa } from './signing.ts';
import type { DouyinApp, DouyinOrder } from './state.ts';

/** Checks a Byte-Authorization / byteAuthorization against the app's keys; returns the app. */
export function verifyAppSignature(
  gateway: DouyinGateway,
  authorization: string | undefined,
  uri: string,
  body: string,
  expectedAppId?: string,
): DouyinApp {
  const parsed = parseAuthorization(authorization);
  if (!parsed) throw new DouyinFailure(ERR.signature, 'authorization is missing or malformed', 401);
  if (expectedAppId && parsed.appid !== expectedAppId)
    throw new DouyinFailure(ERR.signature, 'appid of the authorization is not the token app', 401);
  const app = gateway.apps.get(parsed.appid);
  if (!app || app.api !== 'trade') throw new DouyinFailure(ERR.noPermission, `no app ${parsed.appid}`, 401);
  const key = app.appPublicKeys.get(parsed.key_version);
  if (!key) throw new DouyinFailure(ERR.signature, `no app public key of version ${parsed.key_version}`, 401);
  const timestamp = Number(parsed.timestamp);
  if (
    !Number.isSafeInteger(timestamp) ||
    Math.abs(gateway.clock.wall.now() / 1000 - timestamp) > TIMESTAMP_WINDOW_SECONDS
  )
    throw new DouyinFailure(ERR.signature, 'timestamp is too far from now', 401);
  if (
    !verifyRsa(key, appSigningText('POST', uri, parsed.timestamp, parsed.nonce_str, body), parsed.signature)
  )
    throw new DouyinFailure(ERR.signature, 'signature does not verify', 401);
  return app;
}

function isNotifyUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    // HTTPS as the platform requires; plain HTTP only to this machine, for development.
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    );
  } catch {
    return false;
  }
}

const invalid = (message: string) => new DouyinFailure(ERR.invalidParams, message, 400);

export function requestOrder(gateway: DouyinGateway, data: unknown, byteAuthorization: unknown): DouyinOrder {
  if (typeof data !== 'string' || typeof byteAuthorization !== 'string')
    throw invalid('data and byteAuthorization must be strings');
  const app = verifyAppSignature(gateway, byteAuthorization, '/requestOrder', data);
  let order: Record<string, unknown>;
  try {
    order = JSON.parse(data) as Record<string, unknown>;
  } catch {
    throw invalid('data is not JSON');
  }
  const skus = order.skuList;
  if (!Array.isArray(skus) || skus.length !== 1) throw invalid('skuList must hold exactly one sku');
  const sku = skus[0] as Record<string, unknown>;
  for (const field of ['skuId', 'title', 'tagGroupId'] as const)
    if (typeof sku[field] !== 'string' || !sku[field]) throw invalid(`skuList[0].${field} is required`);
  if (!Array.isArray(sku.imageList) || sku.imageList.length !== 1)
    throw invalid('skuList[0].imageList must hold one image');
  if (!Number.isSafeInteger(sku.type)) throw invalid('skuList[0].type is required');
  const quantity = sku.quantity as number;
  if (!Number.isSafeInteger(quantity) || quantity <= 0 || quantity > 100)
    throw invalid('skuList[0].quantity must be 1..100');
  const total = order.totalAmount as number;
  if (!Number.isSafeInteger(total) || total <= 0)
    throw invalid('totalAmount must be a positive number of fen');
  if (!Number.isSafeInteger(sku.price) || (sku.price as number) * quantity !== total)
    throw invalid('totalAmount must equal skuList[0].price times quantity');
  if (typeof order.outOrderNo !== 'string' || !/^[0-9A-Za-z_\-*|@]{1,64}$/.test(order.outOrderNo))
    throw invalid('outOrderNo is required');
  const schema = order.orderEntrySchema as Record<string, unknown> | undefined;
  if (!schema || typeof schema.path !== 'string' || !schema.path)
    throw invalid('orderEntrySchema.path is required');
  const expire = (order.payExpireSeconds as number | undefined) ?? 0;
  if (!Number.isSafeInteger(expire) || expire < 0 || expire > 48 * 3600)
    throw invalid('payExpireSeconds must be 0..172800');
  if (!isNotifyUrl(order.payNotifyUrl)) throw invalid('payNotifyUrl must be an HTTPS URL');
  return gateway.placeOrder(app, {
    outOrderNo: order.outOrderNo,
    totalAmount: total,
    expireSeconds: expire || 300,
    notifyUrl: order.payNotifyUrl,
    data,
  });
}

export { isNotifyUrl };
