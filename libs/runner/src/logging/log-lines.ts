// Log lines for people (text) or for machines (json: one object a line). Both carry the same
// sentence. For json, what the sentence is about becomes fields, read from the sentence's own
// words (`job <id>`, `generation <n>`, `step <n>`, `shard <n>`, or a shard task id
// `j-<job>-g<n>-s<n>-t<n>`), so every log call stays one sentence; callers add what the
// sentence does not say (the worker's id). Redaction applies before anything is read.
import { InvalidArgumentError } from 'commander';
import { parseShardTaskId, type TaskKind } from '@lstm-runner/protocol';

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = 'info' | 'warn' | 'error';

/** What a line concerns, where it applies. */
export interface LogFields {
  readonly jobId?: string;
  readonly generation?: number;
  readonly step?: number;
  readonly shard?: number;
  readonly shardKind?: TaskKind;
  readonly workerId?: string;
}

export interface LogLineOptions {
  readonly format: LogFormat;
  /** Removes credentials (applied to the sentence before anything else). */
  readonly redact: (text: string) => string;
  /** Put before the sentence in text lines, e.g. '[coordinator] '. */
  readonly textPrefix?: string;
  /** The process that logs ('coordinator', 'worker', 'train'), a field of json lines. */
  readonly source?: string;
  /** Fields the sentence does not say, or says otherwise; they win over what is read from it. */
  readonly fields?: LogFields;
  /** Default: read from the sentence. */
  readonly level?: LogLevel;
  /** Fills in a job's generation on lines that name the job but not its generation. */
  readonly generations?: GenerationMemory;
  readonly now?: Date;
}

export function parseLogFormat(text: string, name: string): LogFormat {
  const format = LOG_FORMATS.find((candidate) => candidate === text);
  if (format === undefined) throw new RangeError(`${name} must be one of ${LOG_FORMATS.join(', ')}, got '${text}'`);
  return format;
}

/** parseLogFormat as a commander option parser. */
export function logFormatOption(text: string): LogFormat {
  try {
    return parseLogFormat(text, 'the log format');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

const ERROR_WORDS = /\b(error|failed for good|could not|cannot)\b/i;
const WARNING_WORDS =
  /\b(attempt|stalled|died|stopped answering|straggl\w*|crash\w*|exited|waiting since|no live worker|not restored|stale|lost|skipped)\b/i;

/** How serious a sentence is, by its words: failures are errors; retries, stalls, stragglers and waits are warnings. */
export function logLevelOf(sentence: string): LogLevel {
  if (ERROR_WORDS.test(sentence)) return 'error';
  // A failed attempt is retried: a warning; a failure after the attempts is an error.
  if (/\bfailed\b/i.test(sentence) && !/\battempt\b/i.test(sentence)) return 'error';
  return WARNING_WORDS.test(sentence) ? 'warn' : 'info';
}

const TASK_ID = /\bj-[a-z0-9][a-z0-9._-]*?-g\d+-s\d+-[tvr]\d+\b/;
const JOB = /\bjob ([a-z0-9][a-z0-9._-]{0,99})(?=[:\s,;)]|$)/;
const GENERATION = /\bgeneration (\d+)\b/;
const STEP = /\bstep (\d+)\b/;
const SHARD = /\bshard (\d+)\b/;

/** The job, generation, step and shard a sentence names. */
export function logFieldsOf(sentence: string): LogFields {
  const number = (pattern: RegExp): number | undefined => {
    const match = pattern.exec(sentence);
    return match === null ? undefined : Number(match[1]);
  };
  const taskId = TASK_ID.exec(sentence)?.[0];
  if (taskId !== undefined) {
    try {
      const task = parseShardTaskId(taskId);
      return { jobId: task.jobId, generation: task.generation, step: task.step, shard: task.shard, shardKind: task.kind };
    } catch {
      // Not one of ours after all: read the words instead.
    }
  }
  const fields = {
    jobId: JOB.exec(sentence)?.[1],
    generation: number(GENERATION),
    step: number(STEP),
    shard: number(SHARD),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as LogFields;
}

/**
 * The generation each job runs in, as this process's lines said it last ("job J: generation
 * 3, ..."), for its lines that name only the job. Keeps the most recent jobs.
 */
export class GenerationMemory {
  private readonly generations = new Map<string, number>();

  constructor(private readonly capacity = 1_000) {}

  fill(fields: LogFields): LogFields {
    const { jobId, generation } = fields;
    if (jobId === undefined) return fields;
    if (generation !== undefined) {
      this.generations.delete(jobId);
      this.generations.set(jobId, generation);
      if (this.generations.size > this.capacity) this.generations.delete(this.generations.keys().next().value!);
      return fields;
    }
    const known = this.generations.get(jobId);
    return known === undefined ? fields : { ...fields, generation: known };
  }
}

/** One log line, newline included. */
export function formatLogLine(sentence: string, options: LogLineOptions): string {
  const message = options.redact(sentence);
  if (options.format === 'text') return `${options.textPrefix ?? ''}${message}\n`;
  const fields = { ...logFieldsOf(message), ...options.fields };
  const record = {
    time: (options.now ?? new Date()).toISOString(),
    level: options.level ?? logLevelOf(message),
    ...(options.source === undefined ? {} : { source: options.source }),
    message,
    ...(options.generations === undefined ? fields : options.generations.fill(fields)),
  };
  return `${JSON.stringify(record)}\n`;
}
