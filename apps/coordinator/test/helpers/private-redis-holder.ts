// Starts the embedded run's private redis-server the way `lstm train` does (no Redis at the
// default address it is given), prints its URL, and waits to be killed.
import { reachRedis } from '../../src/local-processes';

const [unreachable, dir] = process.argv.slice(2);
const redis = await reachRedis(unreachable!, true, dir!);
process.stdout.write(`${redis.url}\n`);
setInterval(() => undefined, 60_000);
