#!/usr/bin/env node
// The headless command-line interface: runs the engine's TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/engine/cli/main.ts');
process.exitCode = await main(process.argv);
