"""The metric's floor and its sensitivity to surface noise: PointFlow's 1-NNA-CD, COV-CD and MMD-CD between
two disjoint sets of real clouds from the data generator (the held-out set, seed stream 2, against training-
stream clouds of indices 100000+, never used in training), optionally with Gaussian jitter added to one set.
CPU only (scipy k-d trees), the same Chamfer form as sampling.py.

  python3 training/shapes/real_vs_real.py [--n 50] [--classes sphere,chair] [--jitter 0,0.02,0.04]
      [--heldout training/data/shapes_heldout.bin] [--meshes training/data/shapes_meshes.json]

(--heldout: the file `python3 training/shapes/shapes_data.py --format bin --out ...` writes.)
"""
import argparse
import json
import os
import sys
from multiprocessing import Pool

import numpy as np
from scipy.spatial import cKDTree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes_data as S  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def chamfer_matrix(clouds):
    trees = [cKDTree(c) for c in clouds]
    m = len(clouds)
    d = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            d[i, j] = d[j, i] = (trees[j].query(clouds[i])[0] ** 2).mean() + (trees[i].query(clouds[j])[0] ** 2).mean()
    return d


def metrics(d, n):
    """d: Chamfer matrix of [set B (n), set A (n)]; B plays the generated set."""
    d = d.copy()
    np.fill_diagonal(d, np.inf)
    own = np.arange(2 * n) < n
    nna = float(((d.argmin(1) < n) == own).mean())
    cov = len(set(d[:n, n:].argmin(1))) / n
    mmd = float(d[:n, n:].min(0).mean())
    return nna, cov, mmd


def job(args):
    cls, sigma, n, held_path, meshes_path = args
    held = np.fromfile(held_path, '<f4').reshape(-1, S.NUM_POINTS, 6)
    labels = np.array(json.load(open(held_path + '.json'))['labels'])
    a = held[labels == S.CLASSES.index(cls)][:n, :, :3]
    meshes = S.load_meshes(meshes_path)
    b = np.stack([S.generate_cloud(cls, 'train', 100000 + i, meshes)[0] for i in range(n)])
    if sigma:
        b = b + np.random.default_rng(7).normal(0, sigma, b.shape).astype(np.float32)
    return cls, sigma, metrics(chamfer_matrix(np.concatenate([b, a])), n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=50)
    ap.add_argument('--classes', default='sphere,chair,bunny,helix')
    ap.add_argument('--jitter', default='0,0.02')
    ap.add_argument('--heldout', default=os.path.join(HERE, '..', 'data', 'shapes_heldout.bin'))
    ap.add_argument('--meshes', default=S.DEFAULT_MESHES)
    ap.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    jobs = [(c, float(s), a.n, a.heldout, a.meshes) for c in a.classes.split(',') for s in a.jitter.split(',')]
    with Pool(a.workers) as pool:
        for cls, sigma, (nna, cov, mmd) in pool.imap(job, jobs):
            print(f'{cls:9s} jitter {sigma:.3f}: 1-NNA {nna * 100:5.1f}%  COV {cov * 100:4.0f}%  MMD {mmd:.4f}', flush=True)


if __name__ == '__main__':
    main()
