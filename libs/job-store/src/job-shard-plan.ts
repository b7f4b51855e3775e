// The job's shard plan, built the same way by the coordinator and by every worker.
import { ShardPlan, type WindowLayout } from '@lstm-runner/data';
import { shuffleOf, type JobRecord } from './job-record';

export function shardPlanOf(record: JobRecord, layout: WindowLayout): ShardPlan {
  const { training } = record.spec;
  return new ShardPlan(
    {
      seed: training.seed,
      epochs: training.epochs,
      batchSize: training.batchSize,
      shardSize: training.shardSize,
      maxSteps: training.maxSteps,
      shuffle: shuffleOf(record),
    },
    layout,
  );
}
