// uni-app looks for uni_modules in the project's source root: copy the repository's
// uni_modules/vk-pay-client there before each build, so the example always uses the current one.
// Builds may start side by side (the tests build H5 and mp-weixin at once): a lock file keeps one
// copy at a time, and a copy already current is left alone so a running build never sees it move.
import { closeSync, cpSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const example = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(example, '..', '..', 'uni_modules', 'vk-pay-client');
const to = join(example, 'src', 'uni_modules', 'vk-pay-client');
const lock = join(example, 'src', '.uni_modules.lock');

/** Every file under `dir`, relative path -> contents. */
function tree(dir) {
  const files = new Map();
  const walk = (at) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  try {
    walk(dir);
  } catch {
    return null;
  }
  return files;
}

function same(a, b) {
  if (!a || !b || a.size !== b.size) return false;
  for (const [path, contents] of a) if (!b.get(path)?.equals(contents)) return false;
  return true;
}

function takeLock() {
  const started = Date.now();
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      return;
    } catch {
      // A lock older than half a minute was left by a copy that died.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) rmSync(lock, { force: true });
      } catch {}
      if (Date.now() - started > 60_000) throw new Error(`could not take ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

takeLock();
try {
  if (same(tree(from), tree(to))) {
    console.log(`${to} is current`);
  } else {
    rmSync(to, { recursive: true, force: true });
    cpSync(from, to, { recursive: true });
    console.log(`copied ${from} -> ${to}`);
  }
} finally {
  rmSync(lock, { force: true });
}
