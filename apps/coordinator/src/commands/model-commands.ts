// lstm predict | generate | export: using a trained model (a job id, a model name, or a
// directory written by export). stdout carries only results; the rest goes to stderr.
import { randomInt } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { localFileSource } from '@lstm-runner/data';
import { exportModel, generateText, loadModelByRef, predictCsv, type CsvPredictions, type TrainedModel } from '@lstm-runner/models';
import { info, openCommandStore, positiveIntegerOption, rememberSecrets, withStore, type ConnectionFlags } from '../cli-context';

const MODEL_REF =
  'a job id (its latest checkpoint), a model name (its production version), NAME@N (version N) or a directory written by lstm export';

function loadModel(flags: ConnectionFlags & { model: string }): Promise<TrainedModel> {
  rememberSecrets(flags.store);
  return loadModelByRef(flags.model, () => openCommandStore(flags));
}

function nonNegativeNumberOption(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`expected a number >= 0, got '${text}'`);
  return value;
}

function nonNegativeIntegerOption(text: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value)) throw new InvalidArgumentError(`expected an integer >= 0, got '${text}'`);
  return value;
}

// A float32 model output carries about 7 significant digits.
const formatValue = (value: number): string => String(Number(value.toPrecision(7)));

/** `row,<target>...` then one line per prediction: the 1-based data row it is for, and the values. */
function predictionTable(predictions: CsvPredictions): string {
  const lines = [['row', ...predictions.targets].join(',')];
  predictions.values.forEach((values, index) => lines.push([String(predictions.rows[index]), ...values.map(formatValue)].join(',')));
  return `${lines.join('\n')}\n`;
}

export function modelCommands(program: Command): void {
  withStore(program.command('predict'))
    .description('predictions of a time-series model in original units, from the rows of a CSV file')
    .requiredOption('--model <ref>', MODEL_REF)
    .requiredOption('--input <csv>', "CSV file with the model's feature columns, one series in time order")
    .option('--all', 'one prediction per window whose target row lies inside the file (backtesting), not just the forecast past its end')
    .option('--json', 'print {"predictions": [[...], ...]}: one row per window, one value per target')
    .action(async (flags: ConnectionFlags & { model: string; input: string; all?: boolean; json?: boolean }) => {
      const trained = await loadModel(flags);
      const predictions = await predictCsv(trained, localFileSource(resolve(flags.input), flags.input), { all: flags.all === true });
      process.stdout.write(flags.json === true ? `${JSON.stringify({ predictions: predictions.values })}\n` : predictionTable(predictions));
    });

  withStore(program.command('generate'))
    .description('text from a char-LM: the seed followed by the generated characters, alone on stdout')
    .requiredOption('--model <ref>', MODEL_REF)
    .requiredOption('--seed <text>', 'the text to continue')
    .requiredOption('--length <n>', 'characters to generate', positiveIntegerOption)
    .option('--temperature <t>', '0 takes the most likely character; higher is more random', nonNegativeNumberOption, 1)
    .option(
      '--rng-seed <s>',
      'seed of the sampling: the same seed gives the same text (default: a random one, printed on stderr)',
      nonNegativeIntegerOption,
    )
    .action(async (flags: ConnectionFlags & { model: string; seed: string; length: number; temperature: number; rngSeed?: number }) => {
      const trained = await loadModel(flags);
      const rngSeed = flags.rngSeed ?? randomInt(2 ** 31);
      const text = await generateText(trained, { seed: flags.seed, length: flags.length, temperature: flags.temperature, rngSeed });
      if (flags.rngSeed === undefined && flags.temperature > 0) info(`rng seed ${rngSeed} (--rng-seed ${rngSeed} repeats this text)`);
      // Exactly the text for pipes; a final newline only for a terminal's prompt.
      process.stdout.write(process.stdout.isTTY ? `${text}\n` : text);
    });

  withStore(program.command('export'))
    .description('write a trained model as a TensorFlow.js layers model (model.json, weights.bin) plus lstm-runner.json')
    .requiredOption('--model <ref>', MODEL_REF)
    .addOption(new Option('--format <format>', 'export format').choices(['tfjs']).default('tfjs'))
    .requiredOption('--out <dir>', 'directory to write (created if missing; files of an earlier export are replaced)')
    .action(async (flags: ConnectionFlags & { model: string; out: string }) => {
      const trained = await loadModel(flags);
      const files = await exportModel(trained, resolve(flags.out));
      info(`exported ${trained.name} (${trained.origin}) to ${flags.out}: ${files.map((file) => basename(file)).join(', ')}`);
    });
}
