// Compiles a TypeScript entry point (and every source file it imports) into one ES module with
// esbuild, so the service runs on plain Node: no TypeScript loader in memory at run time.
// npm packages stay external. The file name is the content's hash, so processes starting
// together never write over each other's module.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Returns the file URL of the compiled module for `entry` (a path relative to the package). */
export async function bundle(entry) {
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    write: false,
    logLevel: 'error',
  });
  const code = result.outputFiles[0].contents;
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const folder = join(root, 'dist');
  const file = join(folder, `${entry.replace(/[^A-Za-z0-9]+/g, '-')}.${hash}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(folder, { recursive: true });
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, code);
    renameSync(partial, file);
  }
  return pathToFileURL(file).href;
}

/** `node bin/bundle.mjs path/to/entry.ts [args...]` compiles the entry and runs it. */
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const entry = process.argv[2];
  process.argv.splice(2, 1);
  await import(await bundle(entry));
}
