#!/usr/bin/env node
// The `lstm-worker` process (also started by `lstm worker`). TypeScript via tsx, no build step.
import { register } from 'tsx/esm/api';

// The AWS SDK warns once per process about Node 20; the project supports Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
await import('../src/main.ts');
