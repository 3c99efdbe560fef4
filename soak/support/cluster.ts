/**
 * The service under soak: N `vk-pay serve` processes on one config file, each one's stdout and
 * stderr kept in a log file (every line is grepped for secrets at the end), behind a round-robin
 * HTTP balancer in this process. The balancer passes a request on to the next instance when one
 * refuses the connection (a dead process, as a proxy's health check would), answers 502 when an
 * instance dies with the request in flight, and keeps a copy of every gateway callback so a phase
 * can replay it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { REPO_ROOT } from '../../bench/support/children.ts';

export interface Instance {
  index: number;
  /** Restarts of this slot so far (each start is a new process and log file). */
  generation: number;
  process: ChildProcess;
  pid: number;
  url: string;
  alive: boolean;
  log: string;
}

export interface CapturedCallback {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  status: number;
}

export interface Cluster {
  url: string;
  instances: Instance[];
  /** Callbacks the gateway sent, with the status they got. */
  callbacks: CapturedCallback[];
  /** Requests the balancer could give no instance, or lost with an instance. */
  balancerErrors: number;
  /** Instances that exited without being killed by the soak: a crash. */
  crashes: string[];
  logs: string[];
  start(index: number): Promise<Instance>;
  kill(index: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  count: number;
  env: Record<string, string | undefined>;
  logDir: string;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length']);

function forwardHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const agent = new Agent({ connections: 64, keepAliveTimeout: 4_000 });
  const instances: Instance[] = [];
  const logs: string[] = [];
  const callbacks: CapturedCallback[] = [];
  let next = 0;
  const cluster: Cluster = {
    url: '',
    instances,
    callbacks,
    balancerErrors: 0,
    crashes: [],
    logs,
    start: (index) => startInstance(index),
    kill: async (index) => {
      const instance = instances[index]!;
      instance.alive = false;
      if (instance.process.exitCode !== null || instance.process.signalCode !== null) return;
      const exited = new Promise((resolve) => instance.process.once('exit', resolve));
      instance.process.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      await Promise.all(
        instances.map(async (instance) => {
          instance.alive = false;
          const child = instance.process;
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        }),
      );
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await agent.close();
    },
  };

  async function startInstance(index: number): Promise<Instance> {
    const generation = (instances[index]?.generation ?? -1) + 1;
    const log = join(options.logDir, `instance-${index}-${generation}.log`);
    logs.push(log);
    const out: WriteStream = createWriteStream(log);
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    const child = spawn(process.execPath, ['bin/vk-pay.mjs', 'serve'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.pipe(out, { end: false });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`instance ${index} was not ready within 60 s (log: ${log})`));
      }, 60_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`instance ${index} exited with ${code} before it was ready (log: ${log})`));
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        out.write(`${line}\n`);
        if (!line.includes('"VK-Pay ready"')) return;
        try {
          const parsed = JSON.parse(line) as { url?: string };
          if (parsed.url) {
            clearTimeout(timer);
            resolve(parsed.url);
          }
        } catch {
          // Not the ready line after all.
        }
      });
    });
    child.removeAllListeners('exit');
    child.once('exit', (code, signal) => {
      if (instance.alive)
        cluster.crashes.push(
          `instance ${index} (pid ${child.pid}) exited with ${signal ?? code}; see ${log}`,
        );
      instance.alive = false;
      out.end();
    });
    const instance: Instance = { index, generation, process: child, pid: child.pid!, url, alive: true, log };
    instances[index] = instance;
    return instance;
  }

  const server: Server = createServer(async (incoming, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers = forwardHeaders(incoming.headers);
    const isCallback = incoming.url?.startsWith('/notify/') ?? false;
    const method = incoming.method ?? 'GET';
    let answered = false;
    for (let tries = 0; tries < instances.length && !answered; tries++) {
      const alive = instances.filter((instance) => instance.alive);
      if (alive.length === 0) break;
      const target = alive[next++ % alive.length]!;
      try {
        const upstream = await request(`${target.url}${incoming.url}`, {
          method: method as 'GET',
          headers,
          body: method === 'GET' || method === 'HEAD' ? null : body,
          dispatcher: agent,
          headersTimeout: 60_000,
          bodyTimeout: 60_000,
        });
        const payload = Buffer.from(await upstream.body.arrayBuffer());
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstream.headers))
          if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        response.writeHead(upstream.statusCode, out).end(payload);
        if (isCallback) callbacks.push({ path: incoming.url!, headers, body, status: upstream.statusCode });
        answered = true;
      } catch (error) {
        const code = (error as { code?: string }).code;
        // Refused before anything was sent: the next instance gets it, as a proxy's retry would.
        if (code === 'ECONNREFUSED') continue;
        break;
      }
    }
    if (!answered) {
      cluster.balancerErrors += 1;
      if (isCallback) callbacks.push({ path: incoming.url!, headers, body, status: 502 });
      response.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  cluster.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return cluster;
}
