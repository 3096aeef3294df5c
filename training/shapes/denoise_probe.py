"""How much of the noise a shapes network removes near the end of sampling, measured on the surface.

For a held-out cloud of a class, dense surface samples (40 000 points from the generator, one frame) are
split into a clean cloud x0 (2048 points) and a surface reference (the rest). x0 is noised at sigma, the
network makes one x0 estimate (v-prediction, diffusers' discrete timestep for sigma, no guidance), and the
probe reports the RMS distance to the surface of the noisy points and of the estimate. Only the distance to
the surface can be recovered: where along it a point started cannot, so per-point error would mislead.
An estimate that keeps most of the input's distance leaves fuzz that the sampler cannot remove later.

    python3 training/shapes/denoise_probe.py models/shapes/unet/model.onnx [more.onnx ...]
(ONNX Runtime, numpy and scipy; the dev VM's pyenv python3 has them.)
"""
import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes_data as S  # noqa: E402


def log_sigmas():
    ac = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    return np.log(np.sqrt((1 - ac) / ac))


def sigma_to_t(sigma, ls):
    """diffusers' _sigma_to_t (linear in log sigma between neighbouring timesteps): a numpy copy of
    sampling.sigma_to_t, since this probe runs where torch is not (test_shapes_tools.py checks they agree)."""
    x = math.log(sigma)
    i = int(np.clip(np.searchsorted(ls, x, side='right') - 1, 0, len(ls) - 2))
    w = np.clip((ls[i] - x) / (ls[i] - ls[i + 1]), 0, 1)
    return i + w


def probe(session, cls, sigmas, meshes, index=0, seed=0):
    from scipy.spatial import cKDTree
    dense, rgb = S.generate_cloud(cls, 'heldout', index, meshes, n=40000)
    xyz, surface = dense[:S.NUM_POINTS], dense[S.NUM_POINTS:]
    tree = cKDTree(surface)
    x0 = np.concatenate([xyz, rgb[:S.NUM_POINTS] * 2 - 1], 1).T[None].astype(np.float32)
    ls = log_sigmas()
    rows = []
    for s in sigmas:
        x = x0 + s * np.random.default_rng(seed).standard_normal(x0.shape).astype(np.float32)
        v = session.run(None, {'sample': (x / math.sqrt(s * s + 1)).astype(np.float32),
                               'timestep': np.array([sigma_to_t(s, ls)], np.float32),
                               'class_labels': np.array([S.CLASSES.index(cls)], np.int64)})[0]
        est = v * (-s / math.sqrt(s * s + 1)) + x / (s * s + 1)
        rms = lambda p: float(np.sqrt((tree.query(p[0, :3].T)[0] ** 2).mean()))  # noqa: E731
        rows.append((s, rms(x), rms(est)))
    return float(np.sqrt((tree.query(xyz)[0] ** 2).mean())), rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('onnx', nargs='+')
    ap.add_argument('--classes', default='sphere,cube,chair,bunny')
    ap.add_argument('--sigmas', default='0.01,0.03,0.1,0.3')
    ap.add_argument('--meshes', default=S.DEFAULT_MESHES)
    a = ap.parse_args()
    import onnxruntime as ort
    meshes = S.load_meshes(a.meshes)
    sigmas = [float(v) for v in a.sigmas.split(',')]
    for path in a.onnx:
        session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
        print(f'== {path}: RMS distance to the surface, noisy input -> x0 estimate')
        for cls in a.classes.split(','):
            floor, rows = probe(session, cls, sigmas, meshes)
            print(f'{cls:8s} ' + '  '.join(f'sigma {s:g}: {i:.4f} -> {e:.4f}' for s, i, e in rows) + f'  (clean {floor:.4f})')


if __name__ == '__main__':
    main()
