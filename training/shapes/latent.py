"""The two-stage `shapes` model: a shape latent, and points drawn independently given it.

The one-stage denoiser (model.py) has to work out the shape from the noisy points at every step, and its
clouds come out as fuzzy volumes: at small noise it cannot tell from noisy neighbours where the surface is
(bench/results/shapes.md). Here the shape is decided first and the points are then independent:

- ShapeEncoder (training only): a clean cloud -> a Gaussian posterior over a shape latent of `tokens` tokens
  of `token_dim` numbers (learned queries read the points by cross-attention, then think among themselves).
- PointDecoder (ships, unet/model.onnx): the denoiser of one point given the latent. Each point reads the
  latent tokens by cross-attention and goes through an MLP; nothing passes between points, so the points of a
  cloud are i.i.d. given the latent (as in Luo & Hu 2021, "Diffusion probabilistic models for 3D point cloud
  generation"), any number of them can be drawn, and nothing pulls them into clumps.
- LatentPrior (ships, prior/model.onnx): a class-conditional diffusion model of the latents (a small
  transformer over the latent tokens, adaptive LayerNorm conditioning on timestep + class, class index
  `num_classes` = no class for classifier-free guidance).

Both diffusion models use the same DDPM schedule (linear betas 1e-4..0.02, 1000 steps) and v-prediction, so the
SDK's samplers run either. The latents the prior models are the encoder's, divided by `latent_scale` (their
standard deviation over the training set); the decoder multiplies its `shape_latent` input by the same number,
so the SDK passes the prior's samples straight on.

ONNX interfaces:
  prior:   sample float32 [B, T, D], timestep float32 [B], class_labels int64 [B] -> out_sample [B, T, D]
  decoder: sample float32 [B, 6, N], timestep float32 [B], shape_latent float32 [B, T, D] -> out_sample [B, 6, N]
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from model import Attention, LatentLayer, add_head, head, mlp, timestep_embedding


def fourier(xyz, freqs):
    ang = (xyz[..., None] * freqs).flatten(-2)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)


class AdaBlock(nn.Module):
    """Pre-norm attention + MLP with adaptive LayerNorm (shift, scale, gate) from a conditioning vector. Attention
    is self-attention (ctx None) or cross-attention to ctx."""

    def __init__(self, dim, heads, cond_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ctx_norm = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = mlp(dim)
        self.mod = nn.Linear(cond_dim, 6 * dim)
        nn.init.zeros_(self.mod.weight)
        nn.init.zeros_(self.mod.bias)

    def forward(self, h, c, ctx=None):
        s1, m1, g1, s2, m2, g2 = self.mod(F.silu(c))[:, None].chunk(6, dim=-1)
        hn = self.norm1(h) * (1 + m1) + s1
        h = h + (1 + g1) * self.attn(hn, hn if ctx is None else self.ctx_norm(ctx))
        return h + (1 + g2) * self.mlp(self.norm2(h) * (1 + m2) + s2)


class ShapeEncoder(nn.Module):
    def __init__(self, tokens=16, token_dim=16, width=256, heads=4, layers=2, reads=2, fourier_n=8, channels=6):
        super().__init__()
        self.register_buffer('freqs', torch.pi * 2.0 ** torch.arange(fourier_n, dtype=torch.float32), persistent=False)
        self.inp = nn.Linear(channels + 6 * fourier_n, width)
        self.pt_norm = nn.LayerNorm(width)
        self.pt_mlp = mlp(width, 2)
        self.queries = nn.Parameter(torch.randn(tokens, width) * 0.02)
        self.reads = nn.ModuleList()
        for _ in range(reads):
            self.reads.append(nn.ModuleDict({'q': nn.LayerNorm(width), 'kv': nn.LayerNorm(width), 'attn': Attention(width, heads),
                                             'layers': nn.ModuleList([LatentLayer(width, heads) for _ in range(layers)])}))
        self.out_norm = nn.LayerNorm(width)
        self.stats = nn.Linear(width, 2 * token_dim)

    def forward(self, x):
        """x [B, C, N] clean cloud -> (mean, log variance), each [B, tokens, token_dim]."""
        p = x.transpose(1, 2)
        h = self.inp(torch.cat([p, fourier(p[..., :3], self.freqs)], dim=-1))
        h = h + self.pt_mlp(self.pt_norm(h))
        z = self.queries[None].expand(x.shape[0], -1, -1)
        for r in self.reads:
            z = z + r['attn'](r['q'](z), r['kv'](h))
            for layer in r['layers']:
                z = layer(z)
        mean, logvar = self.stats(self.out_norm(z)).chunk(2, dim=-1)
        return mean, logvar.clamp(-12, 4)


class PointDecoder(nn.Module):
    def __init__(self, tokens=16, token_dim=16, width=192, depth=4, heads=4, ctx_layers=1, cond_dim=128, fourier_n=8,
                 channels=6, latent_scale=1.0):
        super().__init__()
        self.channels = channels
        self.register_buffer('freqs', torch.pi * 2.0 ** torch.arange(fourier_n, dtype=torch.float32), persistent=False)
        self.register_buffer('latent_scale', torch.tensor(float(latent_scale)))
        self.inp = nn.Linear(channels + 6 * fourier_n, width)
        self.cond_dim = cond_dim
        self.t_mlp = nn.Sequential(nn.Linear(cond_dim, cond_dim * 2), nn.SiLU(), nn.Linear(cond_dim * 2, cond_dim))
        self.z_in = nn.Linear(token_dim, width)
        self.tok_pos = nn.Parameter(torch.randn(tokens, width) * 0.02)
        self.t_tok = nn.Linear(cond_dim, width)
        self.ctx = nn.ModuleList([LatentLayer(width, heads) for _ in range(ctx_layers)])
        self.blocks = nn.ModuleList([AdaBlock(width, heads, cond_dim) for _ in range(depth)])
        add_head(self, width, cond_dim, channels)

    def context(self, timestep, shape_latent):
        """The per-cloud part: conditioning vector c and the latent tokens the points read."""
        c = self.t_mlp(timestep_embedding(timestep, self.cond_dim))
        z = self.z_in(shape_latent * self.latent_scale) + self.tok_pos
        ctx = torch.cat([self.t_tok(c)[:, None], z], dim=1)
        for layer in self.ctx:
            ctx = layer(ctx)
        return c, ctx

    def forward(self, sample, timestep, shape_latent):
        c, ctx = self.context(timestep, shape_latent)
        p = sample.transpose(1, 2)
        h = self.inp(torch.cat([p, fourier(p[..., :3], self.freqs)], dim=-1))
        for blk in self.blocks:
            h = blk(h, c, ctx)
        return head(self, h, c).transpose(1, 2)


class LatentPrior(nn.Module):
    def __init__(self, num_classes, tokens=16, token_dim=16, width=160, depth=4, heads=4, cond_dim=128):
        super().__init__()
        self.num_classes = num_classes
        self.cond_dim = cond_dim
        self.inp = nn.Linear(token_dim, width)
        self.pos = nn.Parameter(torch.randn(tokens, width) * 0.02)
        self.t_mlp = nn.Sequential(nn.Linear(cond_dim, cond_dim * 2), nn.SiLU(), nn.Linear(cond_dim * 2, cond_dim))
        self.class_emb = nn.Embedding(num_classes + 1, cond_dim)
        self.blocks = nn.ModuleList([AdaBlock(width, heads, cond_dim) for _ in range(depth)])
        add_head(self, width, cond_dim, token_dim)

    def forward(self, sample, timestep, class_labels):
        c = self.t_mlp(timestep_embedding(timestep, self.cond_dim)) + self.class_emb(class_labels)
        h = self.inp(sample) + self.pos
        for blk in self.blocks:
            h = blk(h, c)
        return head(self, h, c)


def params(m):
    return sum(p.numel() for p in m.parameters())
