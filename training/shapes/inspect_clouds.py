"""Looks at generated clouds beside held-out ones: a sample sheet (PNG, three orthographic views per cloud) and
each class's point-spacing ratio (sampling.point_spacing: generated over held-out median; > 1 fuzzy, < 1
clumped). 1-NNA-CD alone can miss both: clouds far from everything, each other included, score well on it.

The clouds are the SDK's own output, PLY files as `diffusekit points` writes them, or the sample clouds a
training run's sweep saved (samples_rank0.npz: the first setting's first clouds of every class):
    for c in sphere cube ...; do diffusekit points $c --count 4 --seed 0 --model shapes --out clouds/shipped/$c; done
    python3 training/shapes/inspect_clouds.py --out sheet.png shipped=clouds/shipped other=clouds/other run=OUT/samples_rank0.npz
(needs numpy, torch and Pillow: /usr/bin/python3 with Debian's python3-torch and python3-pil).
"""
import argparse
import glob
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sampling as SM  # noqa: E402
import shapes_data as S  # noqa: E402

PLY_TYPES = {'float': 'f4', 'float32': 'f4', 'double': 'f8', 'uchar': 'u1', 'uint8': 'u1', 'int': 'i4', 'short': 'i2', 'ushort': 'u2'}


def read_ply_xyz(path):
    """xyz [n, 3] of a binary little-endian PLY with one vertex element (what the SDK writes)."""
    with open(path, 'rb') as f:
        data = f.read()
    end = data.index(b'end_header\n') + len(b'end_header\n')
    header = data[:end].decode('ascii').splitlines()
    if 'format binary_little_endian 1.0' not in header:
        raise ValueError(f'{path}: only binary little-endian PLY files are read here')
    count, fields = 0, []
    for line in header:
        p = line.split()
        if p[:2] == ['element', 'vertex']:
            count = int(p[2])
        elif p[:1] == ['property'] and len(p) == 3:
            fields.append((p[2], '<' + PLY_TYPES[p[1]]))
    v = np.frombuffer(data, dtype=np.dtype(fields), count=count, offset=end)
    return np.stack([v['x'], v['y'], v['z']], 1).astype(np.float32)


def load_clouds(source, cls):
    """[n, N, 3]: a class's clouds from a folder of PLY files per class, or from a sweep's samples .npz."""
    if source.endswith('.npz'):
        z = np.load(source)
        per = z['clouds'].shape[0] // len(S.CLASSES)  # sweep.run_sweep keeps the same number of every class, in order
        k = S.CLASSES.index(cls)
        return z['clouds'][k * per:(k + 1) * per, :3].transpose(0, 2, 1).astype(np.float32)
    files = sorted(glob.glob(os.path.join(source, cls, '*.ply')))
    if not files:
        raise SystemExit(f'no PLY files in {os.path.join(source, cls)}')
    return np.stack([read_ply_xyz(f) for f in files])


def panel(xyz, size=72):
    """Three orthographic views (front x-y, side z-y, top x-z) of a cloud in the unit frame, black on white."""
    im = np.full((size, 3 * size), 255, np.uint8)
    for j, (a, b) in enumerate([(0, 1), (2, 1), (0, 2)]):
        u = ((xyz[:, a] + 1.05) / 2.1 * (size - 1)).astype(int).clip(0, size - 1)
        v = ((1.05 - xyz[:, b]) / 2.1 * (size - 1)).astype(int).clip(0, size - 1)
        im[v, u + j * size] = 0
    im[:, ::size] = 180
    return im


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('sets', nargs='+', help='name=folder (one sub-folder of PLY files per class) or name=samples.npz (a sweep\'s)')
    ap.add_argument('--out', required=True, help='the sample sheet (PNG)')
    ap.add_argument('--classes', default=','.join(S.CLASSES))
    ap.add_argument('--per-row', type=int, default=4)
    ap.add_argument('--heldout', type=int, default=20, help='held-out clouds per class for the spacing reference')
    ap.add_argument('--nna', action='store_true',
                    help="also PointFlow's metrics per class against as many held-out clouds as there are generated ones, "
                         "with both halves of 1-NNA (small sets: a few clouds move it by many points)")
    ap.add_argument('--meshes', default=S.DEFAULT_MESHES)
    a = ap.parse_args()
    from PIL import Image
    meshes = S.load_meshes(a.meshes)
    classes = a.classes.split(',')
    sets = [s.split('=', 1) for s in a.sets]
    rows, ratios, nna = [], {name: {} for name, _ in sets}, {name: {} for name, _ in sets}
    for c in classes:
        held = np.stack([S.generate_cloud(c, 'heldout', i, meshes)[0] for i in range(a.heldout)])
        ref = float(SM.point_spacing(torch.from_numpy(held)).median())
        rows.append(np.concatenate([panel(x) for x in held[:a.per_row]], 1))
        for name, folder in sets:
            clouds = load_clouds(folder, c)
            ratios[name][c] = float(SM.point_spacing(torch.from_numpy(clouds)).median()) / ref
            if a.nna:
                g = torch.from_numpy(clouds)
                r = torch.from_numpy(np.stack([S.generate_cloud(c, 'heldout', i, meshes)[0] for i in range(len(clouds))]))
                cd = lambda x, y: SM.chamfer_matrix(x, y, rows=1, cols=1)  # noqa: E731  (one pair at a time on a CPU)
                nna[name][c] = SM.pointflow_metrics(cd(g, r), cd(g, g), cd(r, r))
            sheet = [panel(x) for x in clouds[:a.per_row]]
            sheet += [np.full_like(sheet[0], 255)] * (a.per_row - len(sheet))
            rows.append(np.concatenate(sheet, 1))
        rows.append(np.full((4, rows[-1].shape[1]), 90, np.uint8))
    Image.fromarray(np.concatenate(rows, 0)).save(a.out, optimize=True)
    print(f'{a.out}: per class, rows = held-out, then ' + ', '.join(name for name, _ in sets))
    print('point-spacing ratio (generated / held-out median; > 1 fuzzy, < 1 clumped):')
    for name, _ in sets:
        r = ratios[name]
        print(f'  {name}: mean {np.mean(list(r.values())):.2f}; ' + ', '.join(f'{c} {v:.2f}' for c, v in r.items()))
    for name, _ in sets:
        for c, m in nna[name].items():
            print(f'  {name} {c}: 1-NNA {m["nna"] * 100:.1f}% (generated side {m["nna_gen"] * 100:.1f}%, held-out side '
                  f'{m["nna_ref"] * 100:.1f}%) COV {m["cov"] * 100:.1f}% MMD {m["mmd"]:.4f}')


if __name__ == '__main__':
    main()
