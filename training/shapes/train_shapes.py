"""Trains the `shapes` model, exports it to ONNX, checks the export, and runs the quality sweep.

One job, for one GPU run (see gpu_job.sh); also runs on CPU with --tiny as a smoke test.
Outputs in --out: model.onnx, shapes_ema.pt, train_log.json, sweep.json (+ per-rank parts), samples_rank*.npz.

Training: v- (default) or epsilon prediction on DDPM linear betas 1e-4..0.02 over 1000 steps; noise
levels half uniform over the timesteps, half log-normal in sigma (EDM's ln sigma ~ N(-1.2, 1.2), the
levels that shape the surface) and mapped to fractional timesteps; class dropout 10% (label =
num_classes) for classifier-free guidance, AdamW with warm-up and cosine decay over a wall-clock budget
(which may span several runs: --schedule-seconds, --state-in/--state-out), bf16 autocast on CUDA, EMA
weights (what ships).

Network options beyond the shipped one: --latents, --latent-layers, --point-attn-every, --geo-ks, --local-every,
--local-pool (model.py); start from an ONNX export's weights with --init-onnx (layers it lacks keep their
initialisation; --init-lr-scale slows the loaded ones). The export records the constructor arguments in the ONNX
metadata (sweep.write_arch). x4_job.sh runs three such candidates side by side on 4 GPUs.

Several GPUs: `torchrun --standalone --nproc_per_node=G train_shapes.py ...` trains one model with
DistributedDataParallel (each rank makes the same data and draws its own batches; the wall-clock budget
is agreed between ranks every few steps so that all stop at the same step) and splits the quality sweep's
settings between the ranks; rank 0 exports and merges.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes_data as S  # noqa: E402
from model import PointDenoiser  # noqa: E402
import sampling as SM  # noqa: E402
import sweep as SW  # noqa: E402


def amp(dev):
    """bf16 autocast on CUDA; nothing on CPU (older torch refuses a disabled CUDA autocast without CUDA)."""
    if dev.startswith('cuda'):
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
    ap.add_argument('--prediction', choices=['v_prediction', 'epsilon'], default='v_prediction')
    ap.add_argument('--t-dist', choices=['mixed', 'uniform', 'low'], default='mixed',
                    help="noise levels: mixed = half uniform over the timesteps, half log-normal in sigma; low = a quarter "
                         "uniform, 40%% that log-normal, 35%% a second log-normal at small sigma (ln sigma ~ N(-3, 1)); uniform")
    ap.add_argument('--schedule-seconds', type=float, default=None,
                    help='length of the cosine learning-rate schedule in seconds (default: --train-seconds); '
                         'with --state-in the schedule continues where the saved run stopped')
    ap.add_argument('--state-in', default=None, help='a training state (--state-out of an earlier run) to continue')
    ap.add_argument('--state-out', default=None, help='where to save the full training state (model, EMA, optimiser)')
    ap.add_argument('--local-every', type=int, default=0,
                    help='a kNN LocalAgg layer before every n-th block (0: none, the shipped model; 2: the variant tried second)')
    ap.add_argument('--latent-layers', type=int, default=1, help='self-attention + MLP layers among the latents per block')
    ap.add_argument('--point-attn-every', type=int, default=0,
                    help='full self-attention among the points in every n-th block (0: none, the shipped model)')
    ap.add_argument('--geo-ks', default='', help="neighbourhood sizes of the geometric input features (model.py geo_ks), e.g. 8,16,48")
    ap.add_argument('--local-pool', choices=['max', 'maxmean'], default='max', help="how the LocalAgg layers pool their neighbours")
    ap.add_argument('--init-onnx', default=None, help='start from the weights of a shapes ONNX export (e.g. the shipped model); '
                    'parameters the export lacks (new layers) keep their initialisation')
    ap.add_argument('--init-lr-scale', type=float, default=1.0,
                    help='with --init-onnx (a --state-in run keeps the groups it saved): learning-rate factor for the parameters loaded from it')
    ap.add_argument('--compile', action='store_true',
                    help='torch.compile the training step (eager if compiling fails). Two of the three compiled runs of '
                         'x4_job.sh collapsed in their second phase (bench/results/shapes.md); not yet isolated from their '
                         'learning rate')
    ap.add_argument('--sweep-settings', default=None, help="the quality sweep's settings (sweep.py's strings, comma-separated)")
    ap.add_argument('--workers', type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument('--meshes', default=S.DEFAULT_MESHES)
    ap.add_argument('--resume', default=None, help='a shapes_ema.pt to continue from')
    ap.add_argument('--tiny', action='store_true', help='CPU smoke test: tiny data, model and sweep')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    if world > 1:
        local = int(os.environ.get('LOCAL_RANK', '0'))
        if torch.cuda.is_available():
            torch.cuda.set_device(local)
        dist.init_process_group('nccl' if torch.cuda.is_available() else 'gloo')
    dev = (f'cuda:{torch.cuda.current_device()}' if world > 1 else 'cuda') if torch.cuda.is_available() else 'cpu'
    dev_type = 'cuda' if dev.startswith('cuda') else 'cpu'
    main_rank = rank == 0
    if a.tiny:
        a.per_class, a.heldout_per_class, a.batch, a.width, a.depth, a.latents = 8, 6, 8, 32, 2, 8
        a.train_seconds = min(a.train_seconds, 20)
    torch.manual_seed(0)
    if dev_type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        log(f'rank {rank}/{world} device', torch.cuda.get_device_name(dev), 'torch', torch.__version__)
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
    geo_ks = tuple(int(v) for v in a.geo_ks.split(',') if v)
    arch = dict(width=a.width, depth=a.depth, latents=a.latents, local_every=a.local_every, latent_layers=a.latent_layers,
                point_attn_every=a.point_attn_every, geo_ks=list(geo_ks), local_pool=a.local_pool)
    mk = lambda: PointDenoiser(K, **arch)  # noqa: E731
    model = mk().to(dev)
    ema = mk().to(dev)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    st = torch.load(a.state_in, map_location=dev) if a.state_in else None
    loaded = set(st.get('loaded', [])) if st else set()  # the parameters that came from --init-onnx (lr groups)
    if a.init_onnx and not a.state_in:
        src = SW.load_onnx_model(a.init_onnx).state_dict()
        own = model.state_dict()
        loaded = {k for k, v in src.items() if k in own and own[k].shape == v.shape}
        own.update({k: src[k] for k in loaded})
        model.load_state_dict(own)
        ema.load_state_dict(own)
        log(f'initialised from {a.init_onnx}: {len(loaded)} of {len(own)} tensors '
            f'(new: {sorted(k for k in own if k not in loaded)[:8]}...)')
    named = list(model.named_parameters())
    groups = [{'params': [p for k, p in named if k not in loaded], 'lr_scale': 1.0},
              {'params': [p for k, p in named if k in loaded], 'lr_scale': a.init_lr_scale}]
    opt = torch.optim.AdamW([g for g in groups if g['params']], lr=a.lr, weight_decay=0.01, betas=(0.9, 0.99))
    step, sched_done, history, seen = 0, 0.0, [], 0
    if st:
        model.load_state_dict(st['model'])
        ema.load_state_dict(st['ema'])
        opt.load_state_dict(st['opt'])
        step, sched_done, history = st['step'], st['sched_done'], st.get('history', [])
        seen = st.get('seen', step * a.batch * world)
        log(f'continuing {a.state_in}: step {step}, {sched_done:.0f}s of the schedule done')
    elif a.resume:
        model.load_state_dict(torch.load(a.resume, map_location=dev)['model'])
        ema.load_state_dict(model.state_dict())
        log('resumed from', a.resume)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[torch.cuda.current_device()] if dev_type == 'cuda' else None)
    step_net = net
    if a.compile and hasattr(torch, 'compile'):
        step_net = torch.compile(net)
    nparams = sum(p.numel() for p in model.parameters())
    log(f'params {nparams} ({nparams * 4 / 1e6:.1f} MB fp32), prediction {a.prediction}, t-dist {a.t_dist}, '
        f'local_every {a.local_every}, world {world}, batch {a.batch} per rank')
    ac64 = SM.schedule()
    log_sig = torch.log(((1 - ac64) / ac64).sqrt()).float().to(dev)  # ascending with t
    schedule_seconds = a.schedule_seconds or a.train_seconds
    torch.manual_seed(1000 + rank + 7919 * step)  # each rank (and each continuation) draws its own batches

    def sample_sigma(b):
        return SM.draw_t_sigma(b, log_sig, a.t_dist, dev)

    # ------------------------------------------------------------ train on a wall-clock budget
    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    t_start = time.time()
    shared = 0.0  # elapsed seconds agreed between ranks (max), refreshed every few steps
    warm = 200 if not (a.resume or a.state_in or (a.init_onnx and len(loaded) == len(model.state_dict()))) else 20
    first = step
    losses = []
    while True:
        if (step - first) % 20 == 0:
            el = torch.tensor([time.time() - t_start], dtype=torch.float64, device=dev)
            if world > 1:
                dist.all_reduce(el, op=dist.ReduceOp.MAX)
            shared = float(el)
            if shared >= a.train_seconds:
                break
        frac = min(1.0, (sched_done + shared) / schedule_seconds)
        lr = a.lr * min(1.0, (step - first + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g['lr'] = lr * g.get('lr_scale', 1.0)
        idx = torch.randint(0, data.shape[0], (a.batch,), device=dev)
        x0 = data[idx]
        y = lab[idx].clone()
        y[torch.rand(a.batch, device=dev) < 0.1] = K
        t, sig = sample_sigma(a.batch)
        noise = torch.randn_like(x0)
        sa = (1 / (1 + sig * sig)).sqrt()[:, None, None]  # sqrt(alpha_bar)
        sb = (sig * sa[:, 0, 0])[:, None, None]             # sqrt(1 - alpha_bar)
        xt = sa * x0 + sb * noise
        target = sa * noise - sb * x0 if a.prediction == 'v_prediction' else noise
        def forward_backward(fn):
            opt.zero_grad(set_to_none=True)
            with amp(dev):
                pred = fn(xt, t, y)
            loss = F.mse_loss(pred.float(), target)
            loss.backward()
            return loss
        try:
            loss = forward_backward(step_net)
        except Exception as e:  # compiling failed: the eager model does the same work
            if step_net is net:
                raise
            log(f'rank {rank}: torch.compile failed ({type(e).__name__}: {str(e)[:300]}); training eagerly')
            step_net = net
            loss = forward_backward(net)
        if step == first + 5 and main_rank:
            log(f'step {step}: first steps done in {time.time() - t_start:.1f}s ({"compiled" if step_net is not net else "eager"})')
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(0.9995, (1 + step) / (10 + step))
        with torch.no_grad():
            if hasattr(torch, '_foreach_lerp_'):
                torch._foreach_lerp_(ema_params, model_params, 1 - decay)
            else:
                for pe, pm in zip(ema_params, model_params):
                    pe.lerp_(pm, 1 - decay)
        if step % 50 == 0:
            losses.append(loss.item())
        if step % 500 == 0 and main_rank:
            log(f'step {step} loss {loss.item():.4f} (mean of last 10 logged {np.mean(losses[-10:]):.4f}) lr {lr:.2e} '
                f'elapsed {time.time() - t_start:.0f}s')
            history.append({'step': step, 'loss': float(np.mean(losses[-10:])), 'elapsed': sched_done + time.time() - t_start})
        step += 1
    train_time = time.time() - t_start
    sched_done += shared
    seen += (step - first) * a.batch * world
    log(f'rank {rank}: trained to step {step} in {train_time:.0f}s ({(step - first) * a.batch * world} clouds seen this run)')
    cfg = dict(arch, num_classes=K, classes=S.CLASSES, prediction_type=a.prediction)
    if main_rank:
        torch.save({'model': ema.state_dict(), 'config': cfg}, os.path.join(a.out, 'shapes_ema.pt'))
        if a.state_out:
            torch.save({'model': model.state_dict(), 'ema': ema.state_dict(), 'opt': opt.state_dict(), 'step': step,
                        'sched_done': sched_done, 'history': history, 'config': cfg, 'seen': seen, 'loaded': sorted(loaded)},
                       a.state_out)
            log('state saved to', a.state_out)

    # ------------------------------------------------------------ ONNX export + check against torch (rank 0, before the sweep:
    # a run cut short still leaves the model)
    def export_and_check():
        cpu_model = mk()
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
            SW.write_arch(onnx_path, arch)
        except Exception:  # keep the run's other results: the .pt can be exported again later
            import traceback
            traceback.print_exc()
        onnx_check = {}
        try:
            import onnxruntime as ort
            sess = ort.InferenceSession(onnx_path, providers=['CPUExecutionProvider'])
            xs = torch.randn(3, 6, 1000)
            ts_ = torch.tensor([999.0, 500.25, 3.0])
            ys = torch.tensor([1, 5, K], dtype=torch.int64)
            with torch.no_grad():
                want = cpu_model(xs, ts_, ys).numpy()
            got = sess.run(None, {'sample': xs.numpy(), 'timestep': ts_.numpy(), 'class_labels': ys.numpy()})[0]
            onnx_check = {'max_abs_diff': float(np.abs(want - got).max()), 'ref_abs_max': float(np.abs(want).max())}
            log('onnx vs torch', onnx_check)
        except Exception as e:
            log('export not checked:', e)
        if os.path.exists(onnx_path):
            log(f'onnx size {os.path.getsize(onnx_path) / 1e6:.2f} MB')
        info = {'steps': step, 'clouds_seen': seen, 'batch_per_rank': a.batch, 'world': world, 'train_seconds_this_run': train_time,
                'schedule_seconds_done': sched_done, 'schedule_seconds': schedule_seconds, 'params': nparams, 'history': history,
                'config': cfg, 'onnx_check': onnx_check, 'per_class': a.per_class, 't_dist': a.t_dist,
                'device': torch.cuda.get_device_name(dev) if dev_type == 'cuda' else 'cpu', 'torch': torch.__version__}
        with open(os.path.join(a.out, 'train_log.json'), 'w') as f:
            json.dump(info, f, indent=1)
        return info

    info = export_and_check() if main_rank else None

    # ------------------------------------------------------------ quality sweep (PointFlow metrics vs held-out)
    # Every rank runs its share of the settings, then rank 0 merges.
    held = held_async.get()
    pool.close()
    ref = torch.from_numpy(np.stack([h[0] for h in held])).to(dev)  # [K, n, N, 3]
    n = ref.shape[1]
    ema.eval()
    # the default first, then the step counts the issue asks for, then the alternatives (sweep.py's strings)
    settings = [SW.parse_setting(x) for x in (a.sweep_settings or (
        'heun:25:1:5,heun:10:1:5,heun:50:1:5,heun:100:1:5,heun:25:3:5,heun:25:2:5,ddim:25:1,heun:25:1,ddim:50:1,ddim:100:1'
        if not a.tiny else 'heun:3:1:5,ddim:3:1')).split(',')]
    mine = settings[rank::world]

    def save_rank(results):
        with open(os.path.join(a.out, f'sweep_rank{rank}.json'), 'w') as f:
            json.dump(results, f)
    # the kNN distance matrix is [batch, N, N]: keep it to a few GiB
    max_batch = (1400 if a.local_every == 0 else 128) if dev_type == 'cuda' else 16
    results, samples = SW.run_sweep(lambda x, t, y: ema(x, t, y), mine, ref, a.prediction, dev, a.sweep_seconds,
                                    lambda *x: log(f'rank {rank}', *x), on_result=save_rank, max_batch=max_batch,
                                    amp=lambda: amp(dev))
    save_rank(results)
    open(os.path.join(a.out, f'sweep_rank{rank}.done'), 'w').close()
    if samples:
        np.savez_compressed(os.path.join(a.out, f'samples_rank{rank}.npz'), clouds=samples['clouds'],
                            labels=np.repeat(np.arange(K), 4), setting=samples['setting'])
    if not main_rank:
        log(f'rank {rank} done')
        return

    # merge the ranks' sweeps (the others may still be sampling)
    deadline = time.time() + a.sweep_seconds + 240
    while time.time() < deadline and not all(os.path.exists(os.path.join(a.out, f'sweep_rank{r}.done')) for r in range(world)):
        time.sleep(2)
    merged = []
    for r in range(world):
        try:
            with open(os.path.join(a.out, f'sweep_rank{r}.json')) as f:
                merged += json.load(f)
        except (OSError, ValueError):
            log('no sweep from rank', r)
    order = {s: i for i, s in enumerate(settings)}
    merged.sort(key=lambda r: order.get((r['sampler'], r['steps'], r['guidance'], r['sigma_max'], r['churn']), 99))
    with open(os.path.join(a.out, 'sweep.json'), 'w') as f:
        json.dump({'heldout_per_class': n, 'generated_per_class': n, 'results': merged, 'train': info,
                   'chamfer': 'mean_x min_y |x-y|^2 + mean_y min_x |x-y|^2, clouds as generated (unit bounding sphere frame)'}, f, indent=1)
    for r in merged:
        log(f"{r['sampler']:5s} {r['steps']:4d} g {r['guidance']} smax {r['sigma_max']}: 1-NNA {r['mean']['nna'] * 100:.1f}% "
            f"COV {r['mean']['cov'] * 100:.1f}% MMD {r['mean']['mmd']:.5f}")
    log('done')


if __name__ == '__main__':
    main()
