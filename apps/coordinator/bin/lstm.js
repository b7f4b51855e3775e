#!/usr/bin/env node
// The `lstm` command. The sources are TypeScript run through tsx, so the bin works
// right after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

// The AWS SDK warns once per process about Node 20; the project supports Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
await import('../src/main.ts');
