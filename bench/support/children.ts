/**
 * The benchmark's child processes: start one, wait for its JSON ready line, ask it things over IPC,
 * watch its peak RSS, stop it. Every server under test runs in its own process on 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Child<Ready> {
  process: ChildProcess;
  pid: number;
  /** The parsed ready line. */
  ready: Ready;
  /** Sends one IPC request and waits for its answer (children started with `ipc: true`). */
  ask<Answer>(request: Record<string, unknown>): Promise<Answer>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Arguments after `node`, e.g. ['--import', 'tsx', 'bench/bare-fastify.ts']. */
  args: string[];
  /** The `msg` of the JSON line the child prints on stdout once it listens. */
  readyMsg: string;
  env?: Record<string, string | undefined>;
  ipc?: boolean;
  timeoutMs?: number;
}

export async function startChild<Ready>(options: StartOptions): Promise<Child<Ready>> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  // An undefined value removes the variable (spawn would pass the text "undefined").
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const child = spawn(process.execPath, options.args, {
    cwd: REPO_ROOT,
    env,
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk);
    if (stderr.length > 50) stderr.shift();
  });
  const name = options.args.at(-1) ?? 'child';
  const ready = await new Promise<Ready>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} was not ready within ${options.timeoutMs ?? 30_000} ms: ${stderr.join('')}`));
    }, options.timeoutMs ?? 30_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready: ${stderr.join('')}`));
    };
    child.once('exit', onExit);
    // Reading every line keeps the pipe drained for the child's whole life.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      try {
        const parsed = JSON.parse(line) as { msg?: string };
        if (parsed.msg !== options.readyMsg) return;
        clearTimeout(timer);
        child.off('exit', onExit);
        resolveReady(parsed as Ready);
      } catch {
        // Not JSON after all: a log line of the child's.
      }
    });
  });

  let nextId = 0;
  return {
    process: child,
    pid: child.pid!,
    ready,
    ask<Answer>(request: Record<string, unknown>) {
      const id = nextId++;
      return new Promise<Answer>((resolveAnswer, reject) => {
        const onMessage = (message: { id?: number; error?: string; answer?: Answer }) => {
          if (message.id !== id) return;
          child.off('message', onMessage);
          if (message.error) reject(new Error(`${name}: ${message.error}`));
          else resolveAnswer(message.answer as Answer);
        };
        child.on('message', onMessage);
        child.send({ ...request, id });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

/**
 * Peak resident memory of a process over one phase. Linux resets the high-water mark (VmHWM) when
 * "5" is written to clear_refs; where that is refused, VmRSS sampled every 20 ms stands in.
 */
export function watchPeakRss(pid: number): { stop(): number } {
  let hwmReset = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    hwmReset = false;
  }
  let peakKb = statusKb(pid, 'VmRSS');
  const timer = setInterval(() => {
    try {
      peakKb = Math.max(peakKb, statusKb(pid, 'VmRSS'));
    } catch {
      clearInterval(timer);
    }
  }, 20);
  return {
    /** Peak RSS in MB. */
    stop() {
      clearInterval(timer);
      const hwmKb = hwmReset ? statusKb(pid, 'VmHWM') : 0;
      return Math.max(peakKb, hwmKb) / 1024;
    },
  };
}
