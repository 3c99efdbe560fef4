// uni-app looks for uni_modules in the project's source root: copy the repository's
// uni_modules/vk-pay-client there before each build, so the example always uses the current one.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const example = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(example, '..', '..', 'uni_modules', 'vk-pay-client');
const to = join(example, 'src', 'uni_modules', 'vk-pay-client');
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
console.log(`copied ${from} -> ${to}`);
