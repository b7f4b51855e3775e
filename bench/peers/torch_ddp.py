"""The char-LM trained with PyTorch DistributedDataParallel over gloo on this machine:
P processes of `--threads` threads each, a global batch split evenly between them, windows
of T characters at random offsets of a text corpus (lowercased), Adam, clipping at 5.
Prints one JSON line: windows/s end to end (data, forward, backward, all-reduce, clipping,
optimizer) over `--steps` steps after `--warm-up-steps`, timed by rank 0: from the median
step (as bench:distributed reads ours from its metrics) and over all steps between barriers.
"""
import argparse
import json
import os
import socket
import statistics
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from common import CharLM, describe_peer, emit

T = 100


def corpus_tokens(path):
    """The corpus lowercased, as ids into its sorted characters; and the vocabulary size."""
    with open(path, encoding='utf-8') as corpus:
        text = corpus.read().lower()
    characters = sorted(set(text))
    index = {character: i for i, character in enumerate(characters)}
    return torch.from_numpy(np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))), len(characters)


def train(rank, args, out_path):
    torch.set_num_threads(args.threads)
    dist.init_process_group('gloo', rank=rank, world_size=args.processes)
    tokens, V = corpus_tokens(args.corpus)
    torch.manual_seed(args.seed)  # the same initial weights in every process (DDP also broadcasts rank 0's)
    model = DistributedDataParallel(CharLM(V, 50, 128))
    parameters = list(model.parameters())
    optimizer = torch.optim.Adam(parameters, lr=0.001, eps=1e-7)
    per_process = args.global_batch // args.processes
    # Every process draws the same global batch and takes its own slice of it.
    offsets_generator = torch.Generator().manual_seed(args.seed)
    positions = torch.arange(T + 1)

    def step():
        offsets = torch.randint(0, len(tokens) - T, (args.global_batch,), generator=offsets_generator)
        windows = tokens[offsets[rank * per_process:(rank + 1) * per_process, None] + positions]
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(windows[:, :T]), windows[:, T]).backward()
        nn.utils.clip_grad_norm_(parameters, 5.0)
        optimizer.step()

    for _ in range(args.warm_up_steps):
        step()
    dist.barrier()
    started = time.perf_counter()
    step_ms = []
    for _ in range(args.steps):
        step_started = time.perf_counter()
        step()  # the all-reduce inside backward keeps the processes in step
        step_ms.append((time.perf_counter() - step_started) * 1000)
    dist.barrier()
    seconds = time.perf_counter() - started
    if rank == 0:
        median_ms = statistics.median(step_ms)
        with open(out_path, 'w') as out:
            json.dump({
                'windowsPerSecond': 1000 * args.global_batch / median_ms,
                'msPerStep': median_ms,
                'windowsPerSecondOverall': args.steps * args.global_batch / seconds,
                'stepMs': step_ms,
                'steps': args.steps,
                'warmUpSteps': args.warm_up_steps,
                'processes': args.processes,
                'threadsPerProcess': args.threads,
                'globalBatch': args.global_batch,
                'vocabulary': V,
                'peer': describe_peer(),
            }, out)
    dist.destroy_process_group()


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--corpus', required=True)
    parser.add_argument('--processes', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--global-batch', type=int, default=128)
    parser.add_argument('--steps', type=int, default=30)
    parser.add_argument('--warm-up-steps', type=int, default=5)
    parser.add_argument('--seed', type=int, default=42)
    args = parser.parse_args()
    if args.global_batch % args.processes != 0:
        parser.error(f'--global-batch {args.global_batch} does not split evenly over {args.processes} processes')
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(free_port())
    with tempfile.TemporaryDirectory() as directory:
        out_path = os.path.join(directory, 'result.json')
        mp.spawn(train, args=(args, out_path), nprocs=args.processes, join=True)
        with open(out_path) as result:
            emit(json.load(result))


if __name__ == '__main__':
    main()
