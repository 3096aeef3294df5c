"""Small torch modules with Stable Diffusion's ONNX interfaces (Optimum layout).

Written from scratch (no diffusers) so the same classes serve the bundled emoji model and the tiny
random-weight test fixtures. Every op is one that both torch's TorchScript ONNX exporter (torch 1.13
and 2.x) and onnxruntime handle: plain matmul attention, GroupNorm, LayerNorm, nearest upsampling.

Interfaces (what the SDK's loader expects, as Optimum writes them):
  text_encoder: input_ids int32|int64 [B, L]            -> last_hidden_state [B, L, D], pooler_output [B, D]
  unet:         sample [B, C, h, w], timestep, encoder_hidden_states [B, L, D] -> out_sample [B, C, h, w]
  vae_encoder:  sample [B, 3, H, W] in [-1, 1]          -> latent_sample [B, C, h, w] or latent_parameters [B, 2C, h, w]
  vae_decoder:  latent_sample [B, C, h, w] (unscaled)   -> sample [B, 3, H, W] in [-1, 1]
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def groups_for(c):
    for g in (32, 16, 8, 4, 2, 1):
        if c % g == 0 and c // g >= 2:
            return g
    return 1


class Attention(nn.Module):
    """Multi-head attention written with matmuls so that every exporter handles it."""

    def __init__(self, dim, context_dim=None, heads=4):
        super().__init__()
        context_dim = context_dim or dim
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(context_dim, dim, bias=False)
        self.v = nn.Linear(context_dim, dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, context=None):
        context = x if context is None else context
        b, n, d = x.shape
        m = context.shape[1]
        h = self.heads
        q = self.q(x).reshape(b, n, h, d // h).transpose(1, 2)
        k = self.k(context).reshape(b, m, h, d // h).transpose(1, 2)
        v = self.v(context).reshape(b, m, h, d // h).transpose(1, 2)
        w = torch.softmax(torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(d // h)), dim=-1)
        y = torch.matmul(w, v).transpose(1, 2).reshape(b, n, d)
        return self.out(y)


class TransformerLayer(nn.Module):
    def __init__(self, dim, heads, context_dim=None, mlp=4):
        super().__init__()
        self.n1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads=heads)
        self.cross = context_dim is not None
        if self.cross:
            self.n2 = nn.LayerNorm(dim)
            self.xattn = Attention(dim, context_dim, heads=heads)
        self.n3 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim * mlp), nn.GELU(), nn.Linear(dim * mlp, dim))

    def forward(self, x, context=None):
        x = x + self.attn(self.n1(x))
        if self.cross:
            x = x + self.xattn(self.n2(x), context)
        return x + self.ff(self.n3(x))


class TextEncoder(nn.Module):
    """A small bidirectional transformer over CLIP-BPE ids (padding included, as SD feeds it)."""

    def __init__(self, vocab_size, max_length, dim, layers, heads):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, dim)
        self.pos = nn.Parameter(torch.zeros(1, max_length, dim))
        nn.init.normal_(self.pos, std=0.02)
        self.layers = nn.ModuleList([TransformerLayer(dim, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, input_ids):
        ids = input_ids.long()
        x = self.tok(ids) + self.pos[:, : ids.shape[1]]
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)
        return x, x.mean(dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb=None):
        super().__init__()
        self.n1 = nn.GroupNorm(groups_for(cin), cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout) if temb else None
        self.n2 = nn.GroupNorm(groups_for(cout), cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, t=None):
        h = self.c1(F.silu(self.n1(x)))
        if self.t is not None:
            h = h + self.t(F.silu(t))[:, :, None, None]
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class SpatialTransformer(nn.Module):
    """Self-attention + cross-attention to the text, over the pixels of a feature map."""

    def __init__(self, c, context_dim, heads):
        super().__init__()
        self.norm = nn.GroupNorm(groups_for(c), c)
        self.proj_in = nn.Linear(c, c)
        self.block = TransformerLayer(c, heads, context_dim, mlp=2)
        self.proj_out = nn.Linear(c, c)

    def forward(self, x, context):
        b, c, h, w = x.shape
        y = self.norm(x).reshape(b, c, h * w).transpose(1, 2)
        y = self.proj_out(self.block(self.proj_in(y), context))
        return x + y.transpose(1, 2).reshape(b, c, h, w)


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32, device=t.device) * (-math.log(10000.0) / half))
    args = t[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class UNet(nn.Module):
    """Two-level conditional UNet with cross-attention at every level."""

    def __init__(self, in_ch, ch, context_dim, heads, scalar_timestep=False):
        super().__init__()
        c0, c1 = ch
        self.scalar_timestep = scalar_timestep
        self.tdim = c0
        temb = c0 * 4
        self.temb = nn.Sequential(nn.Linear(c0, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_ch, c0, 3, padding=1)
        self.d0 = ResBlock(c0, c0, temb)
        self.a0 = SpatialTransformer(c0, context_dim, heads)
        self.down0 = nn.Conv2d(c0, c0, 3, stride=2, padding=1)
        self.d1 = ResBlock(c0, c1, temb)
        self.a1 = SpatialTransformer(c1, context_dim, heads)
        self.down1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.m1 = ResBlock(c1, c1, temb)
        self.am = SpatialTransformer(c1, context_dim, heads)
        self.m2 = ResBlock(c1, c1, temb)
        self.up1 = nn.Conv2d(c1, c1, 3, padding=1)
        self.u1 = ResBlock(c1 * 2, c1, temb)
        self.ua1 = SpatialTransformer(c1, context_dim, heads)
        self.up0 = nn.Conv2d(c1, c1, 3, padding=1)
        self.u0 = ResBlock(c1 + c0, c0, temb)
        self.ua0 = SpatialTransformer(c0, context_dim, heads)
        self.norm_out = nn.GroupNorm(groups_for(c0), c0)
        self.conv_out = nn.Conv2d(c0, in_ch, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        b = sample.shape[0]
        # float32 scalar (diffusers' old ONNX script) or [B] (int64 or float): broadcast to the batch
        t = timestep.to(torch.float32).reshape(-1) * torch.ones(b, dtype=torch.float32, device=sample.device)
        te = self.temb(timestep_embedding(t, self.tdim))
        ctx = encoder_hidden_states
        h = self.conv_in(sample)
        s0 = self.a0(self.d0(h, te), ctx)
        h = self.down0(s0)
        s1 = self.a1(self.d1(h, te), ctx)
        h = self.down1(s1)
        h = self.m2(self.am(self.m1(h, te), ctx), te)
        h = self.up1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.ua1(self.u1(torch.cat([h, s1], dim=1), te), ctx)
        h = self.up0(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.ua0(self.u0(torch.cat([h, s0], dim=1), te), ctx)
        return self.conv_out(F.silu(self.norm_out(h)))


class VaeEncoder(nn.Module):
    """64×64 RGB -> latent mean ‖ logvar, downsampling by 2 per level."""

    def __init__(self, ch, latent_ch, levels=2):
        super().__init__()
        c0, c1 = ch
        mods = [nn.Conv2d(3, c0, 3, padding=1), ResBlock(c0, c0)]
        c = c0
        for i in range(levels):
            mods.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
            mods.append(ResBlock(c, c1))
            c = c1
        mods += [ResBlock(c1, c1), nn.GroupNorm(groups_for(c1), c1), nn.SiLU(), nn.Conv2d(c1, 2 * latent_ch, 3, padding=1)]
        self.net = nn.Sequential(*mods)

    def forward(self, x):
        return self.net(x)


class VaeDecoder(nn.Module):
    def __init__(self, ch, latent_ch, levels=2):
        super().__init__()
        c0, c1 = ch
        mods = [nn.Conv2d(latent_ch, c1, 3, padding=1), ResBlock(c1, c1)]
        c = c1
        for i in range(levels):
            mods.append(nn.Upsample(scale_factor=2.0, mode="nearest"))
            mods.append(nn.Conv2d(c, c, 3, padding=1))
            cout = c0 if i == levels - 1 else c1
            mods.append(ResBlock(c, cout))
            c = cout
        mods += [nn.GroupNorm(groups_for(c0), c0), nn.SiLU(), nn.Conv2d(c0, 3, 3, padding=1)]
        self.net = nn.Sequential(*mods)

    def forward(self, z):
        return self.net(z)


class EncoderExport(nn.Module):
    """vae_encoder graph: `latent_parameters` (mean ‖ logvar) or the posterior mean as `latent_sample`."""

    def __init__(self, enc, latent_ch, parameters):
        super().__init__()
        self.enc = enc
        self.latent_ch = latent_ch
        self.parameters_out = parameters

    def forward(self, sample):
        p = self.enc(sample)
        return p if self.parameters_out else p[:, : self.latent_ch]


class TextExport(nn.Module):
    def __init__(self, te):
        super().__init__()
        self.te = te

    def forward(self, input_ids):
        return self.te(input_ids)


def onnx_export(module, args, path, input_names, output_names, dynamic_axes, opset=17):
    """TorchScript exporter on any torch version (torch ≥ 2.9 defaults to the dynamo one)."""
    import inspect

    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    module.eval()
    with torch.no_grad():
        try:
            torch.onnx.export(
                module, args, path, input_names=input_names, output_names=output_names,
                dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True, **kwargs,
            )
        except Exception as e:  # a torch without the TorchScript exporter: the dynamo one
            if not kwargs:
                raise
            print("TorchScript ONNX export failed, trying dynamo:", repr(e))
            torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=18, dynamo=True, external_data=False)
