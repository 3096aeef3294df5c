"""Procedural point-cloud data for the `shapes` model.

Every cloud is 2048 points sampled uniformly (area-weighted) on the surface of a shape assembled from
parts with random proportions, orientations and colours, plus the `bunny` and `teapot` meshes from npm.
Coordinates are y-up, centred on the bounding-box centre and scaled so that the farthest point is at
distance 1 (the unit bounding sphere); colours are RGB in [0, 1].

Reproducibility: cloud (split, class, index) is drawn from numpy's PCG64 seeded with
[SPLIT_SEED[split], class_index, index], so the held-out split (seed 2) never coincides with the
training split (seed 1) and any cloud can be regenerated on its own.

CLI: python3 training/shapes/shapes_data.py --split heldout --per-class 100 --out training/data/shapes_heldout.npz
"""
import argparse
import json
import math
import os
import sys

import numpy as np

CLASSES = [
    'sphere', 'cube', 'torus', 'cylinder', 'cone', 'pyramid', 'helix',
    'chair', 'table', 'lamp', 'mug', 'airplane', 'bunny', 'teapot',
]
NUM_POINTS = 2048
SPLIT_SEED = {'train': 1, 'heldout': 2}
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MESHES = os.path.join(HERE, '..', 'data', 'shapes_meshes.json')


# ---------------------------------------------------------------- rotations

def rot_y(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_x(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_z(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def random_rotation(rng):
    """Uniform on SO(3) (QR of a Gaussian matrix with the sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def yaw_tilt(rng, max_tilt):
    """A random turn about the vertical axis and a small tilt: objects keep their up direction."""
    return rot_y(rng.uniform(0, 2 * math.pi)) @ rot_x(rng.uniform(-max_tilt, max_tilt)) @ rot_z(rng.uniform(-max_tilt, max_tilt))


# ---------------------------------------------------------------- surface samplers (local frames)
# Each part is (area, sampler(rng, n) -> (n, 3)), so a shape splits its points over parts by area.

def box_part(sx, sy, sz):
    faces = [(sy * sz, 0), (sy * sz, 0), (sx * sz, 1), (sx * sz, 1), (sx * sy, 2), (sx * sy, 2)]
    areas = np.array([f[0] for f in faces])
    half = np.array([sx, sy, sz]) / 2

    def sample(rng, n):
        face = rng.choice(6, size=n, p=areas / areas.sum())
        p = rng.uniform(-1, 1, size=(n, 3)) * half
        axis = face // 2
        sign = np.where(face % 2 == 0, 1.0, -1.0)
        p[np.arange(n), axis] = sign * half[axis]
        return p

    return areas.sum(), sample


def ellipsoid_part(a, b, c):
    # Knud Thomsen's approximation of the surface area; sampling by radial projection is close to
    # uniform for the mild aspect ratios used here.
    pw = 1.6075
    area = 4 * math.pi * (((a * b) ** pw + (a * c) ** pw + (b * c) ** pw) / 3) ** (1 / pw)

    def sample(rng, n):
        v = rng.standard_normal((n, 3))
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v * np.array([a, b, c])

    return area, sample


def frustum_part(r0, r1, h, bottom_cap=True, top_cap=True):
    """Surface of revolution about y from radius r0 at y=0 to r1 at y=h (cylinder, cone, lamp shade)."""
    slant = math.hypot(h, r1 - r0)
    lateral = math.pi * (r0 + r1) * slant
    caps = [(math.pi * r0 * r0 if bottom_cap else 0.0, 0.0, r0), (math.pi * r1 * r1 if top_cap else 0.0, h, r1)]
    areas = np.array([lateral, caps[0][0], caps[1][0]])

    def sample(rng, n):
        which = rng.choice(3, size=n, p=areas / areas.sum())
        out = np.empty((n, 3))
        # lateral: height fraction s with density proportional to the radius r(s), by rejection
        m = int((which == 0).sum())
        s = np.empty(0)
        rmax = max(r0, r1, 1e-9)
        while s.size < m:
            cand = rng.uniform(0, 1, size=2 * (m - s.size) + 8)
            keep = rng.uniform(0, rmax, size=cand.size) < (r0 + (r1 - r0) * cand)
            s = np.concatenate([s, cand[keep]])
        s = s[:m]
        theta = rng.uniform(0, 2 * math.pi, size=m)
        r = r0 + (r1 - r0) * s
        out[which == 0] = np.stack([r * np.cos(theta), s * h, r * np.sin(theta)], axis=1)
        for k, (_, y, rad) in ((1, caps[0]), (2, caps[1])):
            mk = int((which == k).sum())
            rr = rad * np.sqrt(rng.uniform(0, 1, size=mk))
            tt = rng.uniform(0, 2 * math.pi, size=mk)
            out[which == k] = np.stack([rr * np.cos(tt), np.full(mk, y), rr * np.sin(tt)], axis=1)
        return out

    return areas.sum(), sample


def torus_part(R, r, arc=2 * math.pi):
    """Torus in the xz plane (ring about y); `arc` < 2π gives a handle-like partial ring."""
    area = arc * R * 2 * math.pi * r

    def sample(rng, n):
        out = np.empty((0, 3))
        while out.shape[0] < n:
            k = 2 * (n - out.shape[0]) + 8
            u = rng.uniform(0, arc, size=k)
            v = rng.uniform(0, 2 * math.pi, size=k)
            keep = rng.uniform(0, R + r, size=k) < R + r * np.cos(v)
            u, v = u[keep], v[keep]
            ring = R + r * np.cos(v)
            out = np.concatenate([out, np.stack([ring * np.cos(u), r * np.sin(v), ring * np.sin(u)], axis=1)])
        return out[:n]

    return area, sample


def tube_part(curve, radius, samples=400):
    """A tube of `radius` around a parametric curve t in [0,1] -> (3,), uniform in arc length."""
    t = np.linspace(0, 1, samples)
    pts = np.array([curve(x) for x in t])
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    length = seg.sum()

    def sample(rng, n):
        i = rng.choice(samples - 1, size=n, p=seg / length)
        f = rng.uniform(0, 1, size=(n, 1))
        c = pts[i] * (1 - f) + pts[i + 1] * f
        tan = pts[i + 1] - pts[i]
        tan /= np.linalg.norm(tan, axis=1, keepdims=True) + 1e-12
        ref = np.where(np.abs(tan[:, 1:2]) < 0.9, np.array([[0.0, 1.0, 0.0]]), np.array([[1.0, 0.0, 0.0]]))
        nrm = np.cross(tan, ref)
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
        bin_ = np.cross(tan, nrm)
        a = rng.uniform(0, 2 * math.pi, size=(n, 1))
        return c + radius * (np.cos(a) * nrm + np.sin(a) * bin_)

    return 2 * math.pi * radius * length, sample


def mesh_part(positions, cells):
    v = np.asarray(positions, dtype=np.float64)
    f = np.asarray(cells, dtype=np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    tri_area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    total = tri_area.sum()

    def sample(rng, n):
        i = rng.choice(len(f), size=n, p=tri_area / total)
        u = rng.uniform(0, 1, size=(n, 1))
        w = rng.uniform(0, 1, size=(n, 1))
        flip = (u + w) > 1
        u = np.where(flip, 1 - u, u)
        w = np.where(flip, 1 - w, w)
        return a[i] + u * (b[i] - a[i]) + w * (c[i] - a[i])

    return total, sample


def pyramid_part(w, d, h):
    hw, hd = w / 2, d / 2
    base = [(-hw, 0, -hd), (hw, 0, -hd), (hw, 0, hd), (-hw, 0, hd)]
    verts = base + [(0, h, 0)]
    cells = [(0, 1, 2), (0, 2, 3), (0, 1, 4), (1, 2, 4), (2, 3, 4), (3, 0, 4)]
    return mesh_part(verts, cells)


# ---------------------------------------------------------------- assembly

class Shape:
    """Parts placed by a rigid transform, each with a colour group."""

    def __init__(self):
        self.parts = []  # (area, sampler, rotation, translation, colour)

    def add(self, part, colour, rot=None, at=(0.0, 0.0, 0.0)):
        area, sampler = part
        rot = np.eye(3) if rot is None else rot
        # Areas are invariant under rotation and translation; parts are built at final scale.
        self.parts.append((area, sampler, rot, np.asarray(at, dtype=np.float64), np.asarray(colour)))

    def sample(self, rng, n):
        areas = np.array([p[0] for p in self.parts])
        counts = rng.multinomial(n, areas / areas.sum())
        xyz, rgb = [], []
        for (area, sampler, rot, at, colour), k in zip(self.parts, counts):
            if k == 0:
                continue
            p = sampler(rng, int(k)) @ rot.T + at
            xyz.append(p)
            rgb.append(np.broadcast_to(colour, (int(k), 3)))
        return np.concatenate(xyz), np.concatenate(rgb)


def random_colour(rng):
    """A saturated-ish colour: random hue, saturation 0.35..0.95, value 0.45..0.95 (HSV -> RGB)."""
    h, s, v = rng.uniform(0, 1), rng.uniform(0.35, 0.95), rng.uniform(0.45, 0.95)
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def make_shape(cls, rng, meshes):
    s = Shape()
    col = lambda: random_colour(rng)  # noqa: E731
    if cls == 'sphere':
        s.add(ellipsoid_part(*rng.uniform(0.85, 1.15, size=3)), col(), random_rotation(rng))
    elif cls == 'cube':
        s.add(box_part(*rng.uniform(0.75, 1.25, size=3)), col(), random_rotation(rng))
    elif cls == 'torus':
        s.add(torus_part(1.0, rng.uniform(0.18, 0.45)), col(), yaw_tilt(rng, 0.6))
    elif cls == 'cylinder':
        r, h = rng.uniform(0.3, 0.7), rng.uniform(0.8, 2.0)
        s.add(frustum_part(r, r, h), col(), yaw_tilt(rng, 0.5), at=(0, -h / 2, 0))
    elif cls == 'cone':
        r, h = rng.uniform(0.4, 0.8), rng.uniform(0.8, 1.8)
        s.add(frustum_part(r, 0.0, h, top_cap=False), col(), yaw_tilt(rng, 0.5))
    elif cls == 'pyramid':
        s.add(pyramid_part(rng.uniform(0.8, 1.4), rng.uniform(0.8, 1.4), rng.uniform(0.6, 1.5)), col(), yaw_tilt(rng, 0.3))
    elif cls == 'helix':
        R, turns, pitch = rng.uniform(0.45, 0.8), rng.uniform(2.0, 4.0), rng.uniform(0.35, 0.7)
        phase = rng.uniform(0, 2 * math.pi)
        curve = lambda t: np.array([R * math.cos(phase + 2 * math.pi * turns * t), pitch * turns * t, R * math.sin(phase + 2 * math.pi * turns * t)])  # noqa: E731
        s.add(tube_part(curve, rng.uniform(0.06, 0.13)), col(), yaw_tilt(rng, 0.3))
    elif cls == 'chair':
        w, d, t = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2), rng.uniform(0.06, 0.14)
        leg_h, leg_t = rng.uniform(0.6, 1.1), rng.uniform(0.06, 0.12)
        back_h = rng.uniform(0.6, 1.2)
        seat_c, leg_c = col(), col()
        s.add(box_part(w, t, d), seat_c, at=(0, leg_h + t / 2, 0))
        for sx in (-1, 1):
            for sz in (-1, 1):
                s.add(box_part(leg_t, leg_h, leg_t), leg_c, at=(sx * (w / 2 - leg_t / 2), leg_h / 2, sz * (d / 2 - leg_t / 2)))
        s.add(box_part(w, back_h, t), seat_c, at=(0, leg_h + t + back_h / 2, -d / 2 + t / 2))
        if rng.uniform() < 0.35:  # armrests
            for sx in (-1, 1):
                s.add(box_part(t, t, d * 0.8), leg_c, at=(sx * (w / 2 - t / 2), leg_h + t + 0.3, 0))
        rot = yaw_tilt(rng, 0.1)
        s.parts = [(a, f, rot @ r_, rot @ at, c) for a, f, r_, at, c in s.parts]
    elif cls == 'table':
        top_c, leg_c = col(), col()
        h, t = rng.uniform(0.6, 1.1), rng.uniform(0.05, 0.12)
        if rng.uniform() < 0.4:  # round top on a pedestal
            r = rng.uniform(0.7, 1.1)
            s.add(frustum_part(r, r, t), top_c, at=(0, h, 0))
            s.add(frustum_part(0.06 + 0.06 * rng.uniform(), 0.06 + 0.06 * rng.uniform(), h, False, False), leg_c)
            s.add(frustum_part(r * 0.5, r * 0.5, 0.05), leg_c)
        else:
            w, d, leg_t = rng.uniform(1.2, 2.0), rng.uniform(0.7, 1.2), rng.uniform(0.06, 0.14)
            s.add(box_part(w, t, d), top_c, at=(0, h + t / 2, 0))
            for sx in (-1, 1):
                for sz in (-1, 1):
                    s.add(box_part(leg_t, h, leg_t), leg_c, at=(sx * (w / 2 - leg_t), h / 2, sz * (d / 2 - leg_t)))
        rot = yaw_tilt(rng, 0.1)
        s.parts = [(a, f, rot @ r_, rot @ at, c) for a, f, r_, at, c in s.parts]
    elif cls == 'lamp':
        base_c, shade_c = col(), col()
        br, pole_h = rng.uniform(0.3, 0.5), rng.uniform(1.0, 1.8)
        s.add(frustum_part(br, br * rng.uniform(0.7, 1.0), 0.08), base_c)
        s.add(frustum_part(0.04, 0.04, pole_h, False, False), base_c)
        r0, r1, sh = rng.uniform(0.35, 0.6), rng.uniform(0.15, 0.35), rng.uniform(0.3, 0.6)
        s.add(frustum_part(r0, r1, sh, False, False), shade_c, at=(0, pole_h - sh * 0.6, 0))
        rot = yaw_tilt(rng, 0.1)
        s.parts = [(a, f, rot @ r_, rot @ at, c) for a, f, r_, at, c in s.parts]
    elif cls == 'mug':
        c = col()
        r, h = rng.uniform(0.4, 0.6), rng.uniform(0.8, 1.3)
        s.add(frustum_part(r, r * rng.uniform(0.95, 1.15), h, bottom_cap=True, top_cap=False), c)
        hr = rng.uniform(0.2, 0.32) * h
        handle = torus_part(hr, rng.uniform(0.04, 0.07), arc=math.pi)
        # Half ring in the xy plane, opening towards the body, on its +x side.
        s.add(handle, c if rng.uniform() < 0.7 else col(), rot_z(math.pi / 2) @ rot_x(math.pi / 2), at=(r, h * 0.5, 0))
        rot = yaw_tilt(rng, 0.15)
        s.parts = [(a, f, rot @ r_, rot @ at, c_) for a, f, r_, at, c_ in s.parts]
    elif cls == 'airplane':
        body_c, wing_c = col(), col()
        L, rad = rng.uniform(1.6, 2.4), rng.uniform(0.1, 0.18)
        s.add(ellipsoid_part(L / 2, rad, rad), body_c)
        span, chord = rng.uniform(1.4, 2.4), rng.uniform(0.25, 0.45)
        sweep = rng.uniform(-0.3, 0.1)
        s.add(box_part(chord, 0.03, span), wing_c, rot_y(sweep), at=(rng.uniform(-0.1, 0.2), 0, 0))
        s.add(box_part(chord * 0.6, 0.025, span * 0.35), wing_c, at=(-L / 2 + chord * 0.4, 0.02, 0))
        fin_h = rng.uniform(0.25, 0.45)
        s.add(box_part(chord * 0.6, fin_h, 0.025), wing_c, at=(-L / 2 + chord * 0.4, fin_h / 2, 0))
        if rng.uniform() < 0.5:  # engines under the wings
            for sz in (-1, 1):
                s.add(frustum_part(0.07, 0.07, 0.35), body_c, rot_z(math.pi / 2), at=(0.25, -0.1, sz * span * 0.25))
        rot = yaw_tilt(rng, 0.25)
        s.parts = [(a, f, rot @ r_, rot @ at, c) for a, f, r_, at, c in s.parts]
    elif cls in ('bunny', 'teapot'):
        m = meshes[cls]
        scale = np.diag(rng.uniform(0.9, 1.1, size=3))
        s.add(mesh_part(np.asarray(m['positions']) @ scale, m['cells']), col(), yaw_tilt(rng, 0.3))
        if rng.uniform() < 0.5:
            # two-tone: a second colour above a random height, applied after sampling
            s.two_tone = (rng.uniform(-0.3, 0.4), col())
    else:
        raise ValueError(f'unknown class {cls!r}')
    return s


def normalise(xyz):
    """Bounding-box centre to the origin, farthest point at distance 1."""
    centre = (xyz.min(axis=0) + xyz.max(axis=0)) / 2
    xyz = xyz - centre
    return xyz / np.linalg.norm(xyz, axis=1).max()


def generate_cloud(cls, split, index, meshes, n=NUM_POINTS):
    rng = np.random.default_rng([SPLIT_SEED[split], CLASSES.index(cls), index])
    shape = make_shape(cls, rng, meshes)
    xyz, rgb = shape.sample(rng, n)
    xyz = normalise(xyz)
    rgb = np.array(rgb, dtype=np.float64)
    if getattr(shape, 'two_tone', None) is not None:
        cut, c2 = shape.two_tone
        rgb[xyz[:, 1] > cut] = c2
    rgb = np.clip(rgb + rng.normal(0, 0.02, size=rgb.shape), 0, 1)
    # Point order carries no meaning: shuffle so that parts are not contiguous blocks.
    perm = rng.permutation(n)
    return xyz[perm].astype(np.float32), rgb[perm].astype(np.float32)


def load_meshes(path=DEFAULT_MESHES):
    with open(path) as f:
        return json.load(f)


def _gen_class(args):
    cls, split, start, count, mesh_path = args
    meshes = load_meshes(mesh_path)
    xyz = np.empty((count, NUM_POINTS, 3), np.float32)
    rgb = np.empty((count, NUM_POINTS, 3), np.float32)
    for i in range(count):
        xyz[i], rgb[i] = generate_cloud(cls, split, start + i, meshes)
    return xyz, rgb


def generate_split(split, per_class, mesh_path=DEFAULT_MESHES, workers=1, classes=CLASSES, chunk=250):
    """Returns xyz [K*per_class, 2048, 3], rgb (same), labels [K*per_class] (class-major order)."""
    jobs = []
    for cls in classes:
        for start in range(0, per_class, chunk):
            jobs.append((cls, split, start, min(chunk, per_class - start), mesh_path))
    if workers > 1:
        from multiprocessing import Pool
        with Pool(workers) as pool:
            parts = pool.map(_gen_class, jobs)
    else:
        parts = [_gen_class(j) for j in jobs]
    xyz = np.concatenate([p[0] for p in parts])
    rgb = np.concatenate([p[1] for p in parts])
    labels = np.repeat(np.array([CLASSES.index(c) for c in classes], dtype=np.int64), per_class)
    return xyz, rgb, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--split', choices=list(SPLIT_SEED), default='heldout')
    ap.add_argument('--per-class', type=int, default=100)
    ap.add_argument('--meshes', default=DEFAULT_MESHES)
    ap.add_argument('--workers', type=int, default=1)
    ap.add_argument('--out', required=True)
    ap.add_argument('--format', choices=['npz', 'bin'], default='npz',
                    help='bin: a little-endian float32 file [count, 2048, 6] (xyz rgb) + a .json sidecar with labels')
    a = ap.parse_args()
    xyz, rgb, labels = generate_split(a.split, a.per_class, a.meshes, a.workers)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    if a.format == 'npz':
        np.savez(a.out, xyz=xyz, rgb=rgb, labels=labels, classes=np.array(CLASSES))
    else:
        np.concatenate([xyz, rgb], axis=2).astype('<f4').tofile(a.out)
        with open(a.out + '.json', 'w') as f:
            json.dump({'classes': CLASSES, 'labels': labels.tolist(), 'points': NUM_POINTS, 'channels': 6,
                       'split': a.split, 'perClass': a.per_class}, f)
    print(f'wrote {a.out}: {xyz.shape[0]} clouds', file=sys.stderr)


if __name__ == '__main__':
    main()
