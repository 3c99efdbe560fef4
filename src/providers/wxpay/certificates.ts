/**
 * Downloads the platform certificates (GET /v3/certificates). Each certificate arrives encrypted
 * with the APIv3 key (AAD "certificate"); the answer itself is signed by one of the certificates it
 * carries, so it is checked against them after decryption, as the official SDKs do.
 */
import { PayError } from '../../core/errors.ts';
import { decryptResource, type EncryptedResource } from './aead.ts';
import type { WxpayMerchant } from './config.ts';
import { type PlatformCertificate, parsePlatformCertificate } from './keys.ts';
import type { WxpayTransport } from './transport.ts';
import { verifySignedMessage } from './verifier.ts';

interface CertificatesWire {
  data?: Array<{ serial_no?: string; encrypt_certificate?: EncryptedResource }>;
}

export const CERTIFICATES_PATH = '/v3/certificates?algorithm_type=RSA';

export async function downloadPlatformCertificates(
  transport: WxpayTransport,
  merchant: WxpayMerchant,
  now: () => number,
): Promise<PlatformCertificate[]> {
  try {
    const reply = await transport.call<CertificatesWire>(
      { api: 'certificates', method: 'GET', path: CERTIFICATES_PATH, write: false },
      false,
    );
    const entries = reply.data?.data;
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new PayError(40003, { message: 'wxpay /v3/certificates returned no certificates' });
    }
    const certificates = entries.map((entry) => {
      if (!entry.encrypt_certificate || !entry.serial_no) {
        throw new PayError(40003, {
          message: 'wxpay /v3/certificates entry lacks serial_no or encrypt_certificate',
        });
      }
      const pem = decryptResource(entry.encrypt_certificate, merchant.apiV3Key, 40003);
      return parsePlatformCertificate(pem, entry.serial_no);
    });
    await verifySignedMessage({
      header: reply.header,
      rawBody: reply.raw,
      nowMs: now(),
      lookupKey: async (serial) => {
        if (merchant.publicKey && serial === merchant.publicKey.id) return merchant.publicKey.key;
        const signer = certificates.find((c) => c.serialNo === serial.toUpperCase());
        if (!signer)
          throw new PayError(40003, { message: 'wxpay /v3/certificates is signed by an unknown serial' });
        return signer.publicKey;
      },
      what: 'certificates response',
    });
    return certificates;
  } catch (error) {
    // Part E: any failure to obtain the certificates is a certificate error, whatever the cause.
    if (error instanceof PayError && error.code === 40003) throw error;
    throw new PayError(40003, {
      message: `wxpay platform certificate download failed: ${error instanceof Error ? error.message : 'unknown'}`,
      cause: error,
      details: { provider: 'wxpay', merchantId: merchant.merchantId },
    });
  }
}
