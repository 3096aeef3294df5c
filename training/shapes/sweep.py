"""The shapes model's quality sweep: for each setting (sampler, steps, guidance, sigma_max, churn), n clouds per
class generated in PyTorch with the SDK's sampler semantics (sampling.py), scored against n held-out clouds
per class with PointFlow's 1-NNA-CD, COV-CD and MMD-CD.

Used by train_shapes.py after training, and on its own for a shipped ONNX file (weights read back from the
ONNX initializers with bench/reference/loop.py's loader, so no training state is needed):

  python3 training/shapes/sweep.py --onnx models/shapes/unet/model.onnx --out OUT [--settings heun:25:1:5,ddim:50:1]
      [--prediction v_prediction] [--sweep-seconds 400] [--heldout-per-class 100] [--meshes training/data/shapes_meshes.json]

A setting string is sampler:steps:guidance[:sigma_max[:churn]] (sampler heun = Karras Heun, ddim = DDIM
trailing; sigma_max 0 or missing = the schedule's largest).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sampling as SM  # noqa: E402
import shapes_data as S  # noqa: E402


def parse_setting(s):
    p = s.split(':')
    smax = float(p[3]) if len(p) > 3 and float(p[3]) > 0 else None
    return (p[0], int(p[1]), float(p[2]), smax, float(p[4]) if len(p) > 4 else 0.0)


def label(st):
    sampler, steps, g, smax, churn = st
    return f'{sampler} steps {steps} g {g} smax {smax}' + (f' churn {churn}' if churn else '')


def class_mean(per_class):
    return {key: float(np.mean([v[key] for v in per_class.values()])) for key in next(iter(per_class.values()))}


def score(gen_x, ref, rr, normalised=False):
    """PointFlow metrics and the point-spacing ratio per class: gen_x [K*n, C, N] generated clouds (class-major, C >= 3),
    ref [K, n, N, 3] held-out clouds; rr caches the held-out sets' own Chamfer matrices and spacings between calls.
    Returns (per_class, per_class_normalised) ({} for the second unless normalised)."""
    K, n = ref.shape[0], ref.shape[1]
    per_class, per_class_n = {}, {}
    for k, cname in enumerate(S.CLASSES[:K]):
        g_xyz = gen_x[k * n:(k + 1) * n, :3].transpose(1, 2).contiguous()
        if k not in rr:
            rr[k] = SM.chamfer_matrix(ref[k], ref[k])
        if ('spacing', k) not in rr:
            rr['spacing', k] = float(SM.point_spacing(ref[k]).median())
        per_class[cname] = SM.pointflow_metrics(SM.chamfer_matrix(g_xyz, ref[k]), SM.chamfer_matrix(g_xyz, g_xyz), rr[k])
        # generated over held-out median point spacing: > 1 fuzzy, < 1 clumped (sampling.point_spacing)
        per_class[cname]['spacing_ratio'] = float(SM.point_spacing(g_xyz).median()) / rr['spacing', k]
        if normalised:  # the same clouds moved and scaled into the data's frame (the held-out clouds are in it)
            g_n = SM.normalise_clouds(g_xyz)
            per_class_n[cname] = SM.pointflow_metrics(SM.chamfer_matrix(g_n, ref[k]), SM.chamfer_matrix(g_n, g_n), rr[k])
    return per_class, per_class_n


def run_sweep(model, settings, ref, prediction, dev, budget, log, on_result=None, max_batch=1400, amp=None, seed=1234,
              normalised=False):
    """model(x, t, labels) -> network output; ref [K, n, N, 3] held-out clouds on dev. Returns the results
    (one dict per setting run) and the first setting's first 4 clouds per class."""
    import contextlib
    K, n = ref.shape[0], ref.shape[1]
    cls_all = torch.arange(K, device=dev).repeat_interleave(n)
    rr = {}
    results, samples = [], None
    t0 = time.time()
    ac = SM.schedule()
    for st in settings:
        sampler, steps, g, smax, churn = st
        if time.time() - t0 > budget:
            log('sweep budget spent; skipping', label(st))
            continue
        ts = time.time()
        gen = torch.Generator(device=dev).manual_seed(seed)
        outs = []
        for b0 in range(0, K * n, max_batch):
            ys = cls_all[b0:b0 + max_batch]
            fn = SM.Guided(model, ys, g, K)
            shape = (ys.shape[0], 6, S.NUM_POINTS)
            with (amp() if amp else contextlib.nullcontext()):
                if sampler == 'heun':
                    x, _ = SM.heun_karras(fn, shape, steps, gen, dev, ac, sigma_max=smax, churn=churn, prediction=prediction)
                else:
                    x, _ = SM.ddim(fn, shape, steps, gen, dev, ac, prediction=prediction)
            outs.append(x.float())
        gen_x = torch.cat(outs)
        t_gen = time.time() - ts
        per_class, per_class_n = score(gen_x, ref, rr, normalised)
        far = gen_x[:, :3].norm(dim=1)
        mean = class_mean(per_class)
        r = {'sampler': sampler, 'steps': steps, 'guidance': g, 'sigma_max': smax, 'churn': churn, 'gen_seconds': t_gen,
             'metric_seconds': time.time() - ts - t_gen, 'mean': mean, 'per_class': per_class,
             'outside_r1.2': float((far > 1.2).float().mean()), 'max_radius_median': float(far.max(1).values.median())}
        if normalised:
            r['per_class_normalised'] = per_class_n
            r['mean_normalised'] = class_mean(per_class_n)
            log(f'{label(st)}, clouds normalised to the data frame: 1-NNA {r["mean_normalised"]["nna"] * 100:.1f}% '
                f'COV {r["mean_normalised"]["cov"] * 100:.1f}% MMD {r["mean_normalised"]["mmd"]:.5f}')
        results.append(r)
        log(f'{label(st)}: 1-NNA {mean["nna"] * 100:.1f}% (generated side {mean["nna_gen"] * 100:.1f}%, held-out side '
            f'{mean["nna_ref"] * 100:.1f}%) COV {mean["cov"] * 100:.1f}% MMD {mean["mmd"]:.5f} spacing ratio '
            f'{mean["spacing_ratio"]:.2f} (gen {t_gen:.1f}s, metrics {r["metric_seconds"]:.1f}s)')
        if samples is None:
            pick = torch.cat([torch.arange(k * n, k * n + min(4, n)) for k in range(K)])
            samples = {'setting': label(st), 'clouds': gen_x[pick].cpu().numpy()}
        if on_result:
            on_result(results)
    return results, samples


def heldout(per_class, meshes, workers):
    from multiprocessing import Pool
    with Pool(workers) as pool:
        held = pool.map(S._gen_class, [(c, 'heldout', 0, per_class, meshes) for c in S.CLASSES])
    return np.stack([h[0] for h in held])  # [K, n, N, 3]


ARCH_KEY = 'diffusekit.arch'


def write_arch(path, arch):
    """Records PointDenoiser's constructor arguments in an ONNX file's metadata (what its weights cannot say,
    such as the neighbourhood sizes of geo_ks)."""
    import onnx
    m = onnx.load(path)
    del m.metadata_props[:]
    m.metadata_props.add(key=ARCH_KEY, value=json.dumps(arch, sort_keys=True))
    onnx.save(m, path)


def read_arch(path):
    """The constructor arguments write_arch recorded, or None for an export without them (the first models)."""
    import onnx
    m = onnx.load(path, load_external_data=False)
    return next((json.loads(p.value) for p in m.metadata_props if p.key == ARCH_KEY), None)


def load_onnx_model(path):
    """PointDenoiser with the weights of a shapes ONNX export (architecture from its metadata where recorded,
    else read from its initializers)."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, '..', '..'))
    import importlib.util
    import tempfile
    inputs = os.path.join(tempfile.mkdtemp(), 'none.json')
    with open(inputs, 'w') as f:
        json.dump({'models': []}, f)
    argv, grad = sys.argv, torch.is_grad_enabled()
    sys.argv = ['loop.py', 'torch', inputs]
    try:
        spec = importlib.util.spec_from_file_location('dk_loop', os.path.join(root, 'bench', 'reference', 'loop.py'))
        loop = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loop)  # (loop.py turns gradients off: it only runs models)
    finally:
        sys.argv = argv
        torch.set_grad_enabled(grad)  # the caller may be training
    from model import PointDenoiser
    w, left = loop.onnx_weights(path)
    width = w['inp.weight'].shape[0]
    depth = 1 + max(int(k.split('.')[1]) for k in w if k.startswith('blocks.'))
    nloc = len({k.split('.')[1] for k in w if k.startswith('locals.')})
    local_every = next((e for e in range(1, depth + 1) if len(range(0, depth, e)) == nloc), 0) if nloc else 0
    classes = w['class_emb.weight'].shape[0] - 1
    arch = read_arch(path) or dict(width=width, depth=depth, local_every=local_every, **extra_arch(w, depth, left))
    return loop.load_into(PointDenoiser(classes, **arch), path)


def extra_arch(w, depth, left=None):
    """latents, latent_layers and point_attn_every of a PointDenoiser from its weight names (ONNX or state dict;
    left: the ONNX file's unnamed initializers, one of which is the latents when the exporter did not name it)."""
    out = {'latent_layers': 1 + len({k.split('.')[3] for k in w if k.startswith('blocks.0.extra.')})}
    width = w['inp.weight'].shape[0]
    cands = [w['latents']] if 'latents' in w else [v for v in (left or {}).values() if v.ndim >= 2 and v.shape[-1] == width]
    if len(cands) == 1:
        out['latents'] = int(np.prod(cands[0].shape[:-1]))
    with_attn = sorted({int(k.split('.')[1]) for k in w if k.startswith('blocks.') and '.pattn.' in k})
    if with_attn:
        out['point_attn_every'] = with_attn[1] - with_attn[0] if len(with_attn) > 1 else depth
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--onnx', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--settings', default='heun:25:1:5,heun:25:2:5,heun:25:3:5')
    ap.add_argument('--prediction', default='v_prediction')
    ap.add_argument('--sweep-seconds', type=float, default=400)
    ap.add_argument('--heldout-per-class', type=int, default=100)
    ap.add_argument('--classes', type=int, default=len(S.CLASSES), help='the first n classes only (smoke tests)')
    ap.add_argument('--meshes', default=S.DEFAULT_MESHES)
    ap.add_argument('--workers', type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument('--max-batch', type=int, default=1400)
    ap.add_argument('--normalised', action='store_true',
                    help='also score the generated clouds moved and scaled into the data frame (as the held-out ones are)')
    ap.add_argument('--seed', type=int, default=1234, help="the samplers' noise seed (another seed measures the metrics' spread)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.set_grad_enabled(False)
    t0 = time.time()

    def log(*x):
        print(f'[{time.time() - t0:6.1f}s]', *x, flush=True)

    ref = torch.from_numpy(heldout(a.heldout_per_class, a.meshes, a.workers)[:a.classes]).to(dev)
    log('held-out', tuple(ref.shape))
    net = load_onnx_model(a.onnx).to(dev)
    for m in net.modules():
        if hasattr(m, 'use_sdpa'):
            m.use_sdpa = hasattr(torch.nn.functional, 'scaled_dot_product_attention')
    log('model loaded on', torch.cuda.get_device_name(0) if dev == 'cuda' else 'cpu')
    amp = (lambda: torch.autocast('cuda', dtype=torch.bfloat16)) if dev == 'cuda' else None
    settings = [parse_setting(s) for s in a.settings.split(',') if s]

    def save(results):
        with open(os.path.join(a.out, 'sweep.json'), 'w') as f:
            json.dump({'onnx': a.onnx, 'heldout_per_class': a.heldout_per_class, 'prediction': a.prediction, 'seed': a.seed,
                       'device': torch.cuda.get_device_name(0) if dev == 'cuda' else 'cpu', 'torch': torch.__version__,
                       'results': results}, f, indent=1)
    results, samples = run_sweep(lambda x, t, y: net(x, t, y), settings, ref, a.prediction, dev, a.sweep_seconds, log,
                                 on_result=save, max_batch=a.max_batch, amp=amp, seed=a.seed,
                                 normalised=a.normalised)
    save(results)
    if samples:
        np.savez_compressed(os.path.join(a.out, 'samples.npz'), clouds=samples['clouds'], setting=samples['setting'])
    log('done')


if __name__ == '__main__':
    main()
