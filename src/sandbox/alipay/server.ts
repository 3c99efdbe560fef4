/**
 * The emulator on its own HTTP server, for `vk-pay sandbox` and for tests that need real sockets.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { AlipayGateway } from './gateway.ts';
import { type AlipaySandboxOptions, alipaySandboxPlugin, SANDBOX_PATH } from './plugin.ts';

export interface StartAlipaySandboxOptions extends Omit<AlipaySandboxOptions, 'gateway'> {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Fastify logger; off by default. */
  logger?: boolean;
}

export interface RunningAlipaySandbox {
  /** Base URL, e.g. http://127.0.0.1:8091 */
  url: string;
  /** The URL to configure as the client's gateway, e.g. http://127.0.0.1:8091/gateway.do */
  gatewayUrl: string;
  /** Base of the payer pages and the control API, e.g. http://127.0.0.1:8091/sandbox/alipay */
  controlUrl: string;
  gateway: AlipayGateway;
  server: FastifyInstance;
  close(): Promise<void>;
}

export async function startAlipaySandbox(
  options: StartAlipaySandboxOptions = {},
): Promise<RunningAlipaySandbox> {
  const gateway = await AlipayGateway.create(options);
  // An emulator holds hung and half-read connections on purpose; closing it must not wait for them.
  const server = Fastify({ logger: options.logger ?? false, forceCloseConnections: true });
  await server.register(alipaySandboxPlugin({ ...options, gateway }));
  const host = options.host ?? '127.0.0.1';
  await server.listen({ host, port: options.port ?? 0 });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    gatewayUrl: `${url}/gateway.do`,
    controlUrl: `${url}${SANDBOX_PATH}`,
    gateway,
    server,
    async close() {
      gateway.stop();
      await server.close();
    },
  };
}
