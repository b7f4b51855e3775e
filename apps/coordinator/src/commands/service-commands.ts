// lstm coordinator | worker: the long-running services.
import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { assertRedisReachable, CoordinatorMetrics, CoordinatorService, portOption, serveCoordinatorEndpoints } from '@lstm-runner/runner';
import {
  defaults,
  coordinatorTimings,
  openCommandStore,
  positiveIntegerOption,
  rememberSecrets,
  serviceLog,
  withLogFormat,
  withRedis,
  withStore,
  type ConnectionFlags,
} from '../cli-context';
import { workerBinPath } from '../local-processes';

export function serviceCommands(program: Command): void {
  withLogFormat(withRedis(withStore(program.command('coordinator'))))
    .description('run the coordinator service: jobs from `lstm train`, and jobs whose coordinator died')
    .option('--concurrency <n>', 'jobs run at once', positiveIntegerOption, 4)
    .option(
      '--http-port <port>',
      'serve /healthz, /readyz, /metrics and /scaling on this port (env LSTM_HTTP_PORT)',
      portOption,
      defaults().httpPort,
    )
    .option('--max-desired-workers <n>', 'the most workers /scaling asks for per profile', positiveIntegerOption, 64)
    .action(async (flags: ConnectionFlags & { concurrency: number; httpPort?: number; maxDesiredWorkers: number }) => {
      rememberSecrets(flags.redis, flags.store);
      await assertRedisReachable(flags.redis);
      const log = serviceLog('coordinator');
      const store = openCommandStore(flags);
      const metrics = new CoordinatorMetrics();
      const service = new CoordinatorService({
        store,
        redisUrl: flags.redis,
        prefix: flags.queuePrefix,
        concurrency: flags.concurrency,
        ...(flags.s3Endpoint === undefined ? {} : { s3Endpoint: flags.s3Endpoint }),
        coordinator: coordinatorTimings(),
        maxDesiredWorkers: flags.maxDesiredWorkers,
        metrics,
        log,
      });
      const endpoints =
        flags.httpPort === undefined ? undefined : await serveCoordinatorEndpoints(flags.httpPort, service, store, flags.redis, metrics);
      if (endpoints !== undefined) log(`http: /healthz, /readyz, /metrics, /scaling on port ${endpoints.port}`);
      await service.start();
      log(`serving jobs of ${store.url}`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          log('stopping: checkpointing running jobs');
          void service
            .close()
            .then(() => endpoints?.close())
            .then(() => store.close())
            .then(resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });

  program
    .command('worker')
    .description('run a gradient worker (the lstm-worker process; see lstm worker --help)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]', 'lstm-worker arguments')
    .action(async (args: string[]) => {
      const child = spawn(process.execPath, [workerBinPath(), ...args], { stdio: 'inherit' });
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => child.kill(signal));
      process.exitCode = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
    });
}
