// How one step's shard gradients come together on the coordinator. Under reduction version 1,
// or with up to 8 shards, it fetches every shard's gradient as soon as its shard is in and the
// optimizer sums them in shard order. Under version 2 with more shards, the workers sum the
// step's fixed reduction tree (reduction-tree.ts): a node's reduce task goes on the queue as
// soon as all its inputs are in (not a level at a time), and the coordinator fetches the root.
import { viewFloat32Vector, type GradientSum } from '@lstm-runner/protocol';
import { getChecked, type ObjectStore } from '@lstm-runner/storage';
import type { ShardGradient } from './gradient-sum';
import { reductionTree, type ReductionInput, type ReductionTree } from './reduction-tree';

export interface StepReductionOptions {
  readonly store: ObjectStore;
  readonly version: 1 | 2;
  readonly shardCount: number;
  /** Puts node `node`'s reduce task on the queue; resolves with its sum. */
  readonly reduce: (node: number, inputs: readonly GradientSum[]) => Promise<GradientSum>;
}

interface Pending<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function pending<T>(): Pending<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Awaited by gradients(); until then a failure must not count as unhandled.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

const idOf = (input: ReductionInput): string => `${input.kind}${input.index}`;

export class StepReduction {
  private readonly tree: ReductionTree;
  private readonly sums = new Map<string, GradientSum>();
  private readonly started = new Set<number>();
  /** The sums the coordinator adds (tree.top), fetched from the store, by position. */
  private readonly fetched: Pending<ShardGradient>[];
  private readonly topIn: Pending<void>[];
  /** Position in tree.top, by input id. */
  private readonly topPosition: Map<string, number>;

  constructor(private readonly options: StepReductionOptions) {
    this.tree =
      options.version === 2
        ? reductionTree(options.shardCount)
        : { nodes: [], top: Array.from({ length: options.shardCount }, (_, index) => ({ kind: 'shard', index })), shardParent: [] };
    this.fetched = this.tree.top.map(() => pending<ShardGradient>());
    this.topIn = this.tree.top.map(() => pending<void>());
    this.topPosition = new Map(this.tree.top.map((input, position) => [idOf(input), position]));
  }

  /** A training shard's result: seen as soon as it is in, perhaps more than once. */
  addShard(shard: number, sum: GradientSum): void {
    this.arrive({ kind: 'shard', index: shard }, sum, this.tree.shardParent[shard]);
  }

  /** Resolves when every sum the coordinator adds is in (the workers' part of the step is over). */
  async inputsIn(): Promise<void> {
    await Promise.all(this.topIn.map((input) => input.promise));
  }

  /** The sums to add, fetched and checked, in order (their `shard` is their position). */
  gradients(): Promise<ShardGradient[]> {
    return Promise.all(this.fetched.map((fetch) => fetch.promise));
  }

  private arrive(input: ReductionInput, sum: GradientSum, parent: number | undefined): void {
    const id = idOf(input);
    if (this.sums.has(id)) return;
    this.sums.set(id, sum);
    const position = this.topPosition.get(id);
    if (position !== undefined) return this.fetch(position, sum);
    if (parent === undefined) return;
    const node = this.tree.nodes[parent]!;
    const inputs = node.inputs.map((child) => this.sums.get(idOf(child)));
    if (this.started.has(parent) || inputs.some((child) => child === undefined)) return;
    this.started.add(parent);
    this.options.reduce(parent, inputs as GradientSum[]).then(
      (reduced) => this.arrive({ kind: 'node', index: parent }, reduced, node.parent),
      (error: unknown) => this.fail(error),
    );
  }

  private fetch(position: number, sum: GradientSum): void {
    this.topIn[position]!.resolve();
    getChecked(this.options.store, sum.gradientKey, sum.gradientChecksum).then(
      (bytes) =>
        this.fetched[position]!.resolve({
          shard: position,
          // A view: these bytes are read once, by the sum (no copy of every gradient).
          gradient: viewFloat32Vector(bytes),
          loss: sum.loss,
          count: sum.count,
        }),
      (error: unknown) => this.fetched[position]!.reject(error),
    );
  }

  /** A reduce task failed: the step cannot finish. */
  private fail(error: unknown): void {
    for (const waiting of [...this.fetched, ...this.topIn]) waiting.reject(error);
  }
}
