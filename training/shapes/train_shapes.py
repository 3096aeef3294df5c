"""Trains the `shapes` model, exports it to ONNX, checks the export, and runs the quality sweep.

One job, for one GPU run (see gpu_job.sh); also runs on CPU with --tiny as a smoke test.
Outputs in --out: model.onnx, shapes_ema.pt, train_log.json, sweep.json, samples.npz.

Training: epsilon prediction, DDPM linear betas 1e-4..0.02 over 1000 steps, uniform timesteps, class
dropout 10% (label = num_classes) for classifier-free guidance, AdamW with warm-up and cosine decay over
a wall-clock budget, bf16 autocast on CUDA, EMA weights (what ships).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes_data as S  # noqa: E402
from model import PointDenoiser  # noqa: E402
import sampling as SM  # noqa: E402


def amp(dev):
    """bf16 autocast on CUDA; nothing on CPU (older torch refuses a disabled CUDA autocast without CUDA)."""
    if dev == 'cuda':
        return torch.autocast(device_type='cuda', dtype=torch.bfloat16)
    import contextlib
    return contextlib.nullcontext()


def log(*a):
    print(f'[{time.strftime("%H:%M:%S")}]', *a, flush=True)


def to_model_layout(xyz, rgb):
    """[n, N, 3] xyz + [n, N, 3] rgb in [0,1] -> [n, 6, N] with rgb scaled to [-1, 1]."""
    return np.concatenate([xyz, rgb * 2 - 1], axis=2).transpose(0, 2, 1).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--train-seconds', type=float, default=270)
    ap.add_argument('--sweep-seconds', type=float, default=150)
    ap.add_argument('--per-class', type=int, default=4000)
    ap.add_argument('--heldout-per-class', type=int, default=100)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=5e-4)
    ap.add_argument('--width', type=int, default=128)
    ap.add_argument('--depth', type=int, default=6)
    ap.add_argument('--latents', type=int, default=64)
    ap.add_argument('--local-every', type=int, default=0,
                    help='a kNN LocalAgg layer before every n-th block (0: none, the shipped model; 2: the variant tried second)')
    ap.add_argument('--workers', type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument('--meshes', default=S.DEFAULT_MESHES)
    ap.add_argument('--resume', default=None, help='a shapes_ema.pt to continue from')
    ap.add_argument('--tiny', action='store_true', help='CPU smoke test: tiny data, model and sweep')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    if a.tiny:
        a.per_class, a.heldout_per_class, a.batch, a.width, a.depth, a.latents = 8, 6, 8, 32, 2, 8
        a.train_seconds = min(a.train_seconds, 20)
    torch.manual_seed(0)
    if dev == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        log('device', torch.cuda.get_device_name(0), 'torch', torch.__version__)
    K = len(S.CLASSES)

    # ------------------------------------------------------------ data (held-out generated in the background)
    t0 = time.time()
    from multiprocessing import Pool
    pool = Pool(a.workers)
    held_jobs = [(c, 'heldout', 0, a.heldout_per_class, a.meshes) for c in S.CLASSES]
    held_async = pool.map_async(S._gen_class, held_jobs)
    chunk = 250
    train_jobs = [(c, 'train', s, min(chunk, a.per_class - s), a.meshes) for c in S.CLASSES for s in range(0, a.per_class, chunk)]
    parts = pool.map(S._gen_class, train_jobs)
    xyz = np.concatenate([p[0] for p in parts])
    rgb = np.concatenate([p[1] for p in parts])
    labels = np.repeat(np.arange(K), a.per_class)
    data = torch.from_numpy(to_model_layout(xyz, rgb)).to(dev)
    lab = torch.from_numpy(labels).to(dev)
    del xyz, rgb, parts
    log(f'train data {tuple(data.shape)} in {time.time() - t0:.1f}s')

    # ------------------------------------------------------------ model
    model = PointDenoiser(K, width=a.width, depth=a.depth, latents=a.latents, local_every=a.local_every).to(dev)
    if a.resume:
        model.load_state_dict(torch.load(a.resume, map_location=dev)['model'])
        log('resumed from', a.resume)
    ema = PointDenoiser(K, width=a.width, depth=a.depth, latents=a.latents, local_every=a.local_every).to(dev)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    nparams = sum(p.numel() for p in model.parameters())
    log(f'params {nparams} ({nparams * 4 / 1e6:.1f} MB fp32)')
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01, betas=(0.9, 0.99))
    ac = SM.schedule().to(dev).float()

    # ------------------------------------------------------------ train on a wall-clock budget
    t_start = time.time()
    step, losses, history = 0, [], []
    warm = 200 if not a.resume else 20
    while True:
        frac = (time.time() - t_start) / a.train_seconds
        if frac >= 1:
            break
        lr = a.lr * min(1.0, (step + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g['lr'] = lr
        idx = torch.randint(0, data.shape[0], (a.batch,), device=dev)
        x0 = data[idx]
        y = lab[idx].clone()
        y[torch.rand(a.batch, device=dev) < 0.1] = K
        t = torch.randint(0, 1000, (a.batch,), device=dev)
        noise = torch.randn_like(x0)
        at = ac[t][:, None, None]
        xt = at.sqrt() * x0 + (1 - at).sqrt() * noise
        with amp(dev):
            pred = model(xt, t.float(), y)
        loss = F.mse_loss(pred.float(), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(0.9995, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        losses.append(loss.item() if step % 50 == 0 else None)
        if step % 500 == 0:
            log(f'step {step} loss {loss.item():.4f} lr {lr:.2e} elapsed {time.time() - t_start:.0f}s')
            history.append({'step': step, 'loss': loss.item(), 'elapsed': time.time() - t_start})
        step += 1
    train_time = time.time() - t_start
    log(f'trained {step} steps in {train_time:.0f}s ({step * a.batch} clouds seen)')
    cfg = {'width': a.width, 'depth': a.depth, 'latents': a.latents, 'local_every': a.local_every, 'num_classes': K, 'classes': S.CLASSES}
    torch.save({'model': ema.state_dict(), 'config': cfg}, os.path.join(a.out, 'shapes_ema.pt'))

    # ------------------------------------------------------------ ONNX export + check against torch
    cpu_model = PointDenoiser(K, width=a.width, depth=a.depth, latents=a.latents, local_every=a.local_every)
    cpu_model.load_state_dict({k: v.float().cpu() for k, v in ema.state_dict().items()})
    cpu_model.eval()
    for m in cpu_model.modules():
        if hasattr(m, 'use_sdpa'):
            m.use_sdpa = False
    onnx_path = os.path.join(a.out, 'model.onnx')
    ex = (torch.randn(2, 6, S.NUM_POINTS), torch.tensor([999.0, 10.5]), torch.tensor([0, K], dtype=torch.int64))
    kw = dict(input_names=['sample', 'timestep', 'class_labels'], output_names=['out_sample'], opset_version=17,
              dynamic_axes={'sample': {0: 'batch', 2: 'points'}, 'timestep': {0: 'batch'}, 'class_labels': {0: 'batch'},
                            'out_sample': {0: 'batch', 2: 'points'}})
    try:
        try:
            torch.onnx.export(cpu_model, ex, onnx_path, dynamo=False, **kw)
        except TypeError:  # torch < 2.5 has no dynamo argument
            torch.onnx.export(cpu_model, ex, onnx_path, **kw)
    except Exception as e:  # keep the run's other results: the .pt can be exported again later
        import traceback
        traceback.print_exc()
        log('legacy ONNX export failed, trying the dynamo exporter:', e)
        try:
            kw2 = {k: v for k, v in kw.items() if k != 'dynamic_axes'}
            torch.onnx.export(cpu_model, ex, onnx_path, dynamo=True, dynamic_shapes=None, **kw2)
        except Exception:
            traceback.print_exc()
    onnx_check = {}
    try:
        if not os.path.exists(onnx_path):
            raise ImportError('no model.onnx')
        import onnxruntime as ort
        sess = ort.InferenceSession(onnx_path, providers=['CPUExecutionProvider'])
        xs = torch.randn(3, 6, 1000)
        ts = torch.tensor([999.0, 500.25, 3.0])
        ys = torch.tensor([1, 5, K], dtype=torch.int64)
        with torch.no_grad():
            ref = cpu_model(xs, ts, ys).numpy()
        got = sess.run(None, {'sample': xs.numpy(), 'timestep': ts.numpy(), 'class_labels': ys.numpy()})[0]
        onnx_check = {'max_abs_diff': float(np.abs(ref - got).max()), 'ref_abs_max': float(np.abs(ref).max())}
        log('onnx vs torch', onnx_check)
    except Exception as e:
        log('export not checked:', e)
    if os.path.exists(onnx_path):
        log(f'onnx size {os.path.getsize(onnx_path) / 1e6:.2f} MB')
    info = {'steps': step, 'batch': a.batch, 'train_seconds': train_time, 'params': nparams, 'history': history,
            'config': cfg, 'onnx_check': onnx_check, 'per_class': a.per_class,
            'device': torch.cuda.get_device_name(0) if dev == 'cuda' else 'cpu', 'torch': torch.__version__}
    with open(os.path.join(a.out, 'train_log.json'), 'w') as f:
        json.dump(info, f, indent=1)

    # ------------------------------------------------------------ quality sweep (PointFlow metrics vs held-out)
    held = held_async.get()
    pool.close()
    ref = torch.from_numpy(np.stack([h[0] for h in held])).to(dev)  # [K, n, N, 3]
    n = ref.shape[1]
    log('held-out', tuple(ref.shape))
    ema.eval()
    rr_cache = {}
    # (sampler, steps, guidance); 'heun' starts at sigma_max 5 as the shipped default does
    settings = [('heun', 10, 3.0), ('heun', 25, 3.0), ('heun', 50, 3.0), ('heun', 100, 3.0), ('heun', 10, 1.0),
                ('heun', 10, 2.0), ('ddim', 25, 3.0), ('ddim', 10, 3.0), ('ddim', 50, 3.0), ('ddim', 100, 3.0)]
    if a.tiny:
        settings = [('heun', 3, 3.0), ('ddim', 3, 3.0)]
    results = []
    t_sweep = time.time()
    samples = {}
    cls_all = torch.arange(K, device=dev).repeat_interleave(n)
    # the kNN distance matrix is [batch, N, N]: keep it to a few GiB
    max_batch = (1400 if a.local_every == 0 else 128) if dev == 'cuda' else 16
    for sampler, steps, g in settings:
        if time.time() - t_sweep > a.sweep_seconds:
            log('sweep budget spent; skipping', sampler, steps, g)
            continue
        ts = time.time()
        gen = torch.Generator(device=dev).manual_seed(1234)
        outs = []
        for b0 in range(0, K * n, max_batch):
            ys = cls_all[b0:b0 + max_batch]
            fn = SM.Guided(lambda x, t, y: ema(x, t, y), ys, g, K)
            with amp(dev):
                if sampler == 'heun':
                    x, _ = SM.heun_karras(fn, (ys.shape[0], 6, S.NUM_POINTS), steps, gen, dev, SM.schedule(), sigma_max=5.0)
                else:
                    x, _ = SM.ddim(fn, (ys.shape[0], 6, S.NUM_POINTS), steps, gen, dev, SM.schedule())
            outs.append(x.float())
        gen_x = torch.cat(outs)  # [K*n, 6, N]
        t_gen = time.time() - ts
        per_class = {}
        for k, cname in enumerate(S.CLASSES):
            g_xyz = gen_x[k * n:(k + 1) * n, :3].transpose(1, 2).contiguous()
            r_xyz = ref[k]
            if k not in rr_cache:
                rr_cache[k] = SM.chamfer_matrix(r_xyz, r_xyz)
            m = SM.pointflow_metrics(SM.chamfer_matrix(g_xyz, r_xyz), SM.chamfer_matrix(g_xyz, g_xyz), rr_cache[k])
            per_class[cname] = m
        mean = {key: float(np.mean([v[key] for v in per_class.values()])) for key in ('nna', 'cov', 'mmd')}
        r = {'sampler': sampler, 'steps': steps, 'guidance': g, 'gen_seconds': t_gen, 'metric_seconds': time.time() - ts - t_gen,
             'mean': mean, 'per_class': per_class}
        results.append(r)
        log(f'{sampler} steps {steps} g {g}: 1-NNA {mean["nna"] * 100:.1f}% COV {mean["cov"] * 100:.1f}% MMD {mean["mmd"]:.5f} '
            f'(gen {t_gen:.1f}s, metrics {r["metric_seconds"]:.1f}s)')
        if len(samples) == 0:
            pick = torch.cat([torch.arange(k * n, k * n + 4) for k in range(K)])
            samples = {'sampler': sampler, 'steps': steps, 'guidance': g, 'clouds': gen_x[pick].cpu().numpy()}
        with open(os.path.join(a.out, 'sweep.json'), 'w') as f:
            json.dump({'heldout_per_class': n, 'generated_per_class': n, 'results': results,
                       'chamfer': 'mean_x min_y |x-y|^2 + mean_y min_x |x-y|^2, clouds as generated (unit bounding sphere frame)'}, f, indent=1)
    if samples:
        np.savez_compressed(os.path.join(a.out, 'samples.npz'), clouds=samples['clouds'],
                            labels=np.repeat(np.arange(K), 4), setting=json.dumps({k: samples[k] for k in ('sampler', 'steps', 'guidance')}))
    log('done')


if __name__ == '__main__':
    main()
