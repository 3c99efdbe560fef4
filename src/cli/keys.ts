/**
 * `vk-pay keys`: development keys and a small test CA, written to a folder with a config file that
 * refers to them. For the emulators and local testing only: real gateways issue their own.
 */
import { createHash, generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatWebhookSecret } from '../core/webhooks.ts';
import { loadX509 } from '../core/x509.ts';

export interface GeneratedKeys {
  folder: string;
  files: string[];
  wxpaySerialNo: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd();
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

async function rsaPair() {
  return webcrypto.subtle.generateKey(
    {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    },
    true,
    ['sign', 'verify'],
  );
}

/** Writes the keys; refuses to overwrite an existing file unless `force`. */
export async function generateKeys(
  folder: string,
  options: { force?: boolean; now?: Date } = {},
): Promise<GeneratedKeys> {
  const out = resolve(folder);
  mkdirSync(out, { recursive: true });
  const x509 = await loadX509();
  const now = options.now ?? new Date();
  const inTenYears = new Date(now.getTime() + 10 * 365 * 24 * 3600_000);

  const caKeys = await rsaPair();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'),
    name: 'CN=VK-Pay Development CA, O=VK-Pay, C=CN',
    notBefore: now,
    notAfter: inTenYears,
    keys: caKeys,
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  const merchantKeys = await rsaPair();
  const wxpaySerialNo = randomBytes(20).toString('hex').toUpperCase();
  const merchantCert = await x509.X509CertificateGenerator.create({
    serialNumber: wxpaySerialNo,
    subject: 'CN=1900000109, OU=VK-Pay development merchant, O=VK-Pay, C=CN',
    issuer: ca.subject,
    notBefore: now,
    notAfter: inTenYears,
    publicKey: merchantKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  });
  const alipay = generateKeyPairSync('rsa', { modulusLength: 2048 });

  const files: Record<string, { text: string; secret: boolean }> = {
    'ca_cert.pem': { text: ca.toString('pem'), secret: false },
    'wxpay_apiclient_key.pem': {
      text: pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', merchantKeys.privateKey)),
      secret: true,
    },
    'wxpay_apiclient_cert.pem': { text: merchantCert.toString('pem'), secret: false },
    'wxpay_apiv3.key': { text: randomBytes(16).toString('hex'), secret: true },
    'alipay_app_private_key.pem': {
      text: alipay.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      secret: true,
    },
    'alipay_app_public_key.pem': {
      text: alipay.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      secret: false,
    },
    'api_app.secret': { text: randomBytes(32).toString('hex'), secret: true },
    'checkout.secret': { text: randomBytes(32).toString('hex'), secret: true },
    'webhook.key': { text: randomBytes(32).toString('hex'), secret: true },
    'webhook_endpoint.secret': { text: formatWebhookSecret(randomBytes(32)), secret: true },
  };
  const written: string[] = [];
  for (const [name, { text, secret }] of Object.entries(files)) {
    const path = join(out, name);
    if (existsSync(path) && !options.force) throw new Error(`${path} exists; pass --force to replace it`);
    writeFileSync(path, text, { mode: secret ? 0o600 : 0o644 });
    written.push(path);
  }
  const fingerprint = createHash('sha256')
    .update(files['wxpay_apiclient_cert.pem']!.text)
    .digest('hex')
    .slice(0, 16);
  const example = {
    env: 'development',
    apps: [{ appId: 'my-backend', merchantId: 'shop1', secret: 'file:api_app.secret' }],
    checkout: { secret: 'file:checkout.secret' },
    webhooks: {
      secretKey: 'file:webhook.key',
      endpoints: [
        {
          merchantId: 'shop1',
          url: 'https://backend.example.com/vk-pay/webhooks',
          secret: 'file:webhook_endpoint.secret',
        },
      ],
    },
    wxpay: [
      {
        merchantId: 'shop1',
        mchId: '1900000109',
        appId: 'wx0000000000000000',
        serialNo: wxpaySerialNo,
        privateKey: 'file:wxpay_apiclient_key.pem',
        apiV3Key: 'file:wxpay_apiv3.key',
        wechatpayPublicKey: {
          id: 'PUB_KEY_ID_<from the WeChat Pay console or the emulator>',
          pem: 'file:wechatpay_public_key.pem',
        },
      },
    ],
    alipay: [
      {
        merchantId: 'shop1',
        appId: '<your Alipay app id>',
        privateKey: 'file:alipay_app_private_key.pem',
        alipayPublicKey: '<the Alipay public key from the console or the emulator>',
      },
    ],
    _generated: { at: now.toISOString(), merchantCertificate: fingerprint },
  };
  const configPath = join(out, 'vk-pay.config.example.json');
  if (!existsSync(configPath) || options.force) {
    writeFileSync(configPath, `${JSON.stringify(example, null, 2)}\n`);
    written.push(configPath);
  }
  return { folder: out, files: written, wxpaySerialNo };
}
