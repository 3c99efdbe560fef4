/**
 * The deployment files cannot run here (no container engine, no systemd as PID 1), so they are
 * checked against the code they deploy: every variable they set is one the service reads, every
 * file they copy or mount exists, the balancer sends to the instances the compose file defines,
 * and the hardening they promise is there.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadServiceConfig } from '../../src/config/service-config.ts';

const root = resolve(import.meta.dirname, '../..');
const deploy = join(root, 'deploy');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

type Service = {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  env_file?: Array<{ path: string; required?: boolean }>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  secrets?: string[];
  volumes?: string[];
  user?: string;
};
const compose = parse(read('deploy/compose.yaml'), { merge: true }) as {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
};
const services = Object.entries(compose.services);
const instances = services.filter(([, service]) => service.build?.dockerfile === 'Dockerfile');
const configFile = JSON.parse(read('deploy/vk-pay.config.json')) as Record<string, unknown>;

/** Every TypeScript source of the service, to find the variables it reads. */
function sources(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [readFileSync(path, 'utf8')] : [];
  });
}
const code = sources(join(root, 'src')).join('\n');
/** The names the config file takes from the environment: "env:NAME". */
const referenced = new Set([...JSON.stringify(configFile).matchAll(/"env:([A-Z0-9_]+)"/g)].map((m) => m[1]));
const isRead = (name: string) =>
  code.includes(`env.${name}`) ||
  code.includes(`'${name}'`) ||
  code.includes(`"${name}"`) ||
  referenced.has(name);

/** NAME=value lines of an env file (comments and blank lines skipped). */
function envFile(path: string): Record<string, string> {
  const entries = read(path)
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
    .map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1)] as const;
    });
  return Object.fromEntries(entries);
}

describe('deploy/compose.yaml', () => {
  it('runs PostgreSQL, Redis, three instances of the image and a load balancer', () => {
    expect(instances.map(([name]) => name)).toEqual(['vk-pay-1', 'vk-pay-2', 'vk-pay-3']);
    expect(compose.services.postgres?.image).toMatch(/^postgres:/);
    expect(compose.services.redis?.image).toMatch(/^redis:/);
    expect(compose.services.nginx?.image).toMatch(/^nginx:/);
  });

  it('gives every service a health check, and starts each after what it needs is healthy', () => {
    for (const [name, service] of services) {
      expect(service.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      for (const [needed, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(compose.services[needed], `${name} depends on ${needed}`).toBeDefined();
        expect(condition, `${name} waits for ${needed}`).toBe('service_healthy');
      }
    }
    for (const [name, service] of instances)
      expect(Object.keys(service.depends_on ?? {}).sort(), name).toEqual(['postgres', 'redis']);
    expect(Object.keys(compose.services.nginx?.depends_on ?? {}).sort()).toEqual(
      instances.map(([name]) => name),
    );
  });

  it('sets on the instances only variables the service reads, production, PostgreSQL and Redis', () => {
    for (const [name, service] of instances) {
      const environment = service.environment ?? {};
      for (const variable of Object.keys(environment))
        expect(isRead(variable), `${name}: ${variable}`).toBe(true);
      expect(environment.VKPAY_ENV).toBe('production');
      expect(environment.DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
      expect(environment.REDIS_URL).toMatch(/^redis:\/\/[^@]*@redis:6379\//);
      expect(environment.VKPAY_CONFIG).toBe('/etc/vk-pay/vk-pay.config.json');
      expect(service.volumes).toContain('./vk-pay.config.json:/etc/vk-pay/vk-pay.config.json:ro');
      expect(service.env_file).toEqual([{ path: 'vk-pay.env', required: true }]);
    }
  });

  it('has example env files whose every variable is read, and sets every variable the config names', () => {
    const secrets = envFile('deploy/vk-pay.env.example');
    for (const variable of Object.keys(secrets)) expect(isRead(variable), variable).toBe(true);
    const interpolated = envFile('deploy/compose.env.example');
    const text = read('deploy/compose.yaml');
    for (const variable of Object.keys(interpolated)) expect(text).toContain(`\${${variable}:?`);
    for (const [, variable] of text.matchAll(/\$\{([A-Z0-9_]+)/g))
      expect(Object.keys(interpolated), `${variable} in compose.env.example`).toContain(variable);
    for (const variable of referenced) expect(Object.keys(secrets), `env:${variable}`).toContain(variable);
  });

  it('mounts every secret the config file reads, and the files it names exist or are the operator’s', () => {
    const files = [...JSON.stringify(configFile).matchAll(/"file:\/run\/secrets\/([^"]+)"/g)].map(
      (m) => m[1],
    );
    for (const [name, service] of instances)
      expect(service.secrets?.slice().sort(), name).toEqual(files.sort());
    for (const [name, secret] of Object.entries(compose.secrets)) {
      expect(files, name).toContain(name);
      expect(secret.file, name).toMatch(/^\.\/secrets\//);
    }
    // Operator's files (keys, certificates) stay out of git; everything else mounted is here.
    const ignored = read('.gitignore');
    expect(ignored).toMatch(/^deploy\/secrets\/$/m);
    expect(ignored).toMatch(/^deploy\/tls\/$/m);
    expect(ignored).toMatch(/^deploy\/vk-pay\.env$/m);
    for (const [name, service] of services)
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] as string;
        if (!source.startsWith('./') || source === './tls') continue;
        expect(existsSync(join(deploy, source)), `${name} mounts ${source}`).toBe(true);
      }
  });

  it('trusts the balancer’s address for forwarded headers and lets the network read the admin listener', () => {
    const nginx = compose.services.nginx as Service & { networks: { default: { ipv4_address: string } } };
    const security = configFile.security as { trustedProxies: string[] };
    expect(security.trustedProxies).toEqual([nginx.networks.default.ipv4_address]);
    expect(configFile.env).toBe('production');
    expect(String(configFile.publicUrl)).toMatch(/^https:\/\//);
  });
});

describe('deploy/vk-pay.config.json', () => {
  it('passes the production checks with the variables of the compose file and the example env files', () => {
    const folder = mkdtempSync(join(tmpdir(), 'vkpay-deploy-'));
    try {
      // Key files where the secrets would be mounted; their content is checked by the gateways' code.
      const text = read('deploy/vk-pay.config.json').replaceAll('file:/run/secrets/', `file:${folder}/`);
      for (const [, name] of text.matchAll(/"file:[^"]*\/([^"/]+)"/g))
        writeFileSync(join(folder, name as string), '-----BEGIN PUBLIC KEY-----\n');
      writeFileSync(join(folder, 'vk-pay.config.json'), text);
      const interpolation = envFile('deploy/compose.env.example');
      const service = instances[0]?.[1] as Service;
      const environment = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([name, value]) => [
          name,
          value.replace(
            /\$\{([A-Z0-9_]+):\?[^}]*\}/g,
            (_, variable: string) => interpolation[variable] ?? '',
          ),
        ]),
      );
      // The blanks of the example, filled as its comments say.
      const secrets = Object.fromEntries(
        Object.entries(envFile('deploy/vk-pay.env.example')).map(([name, value]) => [
          name,
          value || (name === 'WXPAY_APIV3_KEY' ? 'a'.repeat(32) : randomBytes(32).toString('hex')),
        ]),
      );
      const config = loadServiceConfig({
        env: { ...secrets, ...environment, VKPAY_CONFIG: join(folder, 'vk-pay.config.json') },
        cwd: folder,
      });
      expect(config.env).toBe('production');
      expect(config.databaseUrl).toMatch(/^postgres:\/\/vkpay:/);
      expect(config.redisUrl).toMatch(/^redis:\/\/:/);
      expect(config.publicUrl).toBe(interpolation.VKPAY_PUBLIC_URL);
      expect(config.host).toBe('0.0.0.0');
      expect(config.sealing?.activeKeyId).toBeDefined();
      expect(config.wxpay).toHaveLength(1);
      // The admin listener answers the compose network (probes run inside the container, on loopback).
      const network = (
        compose as unknown as { networks: { default: { ipam: { config: Array<{ subnet: string }> } } } }
      ).networks.default.ipam.config[0]?.subnet;
      expect(config.admin).toEqual({ host: '0.0.0.0', port: 9464, allowlist: ['127.0.0.1', '::1', network] });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('deploy/nginx.conf', () => {
  const conf = read('deploy/nginx.conf');
  it('balances over exactly the compose file’s instances on their service port', () => {
    const upstreams = [...conf.matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
    expect(upstreams).toEqual(
      instances.map(([name, service]) => `${name}:${service.environment?.VKPAY_PORT ?? '3000'}`),
    );
    expect(conf).toMatch(/proxy_pass http:\/\/vk_pay;/);
    expect(conf).toMatch(/upstream vk_pay \{/);
  });

  it('terminates TLS with the mounted certificate and tells the service the scheme', () => {
    expect(conf).toMatch(/listen 443 ssl;/);
    expect(conf).toContain('ssl_certificate     /etc/nginx/tls/fullchain.pem;');
    expect(compose.services.nginx?.volumes).toContain('./tls:/etc/nginx/tls:ro');
    expect(conf).toContain('proxy_set_header X-Forwarded-Proto $scheme;');
    expect(compose.services.nginx?.volumes).toContain('./nginx.conf:/etc/nginx/conf.d/default.conf:ro');
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages = lines.filter((line) => line.startsWith('FROM '));
  const ignored = read('.dockerignore')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('builds in stages from node:22-bookworm-slim, installing production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage).toMatch(/^FROM node:22-bookworm-slim\b/);
    expect(dockerfile).toContain('npm ci --omit=dev');
    // esbuild compiles the sources when the service starts: a runtime dependency, installed by --omit=dev.
    const manifest = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).toContain('esbuild');
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    const copies = lines.filter((line) => line.startsWith('COPY ') && !line.includes('--from='));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const parts = copy.split(/\s+/).slice(1);
      for (const source of parts.slice(0, -1)) {
        expect(existsSync(join(root, source)), source).toBe(true);
        // The ignore file's rules, as Docker applies them: the last matching rule wins.
        let excluded = false;
        for (const rule of ignored) {
          const negated = rule.startsWith('!');
          const pattern = (negated ? rule.slice(1) : rule).replace(/^\*\*\//, '');
          const matches = pattern.endsWith('/*')
            ? source.startsWith(pattern.slice(0, -1))
            : source === pattern || source.startsWith(`${pattern}/`);
          if (matches) excluded = !negated;
        }
        expect(excluded, `${source} is excluded by .dockerignore`).toBe(false);
      }
    }
  });

  it('runs as a user other than root, with a health check and variables the service reads', () => {
    const users = lines.filter((line) => line.startsWith('USER '));
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^USER\s+(root|0)(:|$)/);
    const lastStage = lines.slice(lines.lastIndexOf(stages.at(-1) as string));
    expect(lastStage.some((line) => line.startsWith('USER '))).toBe(true);
    expect(lastStage.find((line) => line.startsWith('HEALTHCHECK'))).toContain('deploy/healthcheck.mjs');
    const env = lastStage
      .filter((line) => line.startsWith('ENV '))
      .flatMap((line) => [...line.matchAll(/(\w+)=/g)]);
    expect(env.length).toBeGreaterThan(0);
    for (const [, name] of env) expect(isRead(name as string), name).toBe(true);
    expect(lastStage.find((line) => line.startsWith('ENTRYPOINT'))).toBe(
      'ENTRYPOINT ["node", "bin/vk-pay.mjs"]',
    );
  });
});

describe('deploy/healthcheck.mjs', () => {
  // Run asynchronously: the servers below answer from this process's event loop.
  const check = (env: Record<string, string>) =>
    new Promise<number | null>((done) => {
      const child = spawn(process.execPath, [join(deploy, 'healthcheck.mjs')], {
        env: { PATH: process.env.PATH, ...env },
        stdio: 'ignore',
      });
      child.once('exit', (code) => done(code));
    });
  const serve = async (status: number): Promise<Server> => {
    const server = createServer((request, response) => {
      response.statusCode = request.url === '/healthz' ? status : 404;
      response.end();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    return server;
  };

  it('is healthy when /healthz answers 200 on the admin port, else on the service port', async () => {
    const alive = await serve(200);
    const dead = await serve(503);
    const ports = new Map(
      [alive, dead].map((server) => [server, String((server.address() as AddressInfo).port)]),
    );
    const port = (server: Server) => ports.get(server) as string;
    try {
      expect(await check({ VKPAY_ADMIN_PORT: port(alive), VKPAY_PORT: port(dead) })).toBe(0);
      expect(await check({ VKPAY_ADMIN_PORT: port(dead), VKPAY_PORT: port(alive) })).toBe(1);
      expect(await check({ VKPAY_PORT: port(alive) })).toBe(0);
    } finally {
      await new Promise((done) => alive.close(done));
      await new Promise((done) => dead.close(done));
    }
    // Nothing listening: unhealthy, not a hang.
    expect(await check({ VKPAY_PORT: port(alive) })).toBe(1);
  });
});

describe('deploy/vk-pay.service', () => {
  const unit = read('deploy/vk-pay.service');
  const sections = new Map<string, Array<[string, string]>>();
  let current = '';
  for (const line of unit.split('\n').map((text) => text.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      current = header[1] as string;
      sections.set(current, []);
      continue;
    }
    const at = line.indexOf('=');
    expect(at, line).toBeGreaterThan(0);
    sections.get(current)?.push([line.slice(0, at), line.slice(at + 1)]);
  }
  const service = sections.get('Service') ?? [];
  const value = (key: string) => service.filter(([name]) => name === key).map(([, text]) => text);

  it('has the three sections and starts bin/vk-pay.mjs serve as a user other than root', () => {
    expect([...sections.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(value('ExecStart')).toEqual(['/usr/bin/node /opt/vk-pay/bin/vk-pay.mjs serve']);
    expect(value('WorkingDirectory')).toEqual(['/opt/vk-pay']);
    expect(value('User')).toHaveLength(1);
    expect(value('User')[0]).not.toMatch(/^(root|0)$/);
    expect(value('Restart')).toEqual(['on-failure']);
    expect(value('EnvironmentFile')).toEqual(['/etc/vk-pay/vk-pay.env']);
  });

  it('may write only its data folder, and sets only variables the service reads', () => {
    expect(value('NoNewPrivileges')).toEqual(['yes']);
    expect(value('ProtectSystem')).toEqual(['strict']);
    const environment = Object.fromEntries(
      value('Environment').map((text) => text.split('=') as [string, string]),
    );
    for (const name of Object.keys(environment)) expect(isRead(name), name).toBe(true);
    expect(value('ReadWritePaths')).toEqual([environment.VKPAY_DATA_DIR]);
    expect(value('StateDirectory').map((name) => `/var/lib/${name}`)).toEqual([environment.VKPAY_DATA_DIR]);
    expect(environment.NODE_ENV).toBe('production');
  });

  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('passes systemd-analyze verify', () => {
    const output = execFileSync(
      'systemd-analyze',
      ['verify', relative(process.cwd(), join(deploy, 'vk-pay.service'))],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    expect(output).toBe('');
  });
});
