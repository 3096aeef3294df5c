"""The same math as the CUDA kernels, written as PyTorch eager operations the way diffusers does it
(randn_tensor, the CFG combine after chunk(2), rescale_noise_cfg, DDIMScheduler.step with a given
variance noise), timed with CUDA events on the same sizes. Bytes are counted as the ideal traffic of
the fused kernel (the same accounting as cudaBench), so GB/s compare directly.
Usage: python3 bench/gpu/torch_eager.py --json out.json"""
import argparse
import json
import math

import torch


def rescale_noise_cfg(noise_cfg, noise_pred_text, guidance_rescale):
    # as diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion.rescale_noise_cfg
    std_text = noise_pred_text.std(dim=list(range(1, noise_pred_text.ndim)), keepdim=True)
    std_cfg = noise_cfg.std(dim=list(range(1, noise_cfg.ndim)), keepdim=True)
    noise_pred_rescaled = noise_cfg * (std_text / std_cfg)
    return guidance_rescale * noise_pred_rescaled + (1 - guidance_rescale) * noise_cfg


def ddim_step(model_output, sample, noise, alpha_prod_t=0.3, alpha_prod_t_prev=0.55, eta=0.7):
    # DDIMScheduler.step, prediction_type="epsilon", eta > 0 with a given variance_noise
    beta_prod_t = 1 - alpha_prod_t
    variance = (1 - alpha_prod_t_prev) / beta_prod_t * (1 - alpha_prod_t / alpha_prod_t_prev)
    std_dev_t = eta * variance ** 0.5
    pred_original_sample = (sample - beta_prod_t ** 0.5 * model_output) / alpha_prod_t ** 0.5
    pred_epsilon = model_output
    pred_sample_direction = (1 - alpha_prod_t_prev - std_dev_t ** 2) ** 0.5 * pred_epsilon
    prev_sample = alpha_prod_t_prev ** 0.5 * pred_original_sample + pred_sample_direction
    return prev_sample + std_dev_t * noise


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--max", type=int, default=256 * 1024 * 1024)
    a = ap.parse_args()
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(0)
    rows = []
    n = 65536
    while n <= a.max:
        x = torch.randn(n, device=dev)
        m = torch.randn(2, n, device=dev)  # [uncond; cond] as one model batch
        z = torch.randn(n, device=dev)
        out = torch.empty(n, device=dev)
        w = 7.5
        fb = 4.0 * n

        def copy():
            out.copy_(x)

        def write():
            out.fill_(1.0)

        def philox():
            torch.randn(n, device=dev, generator=gen)

        def guidance():
            u, c = m.chunk(2)
            return u + w * (c - u)

        def guidance_rescale():
            # two batch items of n/2, as the CUDA bench (batch 2)
            u, c = m.view(2, 2, n // 2).unbind(0)
            g = u + w * (c - u)
            return rescale_noise_cfg(g, c, 0.7)

        def step():
            return ddim_step(m[0], x, z)

        def guided_step():
            u, c = m.chunk(2)
            eps = u + w * (c - u)
            return ddim_step(eps.view(n), x, z)

        for kind, fn, nbytes in [
            ("copy", copy, 2 * fb),
            ("write", write, fb),
            ("philox", philox, fb),
            ("guidance", guidance, 3 * fb),
            ("guidanceRescale", guidance_rescale, 7 * fb),
            ("step", step, 4 * fb),
            ("guidedStep", guided_step, 5 * fb),
        ]:
            iters = max(20, min(2000, round(5e8 / (n * 4 * 5))))
            fn()
            fn()
            torch.cuda.synchronize()
            e0 = torch.cuda.Event(enable_timing=True)
            e1 = torch.cuda.Event(enable_timing=True)
            e0.record()
            for _ in range(iters):
                fn()
            e1.record()
            torch.cuda.synchronize()
            ms = e0.elapsed_time(e1) / iters
            rows.append({"kind": kind, "n": n, "iters": iters, "ms": ms, "bytes": nbytes, "gbps": nbytes / (ms * 1e-3) / 1e9})
            print(f"{kind:16s} n={n:10d} {ms:.4f} ms {rows[-1]['gbps']:.1f} GB/s", flush=True)
        del x, m, z, out
        torch.cuda.empty_cache()
        n *= 4
    info = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda}
    print(json.dumps(info))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({**info, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
