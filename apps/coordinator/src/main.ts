// The `lstm` command: argument parsing and wiring; the logic lives in libs.
import { Command, CommanderError } from 'commander';
import { printError, useLogFormat } from './cli-context';
import { dashboardCommands } from './commands/dashboard-commands';
import { dataCommands } from './commands/data-commands';
import { jobCommands } from './commands/job-commands';
import { modelCommands } from './commands/model-commands';
import { registryCommands } from './commands/registry-commands';
import { scheduleCommands } from './commands/schedule-commands';
import { serviceCommands } from './commands/service-commands';

function buildProgram(): Command {
  const program = new Command('lstm')
    .description('Distributed LSTM training: a coordinator, BullMQ workers and S3-compatible storage.')
    .option('--verbose', 'print stack traces with errors')
    .showHelpAfterError('(lstm <command> --help for usage)')
    .exitOverride()
    // Commands with --log-format (withLogFormat) log in that format from their first line on.
    .hook('preAction', (_program, command) => {
      const { logFormat } = command.opts<{ logFormat?: 'text' | 'json' }>();
      if (logFormat !== undefined) useLogFormat(logFormat);
    });
  jobCommands(program);
  dataCommands(program);
  serviceCommands(program);
  modelCommands(program);
  registryCommands(program);
  scheduleCommands(program);
  dashboardCommands(program);
  return program;
}

const verbose = process.argv.includes('--verbose');
try {
  // Built inside the try: option defaults read the environment, where a bad value is an error.
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // commander already printed its message (unknown option, missing argument, --help).
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    printError(error, verbose);
    process.exitCode = 1;
  }
}
