"""Trains the speech or music diffusion model on the log-mel images of make_*_data.py, exports ONNX.

DDPM training (epsilon prediction, diffusers "linear" betas 1e-4..0.02 over 1000 steps), classifier-free
guidance through label dropout, EMA weights, a wall-clock budget. Then: ONNX export (opset 17; inputs
sample [B,1,M,T] float32, timestep [B] float32, class_labels [B,2] int64; output out_sample), a check
that onnxruntime (CPU) agrees with torch, and DDIM samples for listening / quality checks.

Usage: python3 train.py --model speech --data DIR --out DIR --seconds 360
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

sys.path.insert(0, os.path.dirname(__file__))
from unet import UNet, UNet1D  # noqa: E402

T = 1000
BETA_START, BETA_END = 1e-4, 0.02
# v prediction: with epsilon prediction the first run's models had an eps error floor (~0.015 MSE at
# t=999) that x0 = (x - sqrt(1-a) eps) / sqrt(a) amplifies ~150x, and sampling diverged; v keeps the
# x0 estimate bounded at every noise level.
PREDICTION = "v_prediction"


def scheduler_config():
    return {"_class_name": "DDPMScheduler", "_diffusers_version": "0.30.0", "num_train_timesteps": T,
            "beta_start": BETA_START, "beta_end": BETA_END, "beta_schedule": "linear", "trained_betas": None,
            "prediction_type": PREDICTION, "clip_sample": True, "clip_sample_range": 1.0, "variance_type": "fixed_small",
            "timestep_spacing": "leading", "steps_offset": 0, "thresholding": False,
            "set_alpha_to_one": True, "rescale_betas_zero_snr": False}


def load(model, data):
    path = os.path.join(data, "train.npz") if os.path.isdir(data) else data
    d = np.load(path)
    m = d["mels"]
    m = m.astype(np.float32) / 255 * 2 - 1 if m.dtype == np.uint8 else m.astype(np.float32)  # see pack_data.py
    x = torch.from_numpy(m)[:, None]
    if model == "speech":
        labels = np.stack([d["word"], d["voice"]], 1)
        sizes = [int(d["word"].max()) + 1, int(d["voice"].max()) + 1]
    else:
        labels = np.stack([d["pitch"] - 36, d["instrument"]], 1)
        sizes = [61, int(d["instrument"].max()) + 1]
    return x, torch.from_numpy(labels.astype(np.int64)), sizes


def split_output(out, x, a):
    """Model output at alpha_bar a -> (x0, eps) for the configured prediction type."""
    if PREDICTION == "v_prediction":
        x0 = math.sqrt(a) * x - math.sqrt(1 - a) * out
        eps = math.sqrt(1 - a) * x + math.sqrt(a) * out
        return x0, eps
    return (x - math.sqrt(1 - a) * out) / math.sqrt(a), out


@torch.no_grad()
def ddim(net, labels, shape, steps, guidance, null, device, seed=0):
    """Deterministic DDIM (eta 0), 'leading' spacing, CFG with the unconditional half batched."""
    betas = torch.linspace(BETA_START, BETA_END, T, dtype=torch.float64)
    ac = torch.cumprod(1 - betas, 0)
    g = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randn((labels.shape[0],) + shape, generator=g).to(device)
    ratio = T // steps
    ts = list(range(0, steps * ratio, ratio))[::-1]
    uncond = torch.tensor(null, device=device)[None].expand_as(labels)
    for t in ts:
        tt = torch.full((x.shape[0] * 2,), float(t), device=device)
        eps = net(torch.cat([x, x]), tt, torch.cat([labels, uncond]))
        e_c, e_u = eps.chunk(2)
        e = e_u + guidance * (e_c - e_u)
        a = ac[t].item()
        a_prev = ac[t - ratio].item() if t - ratio >= 0 else 1.0
        x0, e = split_output(e, x, a)
        x0 = x0.clamp(-1, 1)  # diffusers DDIM clip_sample (data lie in [-1, 1]); eps re-derived from it
        e = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
        x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * e
    return x


@torch.no_grad()
def dpm2m(net, labels, shape, steps, guidance, null, device, seed=0):
    """DPM-Solver++(2M) as diffusers' DPMSolverMultistepScheduler defaults: 'linspace' timesteps,
    midpoint second-order update, first order on the first step; final sigma 0, so the last step
    returns the data prediction."""
    betas = torch.linspace(BETA_START, BETA_END, T, dtype=torch.float64)
    ac = torch.cumprod(1 - betas, 0)
    alpha = ac.sqrt()
    sigma = (1 - ac).sqrt()
    lam = torch.log(alpha) - torch.log(sigma)
    g = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randn((labels.shape[0],) + shape, generator=g).to(device)
    ts = np.linspace(0, T - 1, steps + 1).round()[::-1][:-1].astype(np.int64).tolist()
    uncond = torch.tensor(null, device=device)[None].expand_as(labels)
    x0_prev, h_prev = None, None
    for i, t in enumerate(ts):
        tt = torch.full((x.shape[0] * 2,), float(t), device=device)
        eps = net(torch.cat([x, x]), tt, torch.cat([labels, uncond]))
        e_c, e_u = eps.chunk(2)
        e = e_u + guidance * (e_c - e_u)
        x0, _ = split_output(e, x, ac[t].item())
        last = i == len(ts) - 1
        if last:  # diffusers: final_sigmas_type "zero" makes the last step first order, i.e. x0
            x = x0
            break
        tn = ts[i + 1]
        h = (lam[tn] - lam[t]).item()
        if x0_prev is None:
            d = x0
        else:
            r = h_prev / h
            d = x0 + (x0 - x0_prev) / (2 * r)
        x = (sigma[tn].item() / sigma[t].item()) * x - alpha[tn].item() * math.expm1(-h) * d
        x0_prev, h_prev = x0, h
    return x


SWEEP = [("ddim", 10, 3.0), ("ddim", 25, 3.0), ("ddim", 50, 3.0), ("dpm2m", 10, 3.0), ("dpm2m", 25, 3.0),
         ("dpm2m", 50, 3.0), ("ddim", 25, 1.5), ("ddim", 25, 5.0)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["speech", "music"], required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seconds", type=float, default=360)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--arch", choices=["1d", "2d"], default="1d")
    ap.add_argument("--channels", default=None, help="default 96,128,160 (1d) or 32,64,80,96 (2d)")
    ap.add_argument("--emb", type=int, default=128)
    ap.add_argument("--sample-steps", type=int, default=50, help="below 10: caps every sweep setting (smoke tests)")
    ap.add_argument("--max-samples", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    log = open(os.path.join(args.out, "train_log.txt"), "w")

    def say(*a):
        s = " ".join(str(v) for v in a)
        print(f"[{args.model}] {s}", flush=True)
        log.write(s + "\n")
        log.flush()

    x, labels, sizes = load(args.model, args.data)
    null = sizes  # null id of each column = its size
    channels = tuple(int(c) for c in (args.channels or ("96,128,160" if args.arch == "1d" else "32,64,80,96")).split(","))

    def make():
        if args.arch == "1d":
            return UNet1D(sizes, x.shape[2], channels=channels, emb=args.emb, attn_levels=(len(channels) - 1,))
        return UNet(sizes, channels=channels, emb=args.emb)

    net = make().to(device)
    ema = make().to(device)
    ema.load_state_dict(net.state_dict())
    ema.requires_grad_(False)
    n_params = sum(p.numel() for p in net.parameters())
    say(f"gpu {gpu} data {tuple(x.shape)} labels {sizes} params {n_params}")
    x, labels = x.to(device), labels.to(device)
    betas = torch.linspace(BETA_START, BETA_END, T, dtype=torch.float64)
    sqrt_ac = torch.cumprod(1 - betas, 0).sqrt().float().to(device)
    sqrt_1m = (1 - torch.cumprod(1 - betas, 0)).sqrt().float().to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.0)
    null_t = torch.tensor(null, device=device)
    start = time.time()
    step, losses = 0, []
    use_bf16 = False  # launch-bound at this size: bf16 buys no speed, and fp32 keeps the small-t precision
    while True:
        elapsed = time.time() - start
        if elapsed > args.seconds:
            break
        lr = args.lr * min(1.0, (step + 1) / 300) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * elapsed / args.seconds)))
        for gr in opt.param_groups:
            gr["lr"] = lr
        idx = torch.randint(0, x.shape[0], (args.batch,), device=device)
        x0, lab = x[idx], labels[idx].clone()
        # label dropout for classifier-free guidance: all labels together (the unconditional model),
        # and for speech also the voice alone (so any word can be drawn in an unspecified voice)
        drop_all = torch.rand(args.batch, device=device) < 0.12
        lab = torch.where(drop_all[:, None], null_t[None].expand_as(lab), lab)
        if args.model == "speech":
            drop_voice = torch.rand(args.batch, device=device) < 0.08
            lab[:, 1] = torch.where(drop_voice, null_t[1], lab[:, 1])
        t = torch.randint(0, T, (args.batch,), device=device)
        noise = torch.randn_like(x0)
        xt = sqrt_ac[t][:, None, None, None] * x0 + sqrt_1m[t][:, None, None, None] * noise
        if use_bf16:
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                pred = net(xt, t.float(), lab)
        else:
            pred = net(xt, t.float(), lab)
        target = noise if PREDICTION == "epsilon" else sqrt_ac[t][:, None, None, None] * noise - sqrt_1m[t][:, None, None, None] * x0
        loss = F.mse_loss(pred.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pn in zip(ema.parameters(), net.parameters()):
                pe.lerp_(pn, 1 - decay)
        losses.append(loss.item() if step % 50 == 0 else None)
        if step % 500 == 0:
            say(f"step {step} t {elapsed:.0f}s loss {loss.item():.4f} lr {lr:.2e}")
        step += 1
    train_seconds = time.time() - start
    say(f"done: {step} steps in {train_seconds:.0f}s, batch {args.batch}")

    # export the EMA weights, fp32, on CPU
    ema_cpu = make()
    ema_cpu.load_state_dict({k: v.detach().cpu() for k, v in ema.state_dict().items()})
    ema_cpu.eval()
    shape = tuple(x.shape[1:])
    onnx_path = os.path.join(args.out, "model.onnx")
    ex = (torch.randn((2,) + shape), torch.tensor([999.0, 10.0]), torch.tensor([[0, 0], null], dtype=torch.int64))
    kw = dict(input_names=["sample", "timestep", "class_labels"], output_names=["out_sample"], opset_version=17,
              dynamic_axes={"sample": {0: "batch"}, "timestep": {0: "batch"}, "class_labels": {0: "batch"},
                            "out_sample": {0: "batch"}})
    try:
        torch.onnx.export(ema_cpu, ex, onnx_path, dynamo=False, **kw)
    except TypeError:  # torch < 2.5 has no dynamo argument
        torch.onnx.export(ema_cpu, ex, onnx_path, **kw)
    verify = {}
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        g = torch.Generator().manual_seed(5)
        xs = torch.randn((3,) + shape, generator=g)
        ts = torch.tensor([999.0, 500.0, 3.0])
        ls = torch.tensor([[1, 2], [0, null[1]], null], dtype=torch.int64)
        with torch.no_grad():
            ref = ema_cpu(xs, ts, ls).numpy()
        got = sess.run(["out_sample"], {"sample": xs.numpy(), "timestep": ts.numpy(), "class_labels": ls.numpy()})[0]
        verify = {"maxAbsDiff": float(np.abs(ref - got).max()), "maxAbsRef": float(np.abs(ref).max()),
                  "onnxruntime": ort.__version__}
        say("onnx verify", json.dumps(verify))
    except ImportError:
        say("onnxruntime not available: ONNX not verified here")

    # samples for the sampler/steps/guidance sweep: a grid of classes per setting, returned as uint8
    if args.model == "speech":
        grid = [(w, v) for v in (0, 2, 5, 7) for w in range(sizes[0])]
    else:
        grid = [(p, i) for p in range(0, sizes[0], 3) for i in range(sizes[1])]
    grid = grid[:args.max_samples]
    lab = torch.tensor(grid, dtype=torch.int64, device=device)
    out = {"labels": np.array(grid)}
    t0 = time.time()
    for name, steps_, gscale in SWEEP:
        fn = ddim if name == "ddim" else dpm2m
        steps_ = min(steps_, args.sample_steps) if args.sample_steps < 10 else steps_
        chunks = [fn(ema, lab[i:i + 256], shape, steps_, gscale, null, device, seed=args.seed + i)
                  for i in range(0, len(grid), 256)]
        img = torch.cat(chunks).squeeze(1).clamp(-1, 1).cpu().numpy()
        out[f"{name}_{steps_}_g{gscale:g}"] = np.round((img + 1) / 2 * 255).astype(np.uint8)
    say(f"sampled {len(grid)} x {len(SWEEP)} settings in {time.time() - t0:.0f}s")
    np.savez_compressed(os.path.join(args.out, "samples.npz"), **out)
    info = {"model": args.model, "gpu": gpu, "torch": torch.__version__, "steps": step, "batch": args.batch,
            "trainSeconds": round(train_seconds, 1), "params": n_params, "arch": args.arch, "channels": list(channels), "emb": args.emb,
            "labelSizes": sizes, "lr": args.lr, "emaDecay": 0.999, "labelDropout": {"all": 0.12, "voiceOnly": 0.08 if args.model == "speech" else 0},
            "lossTail": [v for v in losses if v is not None][-20:], "onnxVerify": verify,
            "sampleSteps": args.sample_steps, "seed": args.seed}
    with open(os.path.join(args.out, "train_info.json"), "w") as f:
        json.dump(info, f, indent=1)
    with open(os.path.join(args.out, "scheduler_config.json"), "w") as f:
        json.dump(scheduler_config(), f, indent=1)


if __name__ == "__main__":
    main()
