"""One training step of a reference workload on PyTorch (forward, backward, clipping when
the workload clips, Adam), served to bench/peers.bench.ts over stdin/stdout so that its
rounds interleave with ours in one run:

  started:  prints {"ready": true, "peer": {...}} after the warm-up steps
  "run N":  times N steps, prints {"ms": [...]}
  EOF:      exits

The batch is random and the same every step (as in bench:core): the cost of a step does
not depend on the data.
"""
import argparse
import sys
import time

import torch
from torch import nn

from common import CharLM, SeriesModel, describe_peer, emit

WARM_UP_STEPS = 3


def char_lm(generator):
    """The char-LM of ../../shared/performance.md: V=60, E=50, H=128, B=128, T=100, clip 5."""
    V, B, T = 60, 128, 100
    model = CharLM(V, 50, 128)
    x = torch.randint(0, V, (B, T), generator=generator)
    y = torch.randint(0, V, (B,), generator=generator)
    return model, lambda: nn.functional.cross_entropy(model(x), y), 5.0


def time_series(generator):
    """10 features -> 4 x LSTM 64 -> dense 1, MSE, B=64, T=30, no clipping."""
    B, T, I = 64, 30, 10
    model = SeriesModel(I, 64, 4, 1)
    x = torch.randn(B, T, I, generator=generator)
    y = torch.randn(B, 1, generator=generator)
    return model, lambda: nn.functional.mse_loss(model(x), y), None


WORKLOADS = {'charLm': char_lm, 'timeSeries': time_series}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--workload', choices=sorted(WORKLOADS), required=True)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model, loss_of, clip_norm = WORKLOADS[args.workload](torch.Generator().manual_seed(42))
    parameters = list(model.parameters())
    # Keras's epsilon, as our Adam: it does not change the cost of a step.
    optimizer = torch.optim.Adam(parameters, lr=0.001, eps=1e-7)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_of().backward()
        if clip_norm is not None:
            nn.utils.clip_grad_norm_(parameters, clip_norm)
        optimizer.step()

    for _ in range(WARM_UP_STEPS):
        step()
    emit({'ready': True, 'peer': describe_peer()})
    for line in sys.stdin:
        command = line.split()
        if len(command) != 2 or command[0] != 'run':
            raise SystemExit(f'torch_step.py: expected "run N" on stdin, got {line.strip()!r}')
        times = []
        for _ in range(int(command[1])):
            started = time.perf_counter()
            step()
            times.append((time.perf_counter() - started) * 1000)
        emit({'ms': times})


if __name__ == '__main__':
    main()
