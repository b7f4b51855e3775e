// The private redis-server of an embedded run lives exactly as long as the `lstm` process
// that started it: this watchdog, started with an IPC channel, starts redis-server with the
// configuration it receives (on stdin, so the password never shows in `ps`), and stops it
// when the channel closes, however its parent ended (exit, SIGKILL, a crash).
import { spawn } from 'node:child_process';

process.once('message', (message) => {
  const redis = spawn('redis-server', ['-'], { stdio: ['pipe', 'ignore', 'inherit'] });
  redis.stdin.end(message.config);
  const stop = () => {
    if (redis.exitCode === null && redis.signalCode === null) redis.kill('SIGTERM');
  };
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  redis.on('error', (error) => {
    process.stderr.write(`redis-server: ${error.message}\n`);
    process.exit(1);
  });
  redis.on('exit', (code) => process.exit(code ?? 0));
});
