"""Writes a Stable Diffusion ONNX folder in the layout Optimum (`optimum-cli export onnx`) and
diffusers' older ONNX script produce: model_index.json, scheduler/, tokenizer/, text_encoder/, unet/,
vae_decoder/, vae_encoder/ (each graph as model.onnx with its config.json), plus our diffusekit.json.
"""
import json
import os

import torch

from sd_modules import EncoderExport, TextExport, onnx_export

SD_SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.30.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
}


def dump(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_folder(out, *, text_encoder, unet, vae_encoder, vae_decoder, latent_ch, vae_factor, max_length,
                 scaling_factor, image_size, class_name="ORTStableDiffusionPipeline", input_ids_dtype=torch.int32,
                 scalar_timestep=False, timestep_int64=False, encoder_parameters=True, external_data=False,
                 diffusekit=None):
    os.makedirs(out, exist_ok=True)
    latent = image_size // vae_factor
    b = 2
    ids = torch.zeros(b, max_length, dtype=input_ids_dtype)
    te = TextExport(text_encoder)
    onnx_export(te, (ids,), _p(out, "text_encoder"),
                ["input_ids"], ["last_hidden_state", "pooler_output"],
                {"input_ids": {0: "batch_size", 1: "sequence_length"}, "last_hidden_state": {0: "batch_size", 1: "sequence_length"},
                 "pooler_output": {0: "batch_size"}})
    ctx = text_encoder(ids)[0].detach()
    sample = torch.randn(b, latent_ch, latent, latent)
    if scalar_timestep:
        t = torch.tensor(500.0)
        t_axes = {}
    elif timestep_int64:
        t = torch.full((b,), 500, dtype=torch.int64)
        t_axes = {"timestep": {0: "steps"}}
    else:
        t = torch.full((b,), 500.0)
        t_axes = {"timestep": {0: "steps"}}
    upath = _p(out, "unet")
    onnx_export(unet, (sample, t, ctx), upath, ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
                {"sample": {0: "batch_size", 2: "height", 3: "width"}, **t_axes,
                 "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"},
                 "out_sample": {0: "batch_size", 2: "height", 3: "width"}})
    if external_data:
        move_to_external(upath)
    enc = EncoderExport(vae_encoder, latent_ch, encoder_parameters)
    onnx_export(enc, (torch.randn(1, 3, image_size, image_size),), _p(out, "vae_encoder"), ["sample"],
                ["latent_parameters" if encoder_parameters else "latent_sample"],
                {"sample": {0: "batch_size", 2: "height", 3: "width"},
                 ("latent_parameters" if encoder_parameters else "latent_sample"): {0: "batch_size", 2: "height_latent", 3: "width_latent"}})
    onnx_export(vae_decoder, (torch.randn(1, latent_ch, latent, latent),), _p(out, "vae_decoder"), ["latent_sample"], ["sample"],
                {"latent_sample": {0: "batch_size", 2: "height_latent", 3: "width_latent"}, "sample": {0: "batch_size", 2: "height", 3: "width"}})

    vae_cfg = {"_class_name": "AutoencoderKL", "_diffusers_version": "0.30.0", "in_channels": 3, "out_channels": 3,
               "latent_channels": latent_ch, "sample_size": image_size, "scaling_factor": scaling_factor,
               "block_out_channels": [64] * (1 + {4: 2, 8: 3}[vae_factor])}
    dump(f"{out}/vae_decoder/config.json", vae_cfg)
    dump(f"{out}/vae_encoder/config.json", vae_cfg)
    dump(f"{out}/unet/config.json", {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.30.0", "in_channels": latent_ch,
                                     "out_channels": latent_ch, "sample_size": latent,
                                     "cross_attention_dim": int(ctx.shape[-1])})
    dump(f"{out}/text_encoder/config.json", {"architectures": ["CLIPTextModel"], "model_type": "clip_text_model",
                                             "hidden_size": int(ctx.shape[-1]), "max_position_embeddings": max_length,
                                             "vocab_size": int(text_encoder.tok.num_embeddings)})
    dump(f"{out}/scheduler/scheduler_config.json", SD_SCHEDULER)
    dump(f"{out}/model_index.json", {
        "_class_name": class_name, "_diffusers_version": "0.30.0",
        "feature_extractor": [None, None], "safety_checker": [None, None],
        "requires_safety_checker": False,
        "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["onnxruntime", "ORTModel" if class_name.startswith("ORT") else "OnnxRuntimeModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["onnxruntime", "OnnxRuntimeModel"],
        "vae_decoder": ["onnxruntime", "OnnxRuntimeModel"], "vae_encoder": ["onnxruntime", "OnnxRuntimeModel"]})
    if diffusekit is not None:
        dump(f"{out}/diffusekit.json", diffusekit)


def write_tokenizer_config(out, max_length):
    dump(f"{out}/tokenizer/tokenizer_config.json", {
        "tokenizer_class": "CLIPTokenizer", "model_max_length": max_length, "do_lower_case": True,
        "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>"})
    dump(f"{out}/tokenizer/special_tokens_map.json", {
        "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>"})


def _p(out, comp):
    os.makedirs(f"{out}/{comp}", exist_ok=True)
    return f"{out}/{comp}/model.onnx"


def move_to_external(path):
    """Rewrites a graph with its weights in `model.onnx_data` beside it (what large exports do)."""
    import onnx

    m = onnx.load(path)
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="model.onnx_data",
                    size_threshold=0)
