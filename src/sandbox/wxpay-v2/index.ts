/** The WeChat Pay APIv2 gateway emulator: public surface. */
export {
  type IssuedCertificate,
  selfSignedClientCertificate,
  V2CertificateAuthority,
} from './certificates.ts';
export { V2_RETRY_SECONDS, type V2Notification, WxpayV2Gateway } from './gateway.ts';
export { type RunningWxpayV2Sandbox, startWxpayV2Sandbox } from './server.ts';
