/**
 * The admin listener's settings: `admin: { host, port, allowlist }` in the file, VKPAY_ADMIN_PORT
 * and VKPAY_ADMIN_HOST over it. Off unless a port is given.
 */
import { ConfigError } from './config.ts';

export interface AdminListenerConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** IPs or CIDR ranges that may use it. */
  allowlist: string[];
}

export const DEFAULT_ADMIN_ALLOWLIST: readonly string[] = ['127.0.0.1', '::1'];

export function adminListenerOf(
  value: unknown,
  env: NodeJS.ProcessEnv,
  servicePort: number,
): AdminListenerConfig | null {
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)))
    throw new ConfigError('admin must be an object { host, port, allowlist }');
  const file = (value ?? {}) as Record<string, unknown>;
  const rawPort = env.VKPAY_ADMIN_PORT || file.port;
  if (rawPort === undefined || rawPort === null || rawPort === '') return null;
  const port = Number(rawPort);
  const field = env.VKPAY_ADMIN_PORT ? 'VKPAY_ADMIN_PORT' : 'admin.port';
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigError(`${field} must be a port from 0 to 65535`);
  if (port !== 0 && port === servicePort)
    throw new ConfigError(`${field} must differ from the service's port ${servicePort}`);
  const host = env.VKPAY_ADMIN_HOST || file.host || '127.0.0.1';
  if (typeof host !== 'string') throw new ConfigError('admin.host must be a string');
  const allowlist = file.allowlist ?? DEFAULT_ADMIN_ALLOWLIST;
  if (!Array.isArray(allowlist) || allowlist.some((entry) => typeof entry !== 'string' || entry === ''))
    throw new ConfigError('admin.allowlist must be a list of IPs or CIDR ranges');
  return { host, port, allowlist: [...(allowlist as string[])] };
}
