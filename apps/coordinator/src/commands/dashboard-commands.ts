// lstm dashboard: wiring of libs/dashboard (the page, the API and its access rules live there).
import { Command, Option } from 'commander';
import {
  assertAccessAllowed,
  DashboardServer,
  DEFAULT_DASHBOARD_HOST,
  DEFAULT_DASHBOARD_PORT,
  RedisClusterView,
} from '@lstm-runner/dashboard';
import { assertRedisReachable, portOption } from '@lstm-runner/runner';
import {
  openCommandStore,
  redact,
  rememberSecrets,
  serviceLog,
  withLogFormat,
  withRedis,
  withStore,
  type ConnectionFlags,
} from '../cli-context';

interface DashboardFlags extends ConnectionFlags {
  readonly port: number;
  readonly host: string;
  readonly token?: string;
  readonly allowedHost: string[];
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function dashboardCommands(program: Command): void {
  withLogFormat(withRedis(withStore(program.command('dashboard'))))
    .description('serve a web page of every job (loss curves live), the workers and queues, with cancel and resume')
    .option('--port <port>', `port to listen on (0 picks a free one)`, portOption, DEFAULT_DASHBOARD_PORT)
    .option('--host <address>', 'address to listen on; any but a loopback address needs --token', DEFAULT_DASHBOARD_HOST)
    .addOption(
      new Option('--token <token>', 'every request must carry it (env LSTM_DASHBOARD_TOKEN, which keeps it out of ps)').env(
        'LSTM_DASHBOARD_TOKEN',
      ),
    )
    .option(
      '--allowed-host <name>',
      "a Host name to accept besides loopback names and --host (a proxy's, the machine's); repeatable",
      collect,
      [],
    )
    .action(async (flags: DashboardFlags) => {
      rememberSecrets(flags.redis, flags.store, flags.token);
      // A bind the token rules forbid is refused before anything is opened.
      assertAccessAllowed(flags.host, flags.token);
      await assertRedisReachable(flags.redis);
      const log = serviceLog('dashboard');
      const store = openCommandStore(flags);
      const cluster = new RedisClusterView({ store, redisUrl: flags.redis, prefix: flags.queuePrefix });
      let server: DashboardServer;
      let url: string;
      try {
        server = new DashboardServer({
          store,
          cluster,
          port: flags.port,
          host: flags.host,
          token: flags.token,
          allowedHosts: flags.allowedHost,
          log,
          redact,
        });
        url = await server.start();
      } catch (error) {
        // Nothing may keep the process alive after a refusal (a bad bind, a port in use).
        await cluster.close();
        await store.close();
        throw error;
      }
      log(`serving ${store.url} on ${url}${flags.token === undefined ? '' : ' (open it once with ?token=<your token>)'}`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          log('stopping');
          void server
            .close()
            .then(() => cluster.close())
            .then(() => store.close())
            .then(resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
