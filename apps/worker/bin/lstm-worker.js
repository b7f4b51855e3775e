#!/usr/bin/env node
// The `lstm-worker` process (also started by `lstm worker`). TypeScript via tsx, no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
