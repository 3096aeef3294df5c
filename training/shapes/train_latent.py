"""Trains the two-stage `shapes` model (latent.py), exports both ONNX files, checks them, and scores them.

One process, one GPU (or CPU with --tiny as a smoke test). Stages, each on a wall-clock budget:
1. the autoencoder: ShapeEncoder + PointDecoder as a VAE whose decoder is a per-point diffusion model. Loss: the
   decoder's v-prediction MSE on noisy points of the cloud given a latent drawn from the encoder's posterior, plus
   --kl times the KL divergence of that posterior from N(0, 1) (mean over the latent's numbers);
2. the prior: the training set is encoded once (EMA encoder); latent_scale = the standard deviation of the
   posterior means; LatentPrior learns the latents (drawn from each posterior, divided by latent_scale) with
   v-prediction and 10% class dropout (classifier-free guidance);
3. the score: PointFlow metrics (sweep.score) of 14 x n generated clouds against n held-out clouds per class, for
   each --settings entry 'PRIOR/DECODER' with sweep.py's setting strings on each side (e.g. heun:25:1:5/heun:25:1:5:
   the prior's sampler, steps, guidance, sigma_max; the decoder's sampler, steps, -, sigma_max), plus
   'recon' (held-out clouds encoded and decoded) and 'trainlat' (the posterior means of n training clouds per class
   decoded: what a perfect prior would score);
4. ONNX export (opset 17) of EMA decoder (unet.onnx) and prior (prior.onnx), checked against PyTorch in ONNX Runtime.
Outputs in --out: unet.onnx, prior.onnx, latent_ema.pt (EMA weights, half precision, + config), train_log.json,
sweep.json, samples.npz (4 clouds per class of the first setting).

--init latent_ema.pt continues from saved weights (fresh optimiser, short warm-up).
"""
import argparse
import contextlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sampling as SM  # noqa: E402
import shapes_data as S  # noqa: E402
import sweep as SW  # noqa: E402
from latent import LatentPrior, PointDecoder, ShapeEncoder, params  # noqa: E402
from train_shapes import amp, log, to_model_layout  # noqa: E402


def ema_update(ema_params, params_, decay):
    with torch.no_grad():
        if hasattr(torch, '_foreach_lerp_'):
            torch._foreach_lerp_(ema_params, params_, 1 - decay)
        else:  # older torch (the dev VM's 1.13)
            for pe, pm in zip(ema_params, params_):
                pe.lerp_(pm, 1 - decay)


def step_and_average(opt, loss, params_, ema_params, step):
    """One optimiser step (gradient norm clipped to 1) and the EMA update (decay warming up to 0.999)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params_, 1.0)
    opt.step()
    ema_update(ema_params, params_, min(0.999, (1 + step) / (10 + step)))


class DivergenceGuard:
    """Watches the prior's loss at each log (every 1000 steps). Keeps a copy of the EMA weights whenever the loss is
    within `keep` of the best seen; once it passes `limit` times the best (after `patience` logs), says stop, and `restore` puts the
    last good copy back. (A 3.7 M prior diverged mid-run in bf16 at 3e-4, 0.26 -> 0.58, and its clouds scored 98 %.)"""

    def __init__(self, limit=1.15, keep=1.02, patience=2):
        self.best, self.good, self.limit, self.keep, self.patience, self.seen = float('inf'), None, limit, keep, patience, 0

    def check(self, loss, module):
        """True to go on, False to stop (the loss has diverged)."""
        self.seen += 1
        if not math.isfinite(loss) or (self.seen > self.patience and loss > self.limit * self.best):
            return False
        self.best = min(self.best, loss)
        if loss <= self.keep * self.best:
            self.good = {k: v.detach().clone() for k, v in module.state_dict().items()}
        return True

    def restore(self, module):
        if self.good is not None:
            module.load_state_dict(self.good)


def lr_at(base, step, first, warm, frac):
    return base * min(1.0, (step - first + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def v_target(x0, noise, sig):
    sa = (1 / (1 + sig * sig)).sqrt().view(-1, *([1] * (x0.dim() - 1)))
    sb = sig.view_as(sa) * sa
    return sa * x0 + sb * noise, sa * noise - sb * x0


def load_data(a, dev):
    if a.data:
        d = np.load(a.data)
        xyz, rgb, labels = d['xyz'], d['rgb'], d['labels']
        if a.per_class < xyz.shape[0] // len(S.CLASSES):  # class-major: keep the first per_class of each class
            keep = np.concatenate([np.arange(k * (xyz.shape[0] // len(S.CLASSES)), k * (xyz.shape[0] // len(S.CLASSES)) + a.per_class)
                                   for k in range(len(S.CLASSES))])
            xyz, rgb, labels = xyz[keep], rgb[keep], labels[keep]
    else:
        xyz, rgb, labels = S.generate_split('train', a.per_class, a.meshes, a.workers)
    data = torch.from_numpy(to_model_layout(xyz, rgb)).to(dev)
    if a.heldout:
        d = np.load(a.heldout)
        hx, hc = d['xyz'], d['rgb']
    else:
        hx, hc, _ = S.generate_split('heldout', a.heldout_per_class, a.meshes, a.workers)
    n = hx.shape[0] // len(S.CLASSES)
    keep = np.concatenate([np.arange(k * n, k * n + min(n, a.heldout_per_class)) for k in range(len(S.CLASSES))])
    held = torch.from_numpy(to_model_layout(hx[keep], hc[keep])).to(dev)  # [K*n, 6, N]
    return data, torch.from_numpy(labels).to(dev), held


def sample_fn(sampler, steps, smax, churn=0.0, prediction='v_prediction'):
    def run(eps_fn, shape, gen, dev):
        ac = SM.schedule()
        if sampler == 'heun':
            return SM.heun_karras(eps_fn, shape, steps, gen, dev, ac, sigma_max=smax, churn=churn, prediction=prediction)[0]
        return SM.ddim(eps_fn, shape, steps, gen, dev, ac, prediction=prediction)[0]
    return run


def parse_eval_setting(s):
    """'PRIOR/DECODER[+rSIGMAxN][+nSIGMAxN][+zSIGMA][+fp32]' -> dict. PRIOR and DECODER are sweep.py setting strings
    (PRIOR is ignored for 'recon' and one-stage models; PRIOR 'train': the latents of training clouds, a perfect
    prior); +r: N deterministic refinement steps at SIGMA after sampling (sampling.refine), +n: the same with fresh
    noise each step; +z: Gaussian noise of SIGMA added to the (unit-scale)
    latents before decoding (how much a prior's error costs); +fp32: no bf16 autocast (ONNX Runtime's precision)."""
    head, *mods = s.split('+')
    ps, ds = head.split('/') if '/' in head else (None, head)
    prior = ('train' if ps == 'train' else SW.parse_setting(ps)) if ps else None
    out = {'prior': prior, 'decoder': SW.parse_setting(ds), 'refine': None, 'fp32': False, 'znoise': 0.0}
    for m in mods:
        if m == 'fp32':
            out['fp32'] = True
        elif m[0] == 'z':
            out['znoise'] = float(m[1:])
        elif m[0] in 'rn':
            sig, n = m[1:].split('x')
            out['refine'] = (float(sig), int(n), m[0] == 'n')
        else:
            raise ValueError(f'unknown setting modifier {m!r} in {s!r}')
    return out


def split_seed(s, default=1234):
    """'SETTING@SEED' -> (SETTING, SEED): the same setting scored with other noise (a second seed shows how much of
    a difference is noise); without '@', the default seed every score used before."""
    setting, at, seed = s.partition('@')
    if at and not seed.isdigit():
        raise ValueError(f'bad seed {seed!r} in {s!r}')
    return setting, int(seed) if at else default


@torch.no_grad()
def generate(prior, dec, labels, st, gen, dev, tokens, token_dim, batch=700, z=None, onestage=None):
    """Clouds [n, 6, N] for class labels [n] (st: parse_eval_setting's dict): latents from the prior (or the given z,
    already scaled), then points; or, with onestage (a model.py PointDenoiser), its points directly."""
    outs = []
    ctx = contextlib.nullcontext if st['fp32'] else (lambda: amp(dev))
    for b0 in range(0, labels.shape[0], batch):
        ys = labels[b0:b0 + batch]
        b = ys.shape[0]
        with ctx():
            if onestage is not None:
                def eps(x_in, t, ys=ys):
                    return onestage(x_in, torch.full((x_in.shape[0],), float(t), device=dev), ys).float()
            else:
                if z is None:
                    pst = st['prior']
                    fn = SM.Guided(prior, ys, pst[2], prior.num_classes)
                    zb = sample_fn(pst[0], pst[1], pst[3])(fn, (b, tokens, token_dim), gen, dev).float()
                else:
                    zb = z[b0:b0 + batch]
                if st['znoise']:
                    zb = zb + st['znoise'] * torch.randn(zb.shape, generator=gen, device=dev)

                def eps(x_in, t, zb=zb):
                    return dec(x_in, torch.full((x_in.shape[0],), float(t), device=dev), zb).float()
            dst = st['decoder']
            x = sample_fn(dst[0], dst[1], dst[3], dst[4])(eps, (b, 6, S.NUM_POINTS), gen, dev).float()
            if st['refine']:
                x = SM.refine(eps, x, *st['refine'], gen=gen)
            outs.append(x.float())
    return torch.cat(outs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--data', default=None, help='training clouds (shapes_data.py --split train npz); default: generate')
    ap.add_argument('--heldout', default=None, help='held-out clouds (npz); default: generate')
    ap.add_argument('--meshes', default=S.DEFAULT_MESHES)
    ap.add_argument('--per-class', type=int, default=4000)
    ap.add_argument('--heldout-per-class', type=int, default=100)
    ap.add_argument('--workers', type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument('--ae-seconds', type=float, default=300)
    ap.add_argument('--prior-seconds', type=float, default=100)
    ap.add_argument('--batch', type=int, default=128, help='clouds per autoencoder step')
    ap.add_argument('--dec-points', type=int, default=1024, help='points per cloud the decoder learns from each step')
    ap.add_argument('--prior-batch', type=int, default=1024)
    ap.add_argument('--lr', type=float, default=3e-4)
    ap.add_argument('--prior-lr', type=float, default=5e-4)
    ap.add_argument('--kl', type=float, default=1e-3)
    ap.add_argument('--tokens', type=int, default=16)
    ap.add_argument('--token-dim', type=int, default=16)
    ap.add_argument('--enc-width', type=int, default=256)
    ap.add_argument('--dec-width', type=int, default=192)
    ap.add_argument('--dec-depth', type=int, default=4)
    ap.add_argument('--fourier', type=int, default=8)
    ap.add_argument('--prior-width', type=int, default=128)
    ap.add_argument('--prior-depth', type=int, default=4)
    ap.add_argument('--t-dist', choices=['mixed', 'uniform', 'low'], default='low')
    ap.add_argument('--init', default=None, help='a latent_ema.pt to continue from')
    ap.add_argument('--skip-ae', action='store_true', help='with --init: train the prior only')
    ap.add_argument('--freeze-encoder', action='store_true',
                    help='with --init: train the decoder only; the latents, their scale and so the prior stay valid')
    ap.add_argument('--fresh-prior', action='store_true', help='with --init: a new prior of --prior-width/--prior-depth')
    ap.add_argument('--prior-t-dist', choices=['mixed', 'uniform', 'low'], default='mixed')
    ap.add_argument('--settings', default='heun:25:1:0/heun:25:1:5,heun:25:1:5/heun:25:1:5,heun:25:1.5:0/heun:25:1:5,'
                    'heun:25:1:0/heun:10:1:5,heun:25:1:0/heun:50:1:5,heun:25:1:0/heun:100:1:5,ddim:25:1/ddim:25:1',
                    help="comma-separated parse_eval_setting strings, each optionally '@SEED' (default 1234)")
    ap.add_argument('--diag', default='recon,trainlat', help="diagnostic settings scored first ('' for none)")
    ap.add_argument('--eval-seconds', type=float, default=200)
    ap.add_argument('--eval-only', action='store_true', help='with --init: no training, only the score')
    ap.add_argument('--onestage', default=None, help='score a one-stage shapes ONNX export (model.py) with the same settings instead')
    ap.add_argument('--tiny', action='store_true')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    if a.eval_only or a.onestage:
        a.skip_ae, a.prior_seconds, a.eval_only = True, 0, True
    if a.tiny:
        a.per_class, a.heldout_per_class, a.batch, a.dec_points, a.prior_batch = 6, 5, 4, 256, 32
        a.enc_width, a.dec_width, a.dec_depth, a.prior_width, a.prior_depth = 32, 32, 1, 32, 1
        a.ae_seconds, a.prior_seconds = min(a.ae_seconds, 15), min(a.prior_seconds, 5)
        a.settings = 'heun:3:1:0/heun:3:1:5,ddim:3:1/ddim:3:1'
    torch.manual_seed(0)
    if dev == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = True
        log('device', torch.cuda.get_device_name(), 'torch', torch.__version__)
    K = len(S.CLASSES)
    t0 = time.time()
    data, lab, held = load_data(a, dev)
    ref = held[:, :3].transpose(1, 2).reshape(K, -1, S.NUM_POINTS, 3).contiguous()
    log(f'data {tuple(data.shape)}, held-out {tuple(ref.shape)} in {time.time() - t0:.1f}s')

    enc_arch = dict(tokens=a.tokens, token_dim=a.token_dim, width=a.enc_width, fourier_n=a.fourier)
    dec_arch = dict(tokens=a.tokens, token_dim=a.token_dim, width=a.dec_width, depth=a.dec_depth, fourier_n=a.fourier)
    prior_arch = dict(tokens=a.tokens, token_dim=a.token_dim, width=a.prior_width, depth=a.prior_depth)
    init = torch.load(a.init, map_location='cpu') if a.init else None
    if init:
        enc_arch, dec_arch = init['config']['encoder'], init['config']['decoder']
        if not a.fresh_prior:
            prior_arch = init['config']['prior']
    enc, dec = ShapeEncoder(**enc_arch).to(dev), PointDecoder(**dec_arch).to(dev)
    prior = LatentPrior(K, **prior_arch).to(dev)
    if init:
        enc.load_state_dict({k: v.float() for k, v in init['encoder'].items()})
        dec.load_state_dict({k: v.float() for k, v in init['decoder'].items()})
        if 'prior' in init and not a.fresh_prior:
            prior.load_state_dict({k: v.float() for k, v in init['prior'].items()})
        log('continuing from', a.init)
    enc_e, dec_e, prior_e = [type(m)(*( [K] if m is prior else []), **arch).to(dev) for m, arch in
                             ((enc, enc_arch), (dec, dec_arch), (prior, prior_arch))]
    for m, e in ((enc, enc_e), (dec, dec_e), (prior, prior_e)):
        e.load_state_dict(m.state_dict())
        e.requires_grad_(False)
    log(f'params: encoder {params(enc)}, decoder {params(dec)}, prior {params(prior)}; kl {a.kl}, t-dist {a.t_dist}')
    log_sig = torch.log(((1 - SM.schedule()) / SM.schedule()).sqrt()).float().to(dev)
    history = {'ae': [], 'prior': []}

    # ------------------------------------------------------------ 1. autoencoder
    ae_params = list(enc.parameters()) + list(dec.parameters())
    ae_ema = list(enc_e.parameters()) + list(dec_e.parameters())
    if a.freeze_encoder:  # the posteriors once, from the (EMA) encoder the prior was trained on
        ae_params, ae_ema = list(dec.parameters()), list(dec_e.parameters())
        enc_e.eval()
        with torch.no_grad(), amp(dev):
            stats = [enc_e(data[i:i + 512]) for i in range(0, data.shape[0], 512)]
        f_mu = torch.cat([s_[0].float() for s_ in stats])
        f_sd = torch.cat([torch.exp(0.5 * s_[1].float()) for s_ in stats])
        del stats
    step = 0
    if not a.skip_ae:
        opt = torch.optim.AdamW(ae_params, lr=a.lr, weight_decay=0.01, betas=(0.9, 0.99))
        warm = 100 if init else 500
        ts = time.time()
        acc = []
        torch.manual_seed(1)
        while time.time() - ts < a.ae_seconds:
            lr = lr_at(a.lr, step, 0, warm, (time.time() - ts) / a.ae_seconds)
            for g in opt.param_groups:
                g['lr'] = lr
            idx = torch.randint(0, data.shape[0], (a.batch,), device=dev)
            x0 = data[idx]
            cols = torch.randperm(S.NUM_POINTS, device=dev)[:a.dec_points]
            xp = x0[:, :, cols]
            t, sig = SM.draw_t_sigma(a.batch, log_sig, a.t_dist, dev)
            xt, target = v_target(xp, torch.randn_like(xp), sig)
            with amp(dev):
                if a.freeze_encoder:
                    mean, sd_ = f_mu[idx], f_sd[idx]
                    logvar = 2 * torch.log(sd_)
                else:
                    mean, logvar = enc(x0)
                    mean, logvar = mean.float(), logvar.float()
                z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
                pred = dec(xt, t, z)
            rec = F.mse_loss(pred.float(), target)
            kl = 0.5 * (mean * mean + logvar.exp() - 1 - logvar).mean()
            step_and_average(opt, rec + a.kl * kl, ae_params, ae_ema, step)
            if step % 25 == 0:
                acc.append([rec.item(), kl.item(), float(torch.exp(0.5 * logvar).mean()), float(mean.std())])
            if step % 500 == 0:
                m = np.mean(acc[-20:], axis=0)
                log(f'ae step {step} rec {m[0]:.4f} kl {m[1]:.3f} post std {m[2]:.3f} mean std {m[3]:.3f} lr {lr:.2e} '
                    f'{time.time() - ts:.0f}s')
                history['ae'].append({'step': step, 'rec': m[0], 'kl': m[1], 'post_std': m[2], 'mean_std': m[3]})
            step += 1
        log(f'autoencoder: {step} steps in {time.time() - ts:.0f}s')
        del opt

    # ------------------------------------------------------------ 2. prior
    enc_e.eval()
    with torch.no_grad(), amp(dev):
        stats = [enc_e(data[i:i + 512]) for i in range(0, data.shape[0], 512)]
    mu = torch.cat([s[0].float() for s in stats])
    sd = torch.cat([torch.exp(0.5 * s[1].float()) for s in stats])
    scale = float(mu.std())
    if init and (a.freeze_encoder or a.skip_ae):  # the encoder is init's: keep the exact number its prior learned with
        scale = float(init['config']['latent_scale'])
    dec_e.latent_scale.fill_(scale)
    dec.latent_scale.fill_(scale)
    log(f'latents: mean std {scale:.4f}, posterior std mean {float(sd.mean()):.4f} (relative {float(sd.mean()) / scale:.3f})')
    popt = torch.optim.AdamW(prior.parameters(), lr=a.prior_lr, weight_decay=0.01, betas=(0.9, 0.99))
    pp, pe = list(prior.parameters()), list(prior_e.parameters())
    ts, pstep, acc, guard = time.time(), 0, [], DivergenceGuard()
    torch.manual_seed(2)
    while time.time() - ts < a.prior_seconds:
        lr = lr_at(a.prior_lr, pstep, 0, 300, (time.time() - ts) / a.prior_seconds)
        for g in popt.param_groups:
            g['lr'] = lr
        idx = torch.randint(0, mu.shape[0], (a.prior_batch,), device=dev)
        z0 = (mu[idx] + sd[idx] * torch.randn_like(mu[idx])) / scale
        y = lab[idx].clone()
        y[torch.rand(a.prior_batch, device=dev) < 0.1] = K
        t, sig = SM.draw_t_sigma(a.prior_batch, log_sig, a.prior_t_dist, dev)
        zt, target = v_target(z0, torch.randn_like(z0), sig)
        with amp(dev):
            pred = prior(zt, t, y)
        loss = F.mse_loss(pred.float(), target)
        step_and_average(popt, loss, pp, pe, pstep)
        if pstep % 25 == 0:
            acc.append(loss.item())
        if pstep % 1000 == 0:
            log(f'prior step {pstep} loss {np.mean(acc[-20:]):.4f} lr {lr:.2e}')
            history['prior'].append({'step': pstep, 'loss': float(np.mean(acc[-20:]))})
            if pstep and not guard.check(float(np.mean(acc[-20:])), prior_e):
                guard.restore(prior_e)
                log(f'prior diverged at step {pstep} (best loss {guard.best:.4f}): stopped; the EMA weights of the '
                    'last good log kept')
                history['prior_diverged'] = pstep
                break
        pstep += 1
    log(f'prior: {pstep} steps in {time.time() - ts:.0f}s')
    config = {'encoder': enc_arch, 'decoder': dec_arch, 'prior': prior_arch, 'num_classes': K, 'classes': S.CLASSES,
              'latent_scale': scale, 'prediction_type': 'v_prediction', 'kl': a.kl}
    torch.save({'config': config, 'encoder': {k: v.half() for k, v in enc_e.state_dict().items()},
                'decoder': {k: v.half() for k, v in dec_e.state_dict().items()},
                'prior': {k: v.half() for k, v in prior_e.state_dict().items()}}, os.path.join(a.out, 'latent_ema.pt'))

    # ------------------------------------------------------------ 3. export (before the score: a run cut short keeps it)
    info = {'ae_steps': step, 'prior_steps': pstep, 'config': config, 'history': history, 'args': vars(a),
            'params': {'encoder': params(enc), 'decoder': params(dec), 'prior': params(prior)},
            'device': torch.cuda.get_device_name() if dev == 'cuda' else 'cpu', 'torch': torch.__version__}
    if not a.eval_only:
        info['onnx_check'] = export(dec_e, prior_e, dec_arch, prior_arch, K, a.out)
    with open(os.path.join(a.out, 'train_log.json'), 'w') as f:
        json.dump(info, f, indent=1)

    # ------------------------------------------------------------ 4. score
    dec_e.eval()
    prior_e.eval()
    n = ref.shape[1]
    labels = torch.arange(K, device=dev).repeat_interleave(n)
    rr, results, samples = {}, [], None
    te = time.time()
    onestage = SW.load_onnx_model(a.onestage).to(dev).eval() if a.onestage else None
    for s in ([] if onestage else [d for d in a.diag.split(',') if d]) + a.settings.split(','):
        if time.time() - te > a.eval_seconds:
            log('score budget spent; skipping', s)
            continue
        tg = time.time()
        name = s
        s, seed = split_seed(s)
        gen = torch.Generator(device=dev).manual_seed(seed)
        if s.startswith('recon'):  # the held-out clouds' own latents (posterior means): the decoder's ceiling
            with torch.no_grad(), amp(dev):
                zh = torch.cat([enc_e(held[i:i + 200])[0].float() for i in range(0, held.shape[0], 200)]) / scale
            x = generate(prior_e, dec_e, labels, parse_eval_setting('heun:25:1:5' + s[5:]), gen, dev, a.tokens, a.token_dim, z=zh)
        else:  # 'trainlat' = 'train/heun:25:1:5': the posterior means of n training clouds per class (a perfect prior)
            st = parse_eval_setting('train/heun:25:1:5' + s[8:] if s.startswith('trainlat') else s)
            zt = torch.cat([mu[torch.nonzero(lab == k)[:n, 0]] for k in range(K)]) / scale if st['prior'] == 'train' else None
            x = generate(prior_e, dec_e, labels, st, gen, dev, a.tokens, a.token_dim, z=zt, onestage=onestage)
        t_gen = time.time() - tg
        per_class, _ = SW.score(x, ref, rr)
        mean = SW.class_mean(per_class)
        results.append({'setting': name, 'mean': mean, 'per_class': per_class, 'gen_seconds': t_gen,
                        'metric_seconds': time.time() - tg - t_gen})
        log(f'{name}: 1-NNA {mean["nna"] * 100:.1f}% (gen {mean["nna_gen"] * 100:.1f}%, held-out {mean["nna_ref"] * 100:.1f}%) '
            f'COV {mean["cov"] * 100:.1f}% MMD {mean["mmd"]:.5f} spacing {mean["spacing_ratio"]:.2f} '
            f'[{" ".join("%s %.0f" % (c[:4], v["nna"] * 100) for c, v in per_class.items())}] ({t_gen:.1f}s + {time.time() - tg - t_gen:.1f}s)')
        if samples is None and not s.startswith(('recon', 'trainlat', 'train/')):
            pick = torch.cat([torch.arange(k * n, k * n + min(4, n)) for k in range(K)])
            samples = {'setting': s, 'clouds': x[pick].cpu().numpy()}
        with open(os.path.join(a.out, 'sweep.json'), 'w') as f:
            json.dump({'heldout_per_class': n, 'generated_per_class': n, 'results': results, 'train': info}, f, indent=1)
    if samples:
        np.savez_compressed(os.path.join(a.out, 'samples.npz'), clouds=samples['clouds'], labels=np.repeat(np.arange(K), 4),
                            setting=samples['setting'])
    log('done')


def export(dec, prior, dec_arch, prior_arch, K, out):
    """ONNX files of the decoder (unet.onnx) and prior (prior.onnx), with their constructor arguments in the
    metadata; returns ONNX Runtime's largest difference from PyTorch for each."""
    dec_c = PointDecoder(**dec_arch)
    dec_c.load_state_dict({k: v.float().cpu() for k, v in dec.state_dict().items()})
    prior_c = LatentPrior(K, **prior_arch)
    prior_c.load_state_dict({k: v.float().cpu() for k, v in prior.state_dict().items()})
    T, D = dec_arch['tokens'], dec_arch['token_dim']
    check = {}
    for name, m, ex, names, dyn in (
            ('unet', dec_c, (torch.randn(2, 6, S.NUM_POINTS), torch.tensor([999.0, 10.5]), torch.randn(2, T, D)),
             ['sample', 'timestep', 'shape_latent'], {'sample': {0: 'batch', 2: 'points'}, 'timestep': {0: 'batch'},
                                                      'shape_latent': {0: 'batch'}, 'out_sample': {0: 'batch', 2: 'points'}}),
            ('prior', prior_c, (torch.randn(2, T, D), torch.tensor([999.0, 10.5]), torch.tensor([0, K], dtype=torch.int64)),
             ['sample', 'timestep', 'class_labels'], {'sample': {0: 'batch'}, 'timestep': {0: 'batch'}, 'class_labels': {0: 'batch'},
                                                      'out_sample': {0: 'batch'}})):
        m.eval()
        for mod in m.modules():
            if hasattr(mod, 'use_sdpa'):
                mod.use_sdpa = False
        path = os.path.join(out, f'{name}.onnx')
        kw = dict(input_names=names, output_names=['out_sample'], opset_version=17, dynamic_axes=dyn)
        try:
            try:
                torch.onnx.export(m, ex, path, dynamo=False, **kw)
            except TypeError:  # torch < 2.5 has no dynamo argument
                torch.onnx.export(m, ex, path, **kw)
            SW.write_arch(path, dict(dec_arch if name == 'unet' else prior_arch, stage=name))
            import onnxruntime as ort
            sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
            xs = (torch.randn(3, 6, 700), torch.tensor([999.0, 500.25, 3.0]), torch.randn(3, T, D)) if name == 'unet' else \
                (torch.randn(3, T, D), torch.tensor([999.0, 500.25, 3.0]), torch.tensor([1, 5, K], dtype=torch.int64))
            with torch.no_grad():
                want = m(*xs).numpy()
            got = sess.run(None, {k: v.numpy() for k, v in zip(names, xs)})[0]
            check[name] = {'max_abs_diff': float(np.abs(want - got).max()), 'ref_abs_max': float(np.abs(want).max()),
                           'mb': os.path.getsize(path) / 1e6}
            log(f'{name}.onnx vs torch', check[name])
        except Exception as e:  # keep the run's other results: latent_ema.pt can be exported again
            import traceback
            traceback.print_exc()
            check[name] = {'error': str(e)[:300]}
    return check


if __name__ == '__main__':
    main()
