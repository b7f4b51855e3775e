"""The npm-start char-LM trained with PyTorch on exactly our data, for issue 13's learning
comparison: the training windows of each step and the validation windows come from the
files bench/learning-data.ts writes from our packed dataset (see its header for the
format), the model, optimizer, batch and clipping from the spec recorded in them.

  python3 torch_learning.py --data DIR --steps 100,300 [--seed 42] [--init pytorch|keras]
                            [--output last|sequence] [--threads 1] [--epsilon E]

Trains to the largest step asked and prints one JSON line with the validation loss
(nats/char: the mean cross-entropy over the validation windows' predicted positions, the
last one with 'last', all T with 'sequence') after each step asked (0 = before training).
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from torch import nn

from common import CharLM, describe_peer, emit, keras_init

FORMAT = 'lstm-runner/learning-data'
VERSION = 1
DTYPES = {'uint8': '<u1', 'uint16': '<u2', 'int32': '<i4'}
EVALUATION_BATCH = 256


class LearningData:
    """The files of bench/learning-data.ts, as tensors."""

    def __init__(self, directory):
        with open(os.path.join(directory, 'meta.json')) as meta_file:
            meta = json.load(meta_file)
        if meta.get('format') != FORMAT or meta.get('version') != VERSION:
            raise SystemExit(f'{directory}/meta.json: expected format {FORMAT} version {VERSION}, got {meta.get("format")} {meta.get("version")}')
        self.meta = meta

        def array(name, dtype):
            return torch.from_numpy(np.fromfile(os.path.join(directory, name), dtype=dtype).astype(np.int64))

        self.tokens = array(meta['tokens']['file'], DTYPES[meta['tokens']['dtype']])
        if len(self.tokens) != meta['tokens']['length']:
            raise SystemExit(f'{directory}/{meta["tokens"]["file"]}: {len(self.tokens)} tokens, meta.json says {meta["tokens"]["length"]}')
        self.train_starts = array(meta['train']['starts'], '<i4')
        self.step_offsets = array(meta['train']['steps'], '<i4')
        self.validation_starts = array(meta['validation']['starts'], '<i4')
        self.T = meta['lookBack']
        self.horizon = meta['horizon']

    @property
    def steps(self):
        return len(self.step_offsets) - 1

    def windows(self, starts, output):
        """starts [B] -> inputs [B,T] and targets: [B] ('last') or [B,T] ('sequence')."""
        rows = starts[:, None] + torch.arange(self.T)
        if output == 'last':
            return self.tokens[rows], self.tokens[starts + self.T + self.horizon - 1]
        return self.tokens[rows], self.tokens[rows + 1]

    def batch(self, step, output):
        return self.windows(self.train_starts[self.step_offsets[step]:self.step_offsets[step + 1]], output)


def cross_entropy_sum(logits, targets):
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction='sum')


@torch.no_grad()
def validation_loss(model, data, output):
    """Mean nats/char over the predicted positions of the validation windows; with
    'sequence' also the mean over their last positions alone (what 'last' predicts)."""
    total, count, last_total = 0.0, 0, 0.0
    for first in range(0, len(data.validation_starts), EVALUATION_BATCH):
        inputs, targets = data.windows(data.validation_starts[first:first + EVALUATION_BATCH], output)
        logits = model(inputs)
        total += cross_entropy_sum(logits, targets).item()
        count += targets.numel()
        if output == 'sequence':
            last_total += cross_entropy_sum(logits[:, -1], targets[:, -1]).item()
    windows = len(data.validation_starts)
    return total / count, (last_total / windows if output == 'sequence' else total / count)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', required=True, help='a directory written by bench/learning-data.ts')
    parser.add_argument('--steps', required=True, help='comma-separated steps to validate after, e.g. 100,300')
    parser.add_argument('--seed', type=int, default=42, help='the initialisation seed')
    parser.add_argument('--init', choices=('pytorch', 'keras'), default='pytorch')
    parser.add_argument('--output', choices=('last', 'sequence'), default='last')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--epsilon', type=float, help="Adam's epsilon instead of the spec's")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = LearningData(args.data)
    meta = data.meta
    try:
        checkpoints = sorted({int(step) for step in args.steps.split(',')})
    except ValueError:
        parser.error(f'--steps must be comma-separated integers, got {args.steps!r}')
    if checkpoints[0] < 0 or checkpoints[-1] > data.steps:
        parser.error(f'--steps must lie in [0, {data.steps}] (the steps {args.data} holds), got {args.steps}')
    if args.output == 'sequence' and data.horizon != 1:
        parser.error(f"--output sequence predicts the next character: the data's horizon is {data.horizon}")
    layers = meta['model']['layers']
    if len(set(layers)) != 1:
        parser.error(f'stacked layers of different widths are not supported here: {layers}')

    torch.manual_seed(args.seed)
    model = CharLM(meta['vocabularySize'], meta['model']['embedding'], layers[0], args.output, len(layers))
    if args.init == 'keras':
        keras_init(model)
    parameters = list(model.parameters())
    spec_optimizer = meta['training']['optimizer']
    if spec_optimizer['type'] == 'adam':
        epsilon = spec_optimizer['epsilon'] if args.epsilon is None else args.epsilon
        optimizer = torch.optim.Adam(parameters, lr=spec_optimizer['learningRate'], betas=(spec_optimizer['beta1'], spec_optimizer['beta2']), eps=epsilon)
    else:
        optimizer = torch.optim.SGD(parameters, lr=spec_optimizer['learningRate'], momentum=spec_optimizer['momentum'])
    clip_norm = meta['training']['clipNorm']

    losses, last_position, train_seconds = {}, {}, 0.0
    for step in range(checkpoints[-1] + 1):
        if step in checkpoints:
            losses[step], last_position[step] = validation_loss(model, data, args.output)
        if step == checkpoints[-1]:
            break
        started = time.perf_counter()
        inputs, targets = data.batch(step, args.output)
        optimizer.zero_grad(set_to_none=True)
        logits = model(inputs)
        (cross_entropy_sum(logits, targets) / targets.numel()).backward()
        if clip_norm is not None:
            nn.utils.clip_grad_norm_(parameters, clip_norm)
        optimizer.step()
        train_seconds += time.perf_counter() - started

    result = {
        'validationLoss': {str(step): round(loss, 4) for step, loss in losses.items()},
        'init': args.init,
        'output': args.output,
        'seed': args.seed,
        'shuffleSeed': meta['training']['seed'],
        'optimizer': {**spec_optimizer, **({'epsilon': epsilon} if spec_optimizer['type'] == 'adam' else {})},
        'clipNorm': clip_norm,
        'validationWindows': len(data.validation_starts),
        'datasetId': meta['datasetId'],
        'trainSeconds': round(train_seconds, 1),
        'peer': describe_peer(),
    }
    if args.output == 'sequence':
        result['validationLossLastPosition'] = {str(step): round(loss, 4) for step, loss in last_position.items()}
    emit(result)


if __name__ == '__main__':
    main()
