"""Python references for bench/reference.ts: the same bundled networks and the same sampler, from Python.

  python3 bench/reference/loop.py ort   INPUTS.json   (pyenv python3: onnxruntime + numpy, same ONNX files)
  /usr/bin/python3 bench/reference/loop.py torch INPUTS.json   (Debian python3-torch 1.13 + python3-onnx:
        the training recipes' torch modules with the weights read back from the ONNX initializers)

INPUTS.json is written by bench/reference.ts: per model the initial noise, the conditioning (class labels or
token ids), steps, guidance, sampler and the SDK's final sample from the same noise (for a correctness check).
The samplers are written here from diffusers' published update rules (DDIMScheduler and
DPMSolverMultistepScheduler with Karras sigmas): diffusers itself is not installable on this machine.
Prints one JSON line per model: loop time, model time, sampler time, decode time, max |x - SDK x|.
"""
import json
import math
import os
import sys
import time

import numpy as np

MODE = sys.argv[1]
INPUTS = json.load(open(sys.argv[2]))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
THREADS = int(os.environ.get("BENCH_THREADS", "0"))
REPS = int(os.environ.get("BENCH_REPS", "3"))

# ---------------------------------------------------------------- schedules and samplers (numpy float64 coefficients)


def alphas_cumprod(cfg):
    n = cfg["num_train_timesteps"]
    if cfg["beta_schedule"] == "linear":
        betas = np.linspace(cfg["beta_start"], cfg["beta_end"], n, dtype=np.float64)
    elif cfg["beta_schedule"] == "scaled_linear":
        betas = np.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, n, dtype=np.float64) ** 2
    else:
        raise ValueError(cfg["beta_schedule"])
    return np.cumprod(1.0 - betas)


class DDIM:
    """eta 0; 'leading' spacing; clip_sample; epsilon or v prediction (as diffusers' DDIMScheduler.step)."""

    def __init__(self, cfg, steps):
        self.ac = alphas_cumprod(cfg)
        n = cfg["num_train_timesteps"]
        ratio = n // steps
        self.ratio = ratio
        self.timesteps = (np.arange(0, steps) * ratio)[::-1] + cfg.get("steps_offset", 0)
        self.final = 1.0 if cfg.get("set_alpha_to_one", True) else self.ac[0]
        self.pred = cfg.get("prediction_type", "epsilon")
        self.clip = cfg.get("clip_sample", False)
        self.clip_range = cfg.get("clip_sample_range", 1.0)

    def model_input(self, x, i):
        return x

    def step(self, out, i, x, clamp):
        t = int(self.timesteps[i])
        prev = t - self.ratio
        a = float(self.ac[t])
        ap = float(self.ac[prev]) if prev >= 0 else float(self.final)
        if self.pred == "v_prediction":
            x0 = math.sqrt(a) * x - math.sqrt(1 - a) * out
            eps = math.sqrt(a) * out + math.sqrt(1 - a) * x
        else:
            x0 = (x - math.sqrt(1 - a) * out) / math.sqrt(a)
            eps = out
        if self.clip:
            x0 = clamp(x0, -self.clip_range, self.clip_range)
        return math.sqrt(ap) * x0 + math.sqrt(1 - ap) * eps


class DPMpp2MKarras:
    """DPM-Solver++(2M), Karras sigmas (rho 7), final sigma 0 with a first-order last step, epsilon prediction."""

    def __init__(self, cfg, steps):
        ac = alphas_cumprod(cfg)
        sig = ((1 - ac) / ac) ** 0.5
        log_sigmas = np.log(sig)
        smin, smax = sig[0], sig[-1]
        ramp = np.linspace(0, 1, steps)
        rho = 7.0
        sigmas = (smax ** (1 / rho) + ramp * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
        ts = []
        for s in sigmas:
            ls = np.log(s)
            d = ls - log_sigmas
            low = int(np.clip(np.cumsum(d >= 0).argmax(), 0, len(log_sigmas) - 2))
            lo, hi = log_sigmas[low], log_sigmas[low + 1]
            w = np.clip((lo - ls) / (lo - hi), 0, 1)
            ts.append((1 - w) * low + w * (low + 1))
        self.timesteps = np.round(np.array(ts)).astype(np.int64)
        self.sigmas = np.concatenate([sigmas, [0.0]])
        self.prev_x0 = None

    def model_input(self, x, i):
        return x

    @staticmethod
    def at(s):
        a = 1 / math.sqrt(s * s + 1)
        return a, s * a

    def step(self, out, i, x, clamp):
        n = len(self.timesteps)
        a_s0, s_s0 = self.at(float(self.sigmas[i]))
        x0 = (x - s_s0 * out) / a_s0
        sig_t = float(self.sigmas[i + 1])
        if sig_t == 0:
            res = x0  # first order to sigma 0: alpha_t = 1, exp(-h) = 0
        else:
            a_t, s_t = self.at(sig_t)
            lam_t = math.log(a_t) - math.log(s_t)
            lam_s0 = math.log(a_s0) - math.log(s_s0)
            h = lam_t - lam_s0
            if i == 0 or self.prev_x0 is None or i == n - 1:
                res = (s_t / s_s0) * x - a_t * (math.exp(-h) - 1.0) * x0
            else:
                a_s1, s_s1 = self.at(float(self.sigmas[i - 1]))
                lam_s1 = math.log(a_s1) - math.log(s_s1)
                r0 = (lam_s0 - lam_s1) / h
                d1 = (1.0 / r0) * (x0 - self.prev_x0)
                res = (s_t / s_s0) * x - a_t * (math.exp(-h) - 1.0) * x0 - 0.5 * a_t * (math.exp(-h) - 1.0) * d1
        self.prev_x0 = x0
        return res


class KarrasHeun:
    """Heun (EDM Algorithm 2, no churn) on Karras sigmas, as diffusers' HeunDiscreteScheduler with
    use_karras_sigmas: the evaluations interleaved (sigma_0, sigma_1, sigma_1, ..., sigma_24), the model
    sees x / sqrt(sigma^2 + 1) and the timestep interpolated from sigma in log space (not rounded)."""

    def __init__(self, cfg, steps):
        ac = alphas_cumprod(cfg)
        sig = ((1 - ac) / ac) ** 0.5
        log_sigmas = np.log(sig)
        rho = cfg.get("rho", 7.0)
        ramp = np.linspace(0, 1, steps)
        smax = float(cfg.get("sigma_max") or sig[-1])  # a config may narrow the schedule's range
        smin = float(cfg.get("sigma_min") or sig[0])
        s = (smax ** (1 / rho) + ramp * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
        ts = []
        for v in s:
            ls = np.log(v)
            low = int(np.clip(np.cumsum(ls - log_sigmas >= 0).argmax(), 0, len(log_sigmas) - 2))
            lo, hi = log_sigmas[low], log_sigmas[low + 1]
            w = np.clip((lo - ls) / (lo - hi), 0, 1)
            ts.append((1 - w) * low + w * (low + 1))
        s = np.concatenate([s, [0.0]])
        self.sigmas = [float(v) for v in np.concatenate([s[:1], np.repeat(s[1:-1], 2), s[-1:]])]
        self.timesteps = np.concatenate([np.array(ts[:1]), np.repeat(np.array(ts[1:]), 2)])
        self.init_sigma = float(s[0])
        self.prev = None

    def model_input(self, x, i):
        return x / math.sqrt(self.sigmas[i] ** 2 + 1)

    def step(self, out, i, x, clamp):
        if self.prev is None:
            sigma, nxt = self.sigmas[i], self.sigmas[i + 1]
            x0 = x - sigma * out
            d = (x - x0) / sigma
            dt = nxt - sigma
            if nxt == 0:
                return x + d * dt
            self.prev = (d, dt, x)
            return x + d * dt
        d0, dt, x_start = self.prev
        sigma = self.sigmas[i]
        x0 = x - sigma * out
        d = ((x - x0) / sigma + d0) / 2
        self.prev = None
        return x_start + d * dt


SAMPLERS = {"DDIM": DDIM, "DPM++ 2M Karras": DPMpp2MKarras, "KarrasHeunScheduler": KarrasHeun}

# ---------------------------------------------------------------- backends


def load_json(p):
    return json.load(open(os.path.join(ROOT, p)))


if MODE == "ort":
    import onnxruntime as ort

    def session(path):
        o = ort.SessionOptions()
        if THREADS:
            o.intra_op_num_threads = THREADS
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # the SDK's session defaults (src/runtime/onnx.ts): explicit threads, no spin-waiting
        o.add_session_config_entry("session.intra_op.allow_spinning", os.environ.get("BENCH_SPIN", "0"))
        return ort.InferenceSession(os.path.join(ROOT, path), o, providers=["CPUExecutionProvider"])

    def build(m):
        name = m["name"]
        unet = session(f"models/{name}/unet/model.onnx")
        tin = {i.name: i for i in unet.get_inputs()}
        ttype = np.int64 if tin["timestep"].type == "tensor(int64)" else np.float32
        nets = {"unet": unet}
        if name == "emoji":
            nets["te"] = session(f"models/{name}/text_encoder/model.onnx")
            nets["vae"] = session(f"models/{name}/vae_decoder/model.onnx")

        def unet_fn(x, t, cond):
            b = x.shape[0]
            feeds = {"sample": x, "timestep": np.full([b], t, dtype=ttype), **cond}
            return unet.run(["out_sample"], feeds)[0]

        def te_fn(ids):
            itype = np.int64 if nets["te"].get_inputs()[0].type == "tensor(int64)" else np.int32
            return nets["te"].run(None, {"input_ids": ids.astype(itype)})[0]

        def vae_fn(z):
            return nets["vae"].run(None, {"latent_sample": z})[0]

        if name == "emoji":
            return unet_fn, te_fn, vae_fn
        return unet_fn, None, None

    def labels(v):
        return np.array(v, dtype=np.int64)

    def tensor(v, shape):
        return np.array(v, dtype=np.float32).reshape(shape)

    def cat(xs):
        return np.concatenate(xs, 0)

    def clamp(x, lo, hi):
        return np.clip(x, lo, hi)

    def to_np(x):
        return x

    backend = f"Python onnxruntime {ort.__version__}, numpy {np.__version__}"

else:
    import onnx
    from onnx import numpy_helper
    import torch

    torch.set_grad_enabled(False)
    if THREADS:
        torch.set_num_threads(THREADS)
    sys.path.insert(0, os.path.join(ROOT, "training", "audio"))
    sys.path.insert(0, os.path.join(ROOT, "training", "image"))

    def onnx_weights(path):
        """Parameter name -> array. Named initializers as they are; the exporter's anonymous ones
        (onnx::Mul_N / onnx::Add_N of a decomposed GroupNorm, onnx::MatMul_N of a bias-free Linear,
        stored transposed) named by the module path in the consuming node's name."""
        g = onnx.load(os.path.join(ROOT, path)).graph
        init = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        out = {k: v for k, v in init.items() if not k.startswith("onnx::")}
        for n in g.node:
            parts = n.name.strip("/").split("/")[:-1]
            # a Sequential's child is scoped twice ("/ff/ff.0/MatMul"): keep the dotted one
            parts = [p for i, p in enumerate(parts) if not (i + 1 < len(parts) and parts[i + 1].startswith(p + "."))]
            mod = ".".join(parts)
            for x in n.input:
                if not x.startswith("onnx::") or x not in init:
                    continue
                if n.op_type == "Mul":
                    out[mod + ".weight"] = init[x]
                elif n.op_type == "Add":
                    out[mod + ".bias"] = init[x]
                elif n.op_type == "MatMul":
                    out[mod + ".weight"] = init[x].T
        return out

    def load_into(module, path, prefix=""):
        w = onnx_weights(path)
        sd = module.state_dict()
        missing = []
        new = {}
        for k, v in sd.items():
            src = w.get(prefix + k)
            if src is None or src.size != v.numel():
                missing.append(k)
                continue
            new[k] = torch.from_numpy(np.array(src, copy=True)).reshape(v.shape).to(v.dtype)
        if missing:
            raise RuntimeError(f"{path}: {len(missing)} of {len(sd)} parameters not recovered: {missing[:8]}")
        module.load_state_dict(new)
        return module.eval()

    def build(m):
        name = m["name"]
        if name in ("speech", "music"):
            from unet import UNet1D

            cfg = load_json(f"models/{name}/diffusekit.json")
            sizes = [c["size"] for c in cfg["classLabels"]["columns"]]
            n_mels = cfg["representation"]["nMels"]
            net = load_into(UNet1D(sizes, n_mels, channels=(96, 128, 160), emb=128, attn_levels=(2,)), f"models/{name}/unet/model.onnx")
            return (lambda x, t, cond: net(x, torch.full([x.shape[0]], float(t)), cond["class_labels"])), None, None
        if name == "emoji":
            from sd_modules import TextEncoder, UNet, VaeDecoder

            te_cfg = load_json("models/emoji/text_encoder/config.json")
            dim = te_cfg["hidden_size"]
            te = load_into(TextEncoder(te_cfg["vocab_size"], te_cfg["max_position_embeddings"], dim, layers=3, heads=4), "models/emoji/text_encoder/model.onnx", "te.")
            net = load_into(UNet(4, (64, 128), dim, heads=4), "models/emoji/unet/model.onnx")
            vae = load_into(VaeDecoder((48, 96), 4), "models/emoji/vae_decoder/model.onnx")
            return (
                (lambda x, t, cond: net(x, torch.full([x.shape[0]], float(t)), cond["encoder_hidden_states"])),
                (lambda ids: te(ids.long())[0]),
                (lambda z: vae(z)),
            )
        if name == "shapes":
            sys.path.insert(0, os.path.join(ROOT, "training", "shapes"))
            from model import PointDenoiser

            w = onnx_weights("models/shapes/unet/model.onnx")
            cfg = load_json("models/shapes/diffusekit.json")
            depth = 1 + max(int(k.split(".")[1]) for k in w if k.startswith("blocks."))
            nloc = len({k.split(".")[1] for k in w if k.startswith("locals.")})
            net = PointDenoiser(len(cfg["classes"]), width=w["inp.weight"].shape[0], depth=depth, latents=w["latents"].shape[0],
                                channels=cfg["channels"], local_every=(depth // nloc if nloc else 0))
            net = load_into(net, "models/shapes/unet/model.onnx")
            return (lambda x, t, cond: net(x, torch.full([x.shape[0]], float(t)), cond["class_labels"])), None, None
        raise ValueError(name)

    def labels(v):
        return torch.tensor(v, dtype=torch.int64)

    def tensor(v, shape):
        return torch.tensor(v, dtype=torch.float32).reshape(shape)

    def cat(xs):
        return torch.cat(xs, 0)

    def clamp(x, lo, hi):
        return torch.clamp(x, lo, hi)

    def to_np(x):
        return x.numpy()

    backend = f"PyTorch {torch.__version__} (Debian), {torch.get_num_threads()} threads"

# ---------------------------------------------------------------- the loop


def generate(m, unet_fn, te_fn, vae_fn):
    timings = {"model_ms": 0.0, "sampler": 0.0, "text": 0.0, "decode": 0.0}
    t0 = time.perf_counter()
    c0 = time.process_time()
    if m["name"] == "emoji":
        ids = labels([m["condIds"], m["uncondIds"]])
        ta = time.perf_counter()
        states = te_fn(ids)
        timings["text"] = time.perf_counter() - ta
        cond_both = {"encoder_hidden_states": cat([states[1:2], states[0:1]])}  # uncond first, as the SDK
    else:
        cond_both = {"class_labels": labels([m["uncond"], m["cond"]]).reshape([2, -1] if m["name"] != "shapes" else [2])}
    sched = SAMPLERS[m["sampler"]](INPUTS["schedulers"][m["name"]], m["steps"])
    x = tensor(m["noise"], m["shape"]) * getattr(sched, "init_sigma", 1.0)
    w = m["guidance"]
    loop0 = time.perf_counter()
    for i, t in enumerate(sched.timesteps):
        xin = sched.model_input(x, i)
        ta = time.perf_counter()
        out = unet_fn(cat([xin, xin]), t, cond_both)
        tb = time.perf_counter()
        u, c = out[0:1], out[1:2]
        guided = u + w * (c - u)
        x = sched.step(guided, i, x, clamp)
        timings["model_ms"] += tb - ta
        timings["sampler"] += time.perf_counter() - tb
    loop = time.perf_counter() - loop0
    loop_cpu = time.process_time() - c0
    if vae_fn is not None:
        ta = time.perf_counter()
        vae_fn(x / INPUTS["vaeScaling"])
        timings["decode"] = time.perf_counter() - ta
    total = time.perf_counter() - t0
    ref = np.array(m["sdk"], dtype=np.float32)
    diff = float(np.max(np.abs(to_np(x).reshape(-1) - ref)))
    return {"loop": loop, "loop_cpu": loop_cpu, "total": total, "diff": diff, **timings}


results = []
ONLY = os.environ.get("BENCH_MODELS")
for m in INPUTS["models"]:
    if ONLY and m["name"] not in ONLY.split(","):
        continue
    try:
        t0 = time.perf_counter()
        fns = build(m)
        load = time.perf_counter() - t0
        generate(m, *fns)  # warm-up
        runs = sorted((generate(m, *fns) for _ in range(REPS)), key=lambda r: r["loop"])
        r = runs[len(runs) // 2]
        results.append({"model": m["name"], "backend": backend, "load_s": load, **{k: (v * 1000 if k != "diff" else v) for k, v in r.items()}})
    except Exception as e:  # report and go on with the next model
        results.append({"model": m["name"], "backend": backend, "error": f"{type(e).__name__}: {e}"})
    print(json.dumps(results[-1]), flush=True)
