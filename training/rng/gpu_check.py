# Reference values of torch.randn from a real GPU (and torch's CPU path) for the generators in
# src/core/rng: more seeds than the conformance set (including seeds >= 2^32, where the Philox key's
# high word is used) and draws large enough that each CUDA thread loops (more than
# SMs * 2048 * 4 values). Run on the GPU machine: python3 training/rng/gpu_check.py > randn_extra.json
# (training/rng/gpu_job.sh does), then compare here: npx tsx training/rng/gpu_compare.ts randn_extra.json
import json
import random

import torch

props = torch.cuda.get_device_properties(0)
threads_per_iteration = props.multi_processor_count * props.max_threads_per_multi_processor
rng = random.Random(2026)

SEEDS = [1, 42, 2**32 - 1, 2**32, 2**32 + 7, 2**40 + 3, 2**53 - 1]
SHAPES = [[1], [15], [16], [17], [33], [1000], [2, 4, 96, 96], [1200000], [3, 1000000]]


def picks(n):
    """Indices to keep: both ends, around each CUDA loop boundary (4 values per thread and pass), a random sample."""
    idx = set(range(min(64, n))) | set(range(max(0, n - 64), n))
    step = 4 * threads_per_iteration
    for b in range(step, n, step):
        idx |= set(range(max(0, b - 16), min(n, b + 16)))
    idx |= {rng.randrange(n) for _ in range(min(n, 64))}
    return sorted(idx)


cases = []
for seed in SEEDS:
    for shape in SHAPES:
        row = {'seed': seed, 'shape': shape}
        for dev in ['cpu', 'cuda']:
            g = torch.Generator(dev).manual_seed(seed)
            draws = [torch.randn(shape, generator=g, device=dev).cpu().flatten() for _ in range(2)]
            for key, t in zip(('first', 'second'), draws):
                k = key if dev == 'cpu' else 'cuda_' + key
                idx = picks(t.numel())
                row[k + '_idx'] = idx
                row[k] = [t[i].item() for i in idx]
                row[k + '_sum'] = t.double().sum().item()
        cases.append(row)
print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda, 'gpu': props.name, 'sms': props.multi_processor_count,
                  'max_threads_per_sm': props.max_threads_per_multi_processor, 'cases': cases}))
