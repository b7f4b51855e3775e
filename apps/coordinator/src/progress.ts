// Training progress on the terminal: a bar per epoch (cli-progress) with steps, windows/s,
// losses, the learning rate and ETAs for the epoch and the run; plain one-line updates when
// stderr is not a terminal (logs, CI). Progress goes to stderr: stdout stays for results.
import { SingleBar } from 'cli-progress';
import type { JobStatus } from '@lstm-runner/job-store';
import type { StepProgress } from '@lstm-runner/runner';
import { currentLogFormat, info } from './cli-context';

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

/** Four significant digits: normalized MSE losses are often far below 1e-4. */
export const formatLoss = (loss: number | null): string => (loss === null ? '-' : loss.toPrecision(4));

export class ProgressReporter {
  // JSON logs are for machines: one line per step then, never a bar.
  private readonly interactive = process.stderr.isTTY === true && currentLogFormat() === 'text';
  private bar: SingleBar | undefined;
  private epoch = -1;
  private readonly startedAt = Date.now();
  private firstStep: number | undefined;
  private lastPlainLine = 0;

  constructor(private readonly jobId: string) {}

  log(line: string): void {
    if (this.bar !== undefined) this.bar.stop();
    this.bar = undefined;
    this.epoch = -1;
    info(line);
  }

  update(event: StepProgress): void {
    const { metric, totalSteps, stepsPerEpoch } = event;
    this.show({
      step: metric.step,
      totalSteps,
      stepsPerEpoch,
      epoch: Math.floor((metric.step - 1) / stepsPerEpoch),
      windowsPerSecond: metric.windowsPerSecond,
      trainLoss: metric.trainLoss,
      validationLoss: metric.lastValidationLoss,
      learningRate: metric.learningRate ?? null,
    });
  }

  updateFromStatus(status: JobStatus): void {
    if (status.step === 0) return;
    // Following from the store: steps per epoch are not in the status; show the run only.
    this.show({
      step: status.step,
      totalSteps: status.totalSteps,
      stepsPerEpoch: status.totalSteps,
      epoch: status.epoch,
      windowsPerSecond: null,
      trainLoss: status.trainLoss,
      validationLoss: status.validationLoss,
      learningRate: status.learningRate,
    });
  }

  private show(p: {
    step: number;
    totalSteps: number;
    stepsPerEpoch: number;
    epoch: number;
    windowsPerSecond: number | null;
    trainLoss: number | null;
    validationLoss: number | null;
    learningRate: number | null;
  }): void {
    this.firstStep ??= p.step - 1;
    const done = p.step - this.firstStep;
    const msPerStep = (Date.now() - this.startedAt) / Math.max(1, done);
    const epochStart = p.epoch * p.stepsPerEpoch;
    const inEpoch = p.step - epochStart;
    const epochSteps = Math.min(p.stepsPerEpoch, p.totalSteps - epochStart);
    const payload = {
      job: this.jobId,
      epochLabel: `epoch ${p.epoch + 1}`,
      rate: p.windowsPerSecond === null ? '-' : p.windowsPerSecond.toFixed(0),
      train: formatLoss(p.trainLoss),
      validation: formatLoss(p.validationLoss),
      learningRate: p.learningRate === null ? '-' : p.learningRate.toPrecision(3),
      etaEpoch: formatDuration((epochSteps - inEpoch) * msPerStep),
      etaRun: formatDuration((p.totalSteps - p.step) * msPerStep),
      runStep: `${p.step}/${p.totalSteps}`,
    };
    if (!this.interactive) {
      // One line per step, at most one per second, and always the last one.
      if (Date.now() - this.lastPlainLine < 1000 && p.step !== p.totalSteps) return;
      this.lastPlainLine = Date.now();
      info(
        `${payload.epochLabel} step ${inEpoch}/${epochSteps} (run ${payload.runStep}) ${payload.rate} windows/s loss ${payload.train} val ${payload.validation} lr ${payload.learningRate} eta epoch ${payload.etaEpoch} run ${payload.etaRun}`,
        { jobId: this.jobId, step: p.step },
      );
      return;
    }
    if (this.epoch !== p.epoch || this.bar === undefined) {
      this.bar?.stop();
      this.epoch = p.epoch;
      this.bar = new SingleBar({
        format:
          '{epochLabel} [{bar}] {value}/{total} | {rate} win/s | loss {train} | val {validation} | lr {learningRate} | eta {etaEpoch} (run {runStep}, {etaRun})',
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
      });
      this.bar.start(epochSteps, inEpoch, payload);
    }
    this.bar.update(inEpoch, payload);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
