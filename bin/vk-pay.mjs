#!/usr/bin/env node
// Compiles the TypeScript sources once with esbuild and runs them on plain Node, so a fresh clone
// needs no build step and the running service carries no TypeScript loader.
import { bundle } from './bundle.mjs';

await import(await bundle('src/cli/main.ts'));
