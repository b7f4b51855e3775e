// Worker-thread entry: threads do not inherit the main thread's tsx hooks, so register them
// here before loading the TypeScript thread code.
import { register } from 'tsx/esm/api';

register();
await import('./shard-thread.ts');
