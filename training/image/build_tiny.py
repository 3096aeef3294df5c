"""Builds the tiny random-weight Stable Diffusion ONNX folders the SDK's tests load, one per
published interface variant, plus reference generations computed here in torch (the test's
independent reference for the whole TypeScript pipeline).

  tiny-sd-a: ORTStableDiffusionPipeline (Optimum), vocab.json + merges.txt, input_ids int32,
             unet timestep int64 [B], vae_encoder -> latent_parameters (mean ‖ logvar)
  tiny-sd-b: OnnxStableDiffusionPipeline (diffusers' older script), tokenizer.json, input_ids int64,
             unet timestep float32 scalar, vae_encoder -> latent_sample, unet weights in model.onnx_data

usage: /usr/bin/python3 training/image/build_tiny.py models/emoji/tokenizer test/fixtures/image
(runs on CPU with torch >= 1.13 and the onnx package)
"""
import json
import math
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_bpe import ClipBpe  # noqa: E402
from optimum_layout import dump, write_folder, write_tokenizer_config  # noqa: E402
from sd_modules import TextEncoder, UNet, VaeDecoder, VaeEncoder  # noqa: E402

tok_dir, out_root = sys.argv[1], sys.argv[2]
SCALING = 0.18215
LATENT_CH, FACTOR, SIZE = 4, 8, 64


def betas_ac():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float32) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


AC = betas_ac()


def ddim_timesteps(steps):
    # DDIMScheduler, timestep_spacing 'leading', steps_offset 1
    ratio = 1000 // steps
    return [int(t) + 1 for t in (np.arange(0, steps) * ratio).round()[::-1]]


@torch.no_grad()
def reference(te, unet, enc, dec, tok, case, parameters_out):
    """The diffusers StableDiffusion(Img2Img)Pipeline loop with DDIMScheduler (eta 0), in float32."""
    g = torch.Generator().manual_seed(case["seed"])
    steps, w, rescale = case["steps"], case["guidance"], case.get("guidance_rescale", 0.0)
    ids = torch.tensor([tok(case["negative_prompt"]), tok(case["prompt"])], dtype=torch.int64)
    ctx = te(ids)[0]
    ts = ddim_timesteps(steps)
    shape = (1, LATENT_CH, SIZE // FACTOR, SIZE // FACTOR)
    if "init" in case:
        init = torch.tensor(case["init"], dtype=torch.float32).reshape(1, SIZE, SIZE, 3).permute(0, 3, 1, 2) / 127.5 - 1
        p = enc(init)
        if parameters_out:
            mean, logvar = p[:, :LATENT_CH], p[:, LATENT_CH:].clamp(-30, 20)
            z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
        else:
            z = p[:, :LATENT_CH]
        z = z * SCALING
        init_t = min(int(steps * case["strength"]), steps)
        ts = ts[max(steps - init_t, 0):]
        noise = torch.randn(shape, generator=g)
        a = AC[ts[0]]
        x = a.sqrt() * z + (1 - a).sqrt() * noise
    else:
        x = torch.randn(shape, generator=g)
    for t in ts:
        tt = torch.tensor([t, t], dtype=torch.int64)
        eps_u, eps_c = unet(torch.cat([x, x]), tt, ctx).chunk(2)
        eps = eps_u + w * (eps_c - eps_u)
        if rescale > 0:
            std_text = eps_c.std(dim=list(range(1, eps_c.ndim)), keepdim=True)
            std_cfg = eps.std(dim=list(range(1, eps.ndim)), keepdim=True)
            eps = rescale * (eps * (std_text / std_cfg)) + (1 - rescale) * eps
        prev = t - 1000 // steps
        a, ap = AC[t], (AC[prev] if prev >= 0 else AC[0])
        x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        x = ap.sqrt() * x0 + (1 - ap).sqrt() * eps
    img = dec(x / SCALING)
    img = (img / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1)[0]
    return {"latents": x.flatten().tolist(), "image": (img * 255).round().to(torch.uint8).flatten().tolist()}


def init_image():
    # a smooth deterministic picture: red disc on a blue/green gradient
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    r = np.where((x - 32) ** 2 + (y - 28) ** 2 < 18 ** 2, 220, 30)
    gch = (x * 4).clip(0, 255)
    b = (y * 4).clip(0, 255)
    return np.stack([r, gch, b], -1).astype(np.uint8).flatten().tolist()


def tokenizer_json(vocab, merges):
    """tokenizers' JSON for a CLIP BPE, as CLIPTokenizerFast saves it (written here independently)."""
    sp = lambda c: {"id": vocab[c], "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                    "normalized": True, "special": True}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [sp("<|startoftext|>"), sp("<|endoftext|>")],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}, {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", vocab["<|endoftext|>"]],
                           "cls": ["<|startoftext|>", vocab["<|startoftext|>"]], "trim_offsets": False, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges},
    }


def small_tokenizer(dst, n_merges=120):
    """A cut-down copy of the emoji BPE: its first merges and the tokens they make (keeps files tiny)."""
    vocab = json.load(open(f"{tok_dir}/vocab.json"))
    merges = [l for l in open(f"{tok_dir}/merges.txt").read().split("\n")[1:] if l.strip()][:n_merges]
    base = [t for t, i in sorted(vocab.items(), key=lambda kv: kv[1]) if i < 512]
    toks = base + ["".join(m.split()) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    v = {t: i for i, t in enumerate(toks)}
    os.makedirs(dst, exist_ok=True)
    json.dump(v, open(f"{dst}/vocab.json", "w"), ensure_ascii=False)
    open(f"{dst}/merges.txt", "w").write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return v, merges


def build(name, seed, *, max_length, class_name, ids_dtype, scalar_timestep, timestep_int64, parameters_out,
          external, tokenizer_file, cases):
    torch.manual_seed(seed)
    out = f"{out_root}/{name}"
    shutil.rmtree(out, ignore_errors=True)
    tdir = f"{out}/tokenizer"
    vocab, merges = small_tokenizer(tdir)
    te = TextEncoder(len(vocab), max_length, 32, layers=1, heads=2).eval()
    unet = UNet(LATENT_CH, (8, 16), 32, heads=2, scalar_timestep=scalar_timestep).eval()
    enc = VaeEncoder((8, 16), LATENT_CH, levels=3).eval()
    dec = VaeDecoder((8, 16), LATENT_CH, levels=3).eval()
    # random init gives a near-zero eps; scale the last conv so the sampler has something to do
    with torch.no_grad():
        unet.conv_out.weight.mul_(20)
        unet.conv_out.bias.zero_()
    write_folder(out, text_encoder=te, unet=unet, vae_encoder=enc, vae_decoder=dec, latent_ch=LATENT_CH, vae_factor=FACTOR,
                 max_length=max_length, scaling_factor=SCALING, image_size=SIZE, class_name=class_name,
                 input_ids_dtype=ids_dtype, scalar_timestep=scalar_timestep, timestep_int64=timestep_int64,
                 encoder_parameters=parameters_out, external_data=external,
                 diffusekit={"modality": "image", "name": name, "defaults": {"steps": 4, "guidance": 7.5, "sampler": "DDIM", "width": SIZE, "height": SIZE}})
    if tokenizer_file:
        json.dump(tokenizer_json(vocab, merges), open(f"{tdir}/tokenizer.json", "w"), ensure_ascii=False)
        os.remove(f"{tdir}/vocab.json")
        os.remove(f"{tdir}/merges.txt")
        if max_length != 77:
            write_tokenizer_config(out, max_length)
    else:
        write_tokenizer_config(out, max_length)
    # the tiny folders use the DDIM scheduler so the reference loop above is the scheduler's own
    dump(f"{out}/scheduler/scheduler_config.json", {
        "_class_name": "DDIMScheduler", "_diffusers_version": "0.30.0", "beta_start": 0.00085, "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon",
        "set_alpha_to_one": False, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None})
    # the references tokenise with the full merges list of this folder
    mfile = f"{out_root}/.merges-{name}.txt"
    vfile = f"{out_root}/.vocab-{name}.json"
    json.dump(vocab, open(vfile, "w"), ensure_ascii=False)
    open(mfile, "w").write("#version: 0.2\n" + "\n".join(merges) + "\n")
    tok = ClipBpe(vfile, mfile, max_length)
    os.remove(mfile)
    os.remove(vfile)
    refs = []
    for c in cases:
        r = reference(te, unet, enc, dec, tok, c, parameters_out)
        refs.append({**{k: v for k, v in c.items() if k != "init"}, "has_init": "init" in c,
                     "prompt_ids": tok(c["prompt"]), **r})
    json.dump({"cases": refs, "init_image": init_image()}, open(f"{out_root}/{name}-reference.json", "w"))
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    print(name, f"{total / 1024:.0f} KiB")


text_case = {"prompt": "red apple", "negative_prompt": "", "steps": 4, "guidance": 7.5, "seed": 42}
build("tiny-sd-a", 1, max_length=16, class_name="ORTStableDiffusionPipeline", ids_dtype=torch.int32,
      scalar_timestep=False, timestep_int64=True, parameters_out=True, external=False, tokenizer_file=False,
      cases=[text_case,
             {"prompt": "smiling face", "negative_prompt": "blurry", "steps": 5, "guidance": 5.0, "guidance_rescale": 0.7, "seed": 7},
             {"prompt": "red apple", "negative_prompt": "", "steps": 5, "guidance": 3.0, "seed": 3, "strength": 0.6, "init": init_image()}])
build("tiny-sd-b", 2, max_length=77, class_name="OnnxStableDiffusionPipeline", ids_dtype=torch.int64,
      scalar_timestep=True, timestep_int64=False, parameters_out=False, external=True, tokenizer_file=True,
      cases=[text_case,
             {"prompt": "red apple", "negative_prompt": "", "steps": 5, "guidance": 3.0, "seed": 3, "strength": 0.6, "init": init_image()}])
