"""What the PyTorch peer scripts share: the two reference networks, Keras's initialisation,
the peer's description (versions and the BLAS actually loaded), and JSON lines on stdout.

Shapes use the project's keys: B batch, T time, I input, H hidden, E embedding,
V vocabulary, K outputs.
"""
import ctypes
import json
import os
import subprocess
import sys

import torch
from torch import nn


class CharLM(nn.Module):
    """tokens [B,T] -> embedding E -> `layers` stacked LSTMs of H -> dense over V: logits
    [B,V] of the last step ('last': the character after the window) or [B,T,V] of every
    step ('sequence')."""

    def __init__(self, V, E, H, output='last', layers=1):
        super().__init__()
        if output not in ('last', 'sequence'):
            raise ValueError(f"output must be 'last' or 'sequence', got {output!r}")
        self.output = output
        self.embedding = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, H, num_layers=layers, batch_first=True)
        self.dense = nn.Linear(H, V)

    def forward(self, tokens):
        hidden, _ = self.lstm(self.embedding(tokens))
        return self.dense(hidden[:, -1] if self.output == 'last' else hidden)


class SeriesModel(nn.Module):
    """features [B,T,I] -> `layers` stacked LSTMs of H -> dense K on the last step: [B,K]."""

    def __init__(self, I, H, layers, K):
        super().__init__()
        self.lstm = nn.LSTM(I, H, num_layers=layers, batch_first=True)
        self.dense = nn.Linear(H, K)

    def forward(self, features):
        hidden, _ = self.lstm(features)
        return self.dense(hidden[:, -1])


@torch.no_grad()
def keras_init(model):
    """Keras's defaults, as lstm-core's initializeParameters draws them: glorot uniform
    kernels, orthogonal recurrent kernels, zero biases but the forget gate's at 1, embedding
    uniform in +-0.05. PyTorch keeps its weights transposed ([4H,I], [4H,H], [K,H]), which
    xavier_uniform_ and orthogonal_ handle: glorot's limit is symmetric in the fans, and
    orthonormal columns of [4H,H] are Keras's orthonormal rows of [H,4H]. PyTorch's gate
    order i, f, g, o is Keras's i, f, c, o; it has two biases, b_ih takes the forget 1s."""
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            nn.init.uniform_(module.weight, -0.05, 0.05)
        elif isinstance(module, nn.LSTM):
            H = module.hidden_size
            for name, weight in module.named_parameters():
                if name.startswith('weight_ih'):
                    nn.init.xavier_uniform_(weight)
                elif name.startswith('weight_hh'):
                    nn.init.orthogonal_(weight)
                else:
                    nn.init.zeros_(weight)
                    if name.startswith('bias_ih'):
                        weight[H:2 * H] = 1.0
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)


def loaded_blas():
    """The BLAS library this process mapped and its configuration line: OpenBLAS names its
    version and the kernel set it chose (a generic set like Prescott means it did not know
    the CPU); anything else is likely the slow reference BLAS."""
    with open('/proc/self/maps') as maps:
        paths = sorted({line.split()[-1] for line in maps if 'blas' in os.path.basename(line.split()[-1])})
    for path in paths:
        try:
            library = ctypes.CDLL(path)
            get_config = library.openblas_get_config
        except (OSError, AttributeError):
            continue
        get_config.restype = ctypes.c_char_p
        return {'library': path, 'config': get_config().decode(), 'threads': library.openblas_get_num_threads()}
    if paths:
        return {'library': paths[0], 'config': 'not OpenBLAS (the reference BLAS?)', 'threads': None}
    return {'library': None, 'config': 'no BLAS library loaded', 'threads': None}


def debian_version(package):
    try:
        out = subprocess.run(['dpkg-query', '-W', '-f=${Version}', package], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def describe_peer():
    """Versions and threads of this PyTorch, for the bench's output."""
    blas = loaded_blas()
    return {
        'torch': torch.__version__,
        'debianPackage': debian_version('python3-torch'),
        'python': sys.version.split()[0],
        'blas': blas['config'],
        'blasLibrary': blas['library'],
        'blasThreads': blas['threads'],
        'torchThreads': torch.get_num_threads(),
        'openblasCoretype': os.environ.get('OPENBLAS_CORETYPE'),
    }


def emit(message):
    """One JSON line on stdout, flushed: the bench reads them as they come."""
    sys.stdout.write(json.dumps(message) + '\n')
    sys.stdout.flush()
