/**
 * Checks the common parameters of a gateway.do request and its RSA2 signature, in public-key or
 * certificate mode, before any business rule runs. A bad signature is answered with the signing
 * string the gateway built, as Alipay does, because that is what a developer needs to see.
 */
import type { AppRegistry, RegisteredApp } from './apps.ts';
import { requestSigningString, verifyRsa2, type WireParams } from './signing.ts';
import { AlipayGatewayError } from './wire-errors.ts';

export interface VerifiedRequest {
  app: RegisteredApp;
  method: string;
  params: WireParams;
  /** biz_content parsed; {} when absent. */
  biz: Record<string, unknown>;
  responseKey: string;
}

/** A rejected request, with what is needed to answer it: the key to answer under and the app, if known. */
export class RejectedRequest extends Error {
  constructor(
    readonly error: AlipayGatewayError,
    readonly responseKey: string,
    readonly app?: RegisteredApp,
  ) {
    super(error.message);
    this.name = 'RejectedRequest';
  }
}

export function responseKeyOf(method: string): string {
  return `${method.replace(/\./g, '_')}_response`;
}

const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

const missing = (what: string, message: string) =>
  new AlipayGatewayError('40001', `isv.missing-${what}`, message);
const invalid = (what: string, message: string) =>
  new AlipayGatewayError('40002', `isv.invalid-${what}`, message);

export function verifyRequest(
  params: WireParams,
  apps: AppRegistry,
  methods: ReadonlySet<string>,
): VerifiedRequest {
  const method = params.method;
  if (!method) throw new RejectedRequest(missing('method', '缺少方法名参数'), 'error_response');
  if (!methods.has(method)) throw new RejectedRequest(invalid('method', '不存在的方法名'), 'error_response');
  const responseKey = responseKeyOf(method);
  const reject = (error: AlipayGatewayError, app?: RegisteredApp) =>
    new RejectedRequest(error, responseKey, app);

  if (!params.app_id) throw reject(missing('app-id', '缺少AppID参数'));
  const app = apps.find(params.app_id);
  if (!app) throw reject(invalid('app-id', '无效的AppID参数'));
  if (!params.sign) throw reject(missing('signature', '缺少签名参数'), app);
  if (!params.sign_type) throw reject(missing('signature-type', '缺少签名类型参数'), app);
  if (params.sign_type !== 'RSA2') throw reject(invalid('signature-type', '无效的签名类型参数'), app);
  if (!params.timestamp) throw reject(missing('timestamp', '缺少时间戳参数'), app);
  if (!TIMESTAMP_PATTERN.test(params.timestamp)) throw reject(invalid('timestamp', '非法的时间戳参数'), app);
  if (!params.version) throw reject(missing('version', '缺少版本参数'), app);
  if (params.version !== '1.0') throw reject(invalid('version', '版本号不存在'), app);
  if (params.charset && params.charset.toLowerCase() !== 'utf-8') {
    throw reject(invalid('charset', '字符集错误，沙箱只支持utf-8'), app);
  }
  if (params.format && params.format.toUpperCase() !== 'JSON')
    throw reject(invalid('format', '无效的数据格式'), app);
  if (params.encrypt_type) throw reject(invalid('encrypt-type', '沙箱不支持内容加密'), app);
  if (app.keyMode === 'certificate') checkCertificateSns(params, app, apps, reject);

  const signingString = requestSigningString(params);
  if (!verifyRsa2(signingString, params.sign, app.appPublicKey)) {
    // Alipay writes the string HTML-escaped (`&amp;`), as the SDK's own comment shows.
    const shown = signingString.replace(/&/g, '&amp;');
    throw reject(
      new AlipayGatewayError(
        '40002',
        'isv.invalid-signature',
        `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${shown}`,
      ),
      app,
    );
  }
  return { app, method, params, biz: parseBizContent(params.biz_content, reject, app), responseKey };
}

function checkCertificateSns(
  params: WireParams,
  app: RegisteredApp,
  apps: AppRegistry,
  reject: (error: AlipayGatewayError, app?: RegisteredApp) => RejectedRequest,
): void {
  if (!params.app_cert_sn) throw reject(missing('app-cert-sn', '缺少应用公钥证书序列号'), app);
  if (params.app_cert_sn !== app.appCertSn)
    throw reject(invalid('app-cert-sn', '应用公钥证书序列号不匹配'), app);
  if (!params.alipay_root_cert_sn)
    throw reject(missing('alipay-root-cert-sn', '缺少支付宝根证书序列号'), app);
  // The client joins every RSA root of its bundle; ours must be one of them.
  if (!params.alipay_root_cert_sn.split('_').includes(apps.rootCertSn)) {
    throw reject(invalid('alipay-root-cert-sn', '支付宝根证书序列号不匹配'), app);
  }
}

function parseBizContent(
  text: string | undefined,
  reject: (error: AlipayGatewayError, app?: RegisteredApp) => RejectedRequest,
  app: RegisteredApp,
): Record<string, unknown> {
  if (!text) return {};
  try {
    const biz = JSON.parse(text) as unknown;
    if (biz !== null && typeof biz === 'object' && !Array.isArray(biz)) return biz as Record<string, unknown>;
  } catch {
    // Reported below with the same answer as a non-object.
  }
  throw reject(invalid('biz-content', 'biz_content不是合法的JSON对象'), app);
}
