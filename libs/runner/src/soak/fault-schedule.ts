// The soak's fault plan (docs/operations.md, `npm run soak`): a pure function of a seed. Each
// fault has a kind, the training step at which it fires (then a random delay within the step,
// so faults land at random points of the step's work), the worker it hits and how long it
// lasts. Every kind appears once before any appears twice (a short run still sees them all),
// and no two faults share a step; they fall in the first half of the run. The driver that carries the plan out lives in test-support.
import { createRng, deriveSeed, type Rng } from '@lstm-runner/lstm-core';

export const FAULT_KINDS = ['kill-worker', 'kill-coordinator', 'stop-worker', 'restart-redis', 'store-errors', 'straggler'] as const;

/**
 * kill-worker: SIGKILL a worker, start a new one; kill-coordinator: SIGKILL the coordinator,
 * start a new one, which resumes the job; stop-worker: SIGSTOP a worker past its lock, then
 * SIGCONT; restart-redis: replace Redis by an empty one on the same port; store-errors: every
 * store call of every process fails for a while; straggler: a worker's next shard takes longer.
 */
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface SoakFault {
  /** 0, 1, ... in firing order. */
  readonly index: number;
  readonly kind: FaultKind;
  /** Fires once the job has completed this step (and the previous fault is over)... */
  readonly atStep: number;
  /** ... this many ms later. */
  readonly delayMs: number;
  /** The worker it hits: an index into the live workers, modulo their count (worker kinds). */
  readonly worker: number;
  /** store-errors: the burst; straggler: the extra time of the shard; stop-worker: the stop beyond the lock; else 0. */
  readonly durationMs: number;
}

export interface FaultScheduleOptions {
  readonly seed: number;
  /** Steps of the job. */
  readonly steps: number;
  readonly faults: number;
  /** Worker processes of the soak (at least 2: one straggles or stops while others compute). */
  readonly workers: number;
  /** The kinds to draw from; default all. */
  readonly kinds?: readonly FaultKind[];
  /** Faults fire at steps firstStep (default 2: the job has started) to lastStep... */
  readonly firstStep?: number;
  /**
   * ... (default: half the run). The job goes on during a fault (with the other workers), so
   * the rest of the run is room for it to run ahead while the last faults are carried out.
   */
  readonly lastStep?: number;
  /** The most ms a fault waits after its step (default 400). */
  readonly maxDelayMs?: number;
  /** The [least, most] duration per kind, in ms (defaults: DEFAULT_FAULT_DURATIONS). */
  readonly durations?: Partial<Record<FaultKind, readonly [number, number]>>;
}

/**
 * Store bursts stay within what the store's retries ride out (six attempts wait 3 to 6 s:
 * storage/retry.ts); stragglers run past the dispatcher's 2 s before a duplicate.
 */
export const DEFAULT_FAULT_DURATIONS: Readonly<Record<FaultKind, readonly [number, number]>> = {
  'kill-worker': [0, 0],
  'kill-coordinator': [0, 0],
  'stop-worker': [500, 2000],
  'restart-redis': [0, 0],
  'store-errors': [300, 2500],
  straggler: [3000, 6000],
};

function between(rng: Rng, [least, most]: readonly [number, number]): number {
  return least + rng.nextInt(most - least + 1);
}

function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Which kind each fault is: every kind once, then at random; in a random order. */
function drawKinds(rng: Rng, kinds: readonly FaultKind[], count: number): FaultKind[] {
  const first = shuffle(rng, [...kinds]);
  const drawn: FaultKind[] = [];
  for (let i = 0; i < count; i++) drawn.push(i < first.length ? first[i]! : kinds[rng.nextInt(kinds.length)]!);
  return shuffle(rng, drawn);
}

/** `count` distinct steps of [first, last], ascending. */
function drawSteps(rng: Rng, first: number, last: number, count: number): number[] {
  const all = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  return shuffle(rng, all)
    .slice(0, count)
    .sort((a, b) => a - b);
}

function validate(options: FaultScheduleOptions, kinds: readonly FaultKind[], firstStep: number, lastStep: number): void {
  for (const name of ['seed', 'steps', 'faults', 'workers'] as const) {
    if (!Number.isSafeInteger(options[name]) || options[name] < 0) {
      throw new RangeError(`fault schedule option ${name} must be a non-negative integer, got ${options[name]}`);
    }
  }
  if (options.workers < 2) throw new RangeError(`a soak needs at least 2 workers, got ${options.workers}`);
  if (kinds.length === 0 || kinds.some((kind) => !FAULT_KINDS.includes(kind))) {
    throw new RangeError(`fault kinds must be some of ${FAULT_KINDS.join(', ')}, got ${kinds.join(', ')}`);
  }
  if (lastStep >= options.steps || options.faults > lastStep - firstStep + 1) {
    throw new RangeError(
      `${options.faults} faults need as many distinct steps from ${firstStep} to ${lastStep}, in a run of ${options.steps} steps`,
    );
  }
}

/** The seed's fault plan for a job of options.steps steps. */
export function faultSchedule(options: FaultScheduleOptions): SoakFault[] {
  const kinds = options.kinds ?? FAULT_KINDS;
  const firstStep = options.firstStep ?? 2;
  const lastStep = options.lastStep ?? Math.floor(options.steps / 2);
  validate(options, kinds, firstStep, lastStep);
  const rng = createRng(deriveSeed(options.seed, 0x50a4));
  const drawn = drawKinds(rng, kinds, options.faults);
  const steps = drawSteps(rng, firstStep, lastStep, options.faults);
  const maxDelayMs = options.maxDelayMs ?? 400;
  return drawn.map((kind, index) => ({
    index,
    kind,
    atStep: steps[index]!,
    delayMs: rng.nextInt(maxDelayMs + 1),
    worker: rng.nextInt(options.workers),
    durationMs: between(rng, options.durations?.[kind] ?? DEFAULT_FAULT_DURATIONS[kind]),
  }));
}

/** How many faults of each kind the plan holds (every kind named, 0 included). */
export function countByKind(faults: readonly { readonly kind: FaultKind }[]): Record<FaultKind, number> {
  const counts = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  for (const fault of faults) counts[fault.kind] += 1;
  return counts;
}
