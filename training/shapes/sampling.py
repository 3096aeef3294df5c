"""PyTorch versions of the samplers the SDK ships, with diffusers semantics, for the GPU quality sweep.

- DDIM: diffusers DDIMScheduler, eta 0, timestep_spacing "trailing", set_alpha_to_one true.
- Heun with Karras sigmas: diffusers HeunDiscreteScheduler(use_karras_sigmas=True) = k-diffusion's
  sample_heun (EDM Algorithm 2) with optional churn (s_churn, s_tmin, s_tmax, s_noise). The model sees
  x / sqrt(sigma^2 + 1) and the timestep interpolated from sigma in log space.
Both use classifier-free guidance: out = out_u + g * (out_c - out_u), the halves in one batch, and read the
network output as epsilon or as v (diffusers' prediction_type "v_prediction": v = sqrt(a) eps - sqrt(1-a) x0).

Also: the point-cloud metrics of PointFlow (arXiv 1906.12320) on the GPU, with the SDK's Chamfer form
CD(X, Y) = mean_x min_y |x-y|^2 + mean_y min_x |x-y|^2 (squared distances, means, summed both ways).
"""
import math
import os

import numpy as np
import torch


def schedule(num_train=1000, beta_start=1e-4, beta_end=0.02):
    betas = torch.linspace(beta_start, beta_end, num_train, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0)


class Guided:
    """Wraps the network: eps(x_in, t) for a batch, with classifier-free guidance."""

    def __init__(self, model, labels, guidance, null_label):
        self.model, self.labels, self.g, self.null = model, labels, guidance, null_label

    @torch.no_grad()
    def __call__(self, x_in, t):
        b = x_in.shape[0]
        tt = torch.full((b,), float(t), device=x_in.device, dtype=torch.float32)
        if self.g == 1.0:
            return self.model(x_in, tt, self.labels).float()
        both = self.model(torch.cat([x_in, x_in]), torch.cat([tt, tt]),
                          torch.cat([torch.full_like(self.labels, self.null), self.labels])).float()
        u, c = both.chunk(2)
        return u + self.g * (c - u)


def to_x0_eps(out, x, a_t, prediction):
    """(x0, eps) from the network output at sqrt(alpha_bar) = sqrt(a_t), for either prediction type."""
    sa, sb = torch.sqrt(a_t), torch.sqrt(1 - a_t)
    if prediction == 'v_prediction':
        return sa * x - sb * out, sb * x + sa * out
    return (x - sb * out) / sa, out


def ddim(eps_fn, shape, steps, gen, device, alphas_cumprod, trajectory=False, prediction='epsilon'):
    T = alphas_cumprod.shape[0]
    ts = (np.round(np.arange(T, 0, -T / steps)) - 1).astype(np.int64)
    ac = alphas_cumprod.to(device)
    x = torch.randn(shape, generator=gen, device=device, dtype=torch.float32)
    traj = []
    for i, t in enumerate(ts):
        prev = t - T // steps
        a_t = ac[t].float()
        a_p = ac[prev].float() if prev >= 0 else torch.tensor(1.0, device=device)
        x0, eps = to_x0_eps(eps_fn(x, t), x, a_t, prediction)
        if trajectory:
            traj.append(x0.cpu())
        x = torch.sqrt(a_p) * x0 + torch.sqrt(1 - a_p) * eps
    return x, traj


def karras_sigmas(alphas_cumprod, steps, rho=7.0, sigma_max=None):
    sig = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
    smin, smax = float(sig[0]), float(sig[-1]) if sigma_max is None else sigma_max
    ramp = np.linspace(0, 1, steps)
    s = (smax ** (1 / rho) + ramp * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    return np.concatenate([s, [0.0]]), np.log(sig.numpy())


def sigma_to_t(sigma, log_sigmas):
    """diffusers' _sigma_to_t: linear interpolation in log sigma between neighbouring timesteps."""
    ls = math.log(max(sigma, 1e-10))
    idx = int(np.clip(np.searchsorted(log_sigmas, ls, side='right') - 1, 0, len(log_sigmas) - 2))
    lo, hi = log_sigmas[idx], log_sigmas[idx + 1]
    w = np.clip((lo - ls) / (lo - hi), 0, 1)
    return (1 - w) * idx + w * (idx + 1)


def heun_karras(eps_fn, shape, steps, gen, device, alphas_cumprod, churn=0.0, s_tmin=0.0, s_tmax=float('inf'),
                s_noise=1.0, trajectory=False, sigma_max=None, prediction='epsilon'):
    """sigma_max: start lower than the schedule's largest sigma (the shipped default uses 5)."""
    sigmas, log_sigmas = karras_sigmas(alphas_cumprod, steps, sigma_max=sigma_max)
    x = torch.randn(shape, generator=gen, device=device, dtype=torch.float32) * float(sigmas[0])
    traj = []

    def denoise(x, s):
        out = eps_fn(x / math.sqrt(s * s + 1), sigma_to_t(s, log_sigmas))
        if prediction == 'v_prediction':  # diffusers: x0 = v * (-s / sqrt(s^2 + 1)) + x / (s^2 + 1)
            return out * (-s / math.sqrt(s * s + 1)) + x / (s * s + 1)
        return x - s * out

    for i in range(steps):
        s, sn = float(sigmas[i]), float(sigmas[i + 1])
        gamma = min(churn / steps, 2 ** 0.5 - 1) if s_tmin <= s <= s_tmax else 0.0
        if gamma > 0:
            s_hat = s * (1 + gamma)
            x = x + torch.randn(shape, generator=gen, device=device) * s_noise * math.sqrt(s_hat ** 2 - s ** 2)
            s = s_hat
        x0 = denoise(x, s)
        if trajectory:
            traj.append(x0.cpu())
        d = (x - x0) / s
        if sn == 0:
            x = x + d * (sn - s)
        else:
            x2 = x + d * (sn - s)
            d2 = (x2 - denoise(x2, sn)) / sn
            x = x + (d + d2) / 2 * (sn - s)
    return x, traj


def refine(eps_fn, x, sigma, iters, stochastic=False, gen=None, alphas_cumprod=None):
    """After sampling: iters times x <- the network's clean estimate of x read as a sample at noise level sigma
    (stochastic: of x plus fresh noise of that level). eps_fn(x_in, t) as in heun_karras (v-prediction). A denoiser
    that blurs surfaces leaves fuzz; applied to its own output at a small sigma, it moves points towards the ridge of
    the density it learned."""
    log_sigmas = np.log((((1 - alphas_cumprod) / alphas_cumprod) ** 0.5).numpy()) if alphas_cumprod is not None else \
        np.log(((1 - schedule()) / schedule()).sqrt().numpy())
    t = sigma_to_t(sigma, log_sigmas)
    c = math.sqrt(sigma * sigma + 1)
    for _ in range(iters):
        xn = x + sigma * torch.randn(x.shape, generator=gen, device=x.device) if stochastic else x
        x = eps_fn(xn / c, t) * (-sigma / c) + xn / (c * c)
    return x


def log_sigma_to_t(ls, log_sigmas):
    """Vectorised sigma_to_t: ls [b] (log sigma), log_sigmas [T] ascending (torch) -> fractional t [b]."""
    idx = (torch.searchsorted(log_sigmas, ls.contiguous(), right=True) - 1).clamp(0, log_sigmas.shape[0] - 2)
    lo, hi = log_sigmas[idx], log_sigmas[idx + 1]
    w = ((lo - ls) / (lo - hi)).clamp(0, 1)
    return idx.float() + w


def draw_t_sigma(b, log_sig, dist, dev):
    """Training noise levels for a batch of b: (fractional timestep [b], sigma [b]). log_sig [T] ascending (torch, on dev).
    dist 'mixed': half uniform over the timesteps, half log-normal in sigma (EDM's ln sigma ~ N(-1.2, 1.2), the levels
    that shape the surface); 'low': a quarter uniform, 40% that log-normal, 35% a second one at small sigma
    (ln sigma ~ N(-3, 1)); 'uniform': all uniform."""
    t = torch.rand(b, device=dev) * 999
    if dist != 'uniform':
        h = b // 2 if dist == 'mixed' else int(b * 0.4)
        lo_n = 0 if dist == 'mixed' else int(b * 0.35)
        ls = torch.cat([torch.randn(h, device=dev) * 1.2 - 1.2, torch.randn(lo_n, device=dev) - 3.0])
        ls = ls.clamp(float(log_sig[0]), float(log_sig[-1]))
        t[:h + lo_n] = log_sigma_to_t(ls, log_sig)
    lo = t.floor().long().clamp(max=998)
    w = t - lo
    return t, torch.exp(log_sig[lo] * (1 - w) + log_sig[lo + 1] * w)


# ---------------------------------------------------------------- metrics

def chamfer_matrix(a, b, rows=None, cols=None):
    """a [n, N, 3], b [m, M, 3] (on the GPU) -> [n, m] float64 Chamfer distances (the SDK's form). Works on
    [rows, cols, N, M] distances at a time (cols None: all of b; on a CPU, 1 and 1 keep it in cache; rows None:
    $SHAPES_CHAMFER_ROWS or 8, which takes 13 GB for 100 x 2048 points: fewer where processes share a GPU)."""
    rows = rows or int(os.environ.get('SHAPES_CHAMFER_ROWS', 8))
    out = torch.empty(a.shape[0], b.shape[0], dtype=torch.float64)
    cols = cols or b.shape[0]
    for j0 in range(0, b.shape[0], cols):
        bj = b[j0:j0 + cols]
        bb = (bj * bj).sum(-1)  # [c, M]
        for i0 in range(0, a.shape[0], rows):
            ai = a[i0:i0 + rows]
            aa = (ai * ai).sum(-1)  # [r, N]
            d = aa[:, None, :, None] + bb[None, :, None, :] - 2 * torch.einsum('rnd,jmd->rjnm', ai, bj)
            d = d.clamp_min(0)
            cd = d.min(3).values.mean(2) + d.min(2).values.mean(2)
            out[i0:i0 + rows, j0:j0 + cols] = cd.double().cpu()
    return out


def normalise_clouds(xyz):
    """[n, N, 3] -> each cloud in the data's frame (shapes_data.normalise): bounding-box centre at the origin,
    farthest point at distance 1."""
    centre = (xyz.amax(1, keepdim=True) + xyz.amin(1, keepdim=True)) / 2
    xyz = xyz - centre
    return xyz / xyz.norm(dim=-1).amax(1)[:, None, None].clamp_min(1e-12)


def pointflow_metrics(d_gr, d_gg, d_rr):
    """1-NNA, COV and MMD from the Chamfer matrices gen-ref [n,m], gen-gen [n,n], ref-ref [m,m]."""
    n, m = d_gr.shape
    inf = torch.tensor(float('inf'), dtype=torch.float64)
    gg = d_gg.clone().fill_diagonal_(inf)
    rr = d_rr.clone().fill_diagonal_(inf)
    # 1-NNA: a cloud counts as correct when its nearest neighbour (leave-one-out) is from its own set.
    gen_ok = (gg.min(1).values < d_gr.min(1).values).double().sum()
    ref_ok = (rr.min(1).values < d_gr.min(0).values).double().sum()
    nna = float((gen_ok + ref_ok) / (n + m))
    cov = float(torch.unique(d_gr.argmin(1)).numel() / m)
    mmd = float(d_gr.min(0).values.mean())
    # The two halves of 1-NNA: a mean near 50 % can hide held-out clouds that always find each other (ref side
    # near 100 %) beside generated clouds far from everything, each other included (gen side near 0 %).
    return {'nna': nna, 'cov': cov, 'mmd': mmd, 'nna_gen': float(gen_ok / n), 'nna_ref': float(ref_ok / m)}


def point_spacing(xyz, k=8, rows=16):
    """[n, N, 3] -> [n]: each cloud's mean distance from a point to its k-th nearest other point. Points spread
    uniformly on a surface give a spacing set by its area; a fuzzy cloud (points off the surface, filling a
    volume) a larger one, a clumped cloud (points gathered in blobs and strands) a smaller one."""
    out = []
    for i0 in range(0, xyz.shape[0], rows):
        a = xyz[i0:i0 + rows].float()
        sq = (a * a).sum(-1)
        d = (sq[:, :, None] + sq[:, None, :] - 2 * a @ a.transpose(1, 2)).clamp_min(0)
        out.append(d.topk(k + 1, dim=-1, largest=False).values[..., k].sqrt().mean(1))
    return torch.cat(out)
