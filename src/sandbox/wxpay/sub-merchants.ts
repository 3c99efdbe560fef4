/**
 * Sub-merchants (特约商户) of service providers: which sub_mchid is authorised under which
 * sp_mchid, and which sub_appids are bound to it. A service provider may act only for its own
 * sub-merchants; a sub-merchant's trades and refunds are its own (keyed by its sub_mchid).
 */
import type { Merchant, MerchantRegistry } from './merchants.ts';
import { invalidField, missingField, WxpayWireError } from './wire-errors.ts';

export interface SubMerchant {
  subMchid: string;
  spMchid: string;
  /** Appids bound to the sub-merchant; a sub_appid must be one of them. */
  appids: Set<string>;
}

export interface SubMerchantRegistration {
  spMchid: string;
  subMchid: string;
  subAppid?: string;
  subAppids?: string[];
}

export interface SubMerchantState {
  subMchid: string;
  spMchid: string;
  appids: string[];
}

/** The gateway's answer when sp_mchid has no acceptance relationship with sub_mchid. */
export function notAuthorised(subMchid: string): WxpayWireError {
  // Real wording is unconfirmed; 受理关系不存在 is the APIv2-era message for this case.
  return new WxpayWireError(400, 'INVALID_REQUEST', '受理关系不存在：该子商户未授权给此服务商', {
    field: 'sub_mchid',
    value: subMchid,
  });
}

export class SubMerchantRegistry {
  private readonly subMerchants = new Map<string, SubMerchant>();

  constructor(private readonly merchants: MerchantRegistry) {}

  register(input: SubMerchantRegistration): SubMerchantState {
    const spMchid = input?.spMchid;
    const subMchid = input?.subMchid;
    if (typeof spMchid !== 'string' || spMchid === '') throw missingField('spMchid');
    if (typeof subMchid !== 'string' || !/^\d{6,32}$/.test(subMchid))
      throw invalidField('subMchid', subMchid, '应为数字商户号');
    if (!this.merchants.get(spMchid)) throw invalidField('spMchid', spMchid, '服务商未注册');
    if (this.merchants.get(subMchid))
      throw invalidField('subMchid', subMchid, '该商户号已注册为服务商或普通商户');
    const existing = this.subMerchants.get(subMchid);
    if (existing && existing.spMchid !== spMchid)
      throw invalidField('subMchid', subMchid, '该子商户已授权给其他服务商');
    const appids = new Set([...(input.subAppids ?? []), ...(input.subAppid ? [input.subAppid] : [])]);
    const subMerchant = { subMchid, spMchid, appids };
    this.subMerchants.set(subMchid, subMerchant);
    return stateOf(subMerchant);
  }

  get(subMchid: string): SubMerchant | undefined {
    return this.subMerchants.get(subMchid);
  }

  all(): SubMerchantState[] {
    return [...this.subMerchants.values()].map(stateOf);
  }

  restore(saved: SubMerchantState[]): void {
    for (const entry of saved)
      this.subMerchants.set(entry.subMchid, { ...entry, appids: new Set(entry.appids) });
  }

  /** The sub-merchant named by a service provider's request, if it is authorised under it. */
  authorised(serviceProvider: Merchant, subMchid: unknown): SubMerchant {
    if (subMchid === undefined || subMchid === null || subMchid === '') throw missingField('sub_mchid');
    if (typeof subMchid !== 'string') throw invalidField('sub_mchid', subMchid, '类型错误，应为字符串');
    const subMerchant = this.subMerchants.get(subMchid);
    if (!subMerchant || subMerchant.spMchid !== serviceProvider.mchid) throw notAuthorised(subMchid);
    return subMerchant;
  }

  /** The merchant whose keys sign and encrypt for an owner mchid: itself, or its service provider. */
  signerOf(mchid: string): Merchant | undefined {
    return this.merchants.get(this.subMerchants.get(mchid)?.spMchid ?? mchid);
  }
}

function stateOf(subMerchant: SubMerchant): SubMerchantState {
  return { subMchid: subMerchant.subMchid, spMchid: subMerchant.spMchid, appids: [...subMerchant.appids] };
}
