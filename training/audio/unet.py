"""A small class-conditional 2D UNet over log-mel images [B, 1, n_mels, frames].

Conditioning: a sinusoidal timestep embedding plus one learned embedding per label column
(speech: word, voice; music: pitch, instrument). Each label table has one extra row, the null id
(= table size - 1), used for classifier-free guidance (label dropout in training).
"""
import math

import torch
from torch import nn
import torch.nn.functional as F


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(e))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class Attention(nn.Module):
    """Self-attention over all positions of the lowest resolution (written out: exports to plain ONNX ops)."""

    def __init__(self, ch, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(8, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.out = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        att = torch.softmax(torch.einsum("bhdn,bhdm->bhnm", q, k) / math.sqrt(c // self.heads), dim=-1)
        y = torch.einsum("bhnm,bhdm->bhdn", att, v).reshape(b, c, h, w)
        return x + self.out(y)


class UNet(nn.Module):
    def __init__(self, label_sizes, channels=(32, 64, 96, 128), blocks=2, emb=256):
        """label_sizes: number of classes per label column, NOT counting the null id."""
        super().__init__()
        self.label_sizes = list(label_sizes)
        self.c0 = channels[0]
        self.time = nn.Sequential(nn.Linear(channels[0], emb), nn.SiLU(), nn.Linear(emb, emb))
        self.labels = nn.ModuleList(nn.Embedding(n + 1, emb) for n in label_sizes)
        self.conv_in = nn.Conv2d(1, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        skips = [channels[0]]
        ch = channels[0]
        for i, c in enumerate(channels):
            for _ in range(blocks):
                self.down.append(ResBlock(ch, c, emb))
                ch = c
                skips.append(ch)
            if i < len(channels) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid1 = ResBlock(ch, ch, emb)
        self.mid_attn = Attention(ch)
        self.mid2 = ResBlock(ch, ch, emb)
        self.up = nn.ModuleList()
        for i, c in reversed(list(enumerate(channels))):
            for _ in range(blocks + 1):
                self.up.append(ResBlock(ch + skips.pop(), c, emb))
                ch = c
            if i > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1)))
        self.norm_out = nn.GroupNorm(8, ch)
        self.conv_out = nn.Conv2d(ch, 1, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, sample, timestep, class_labels):
        e = self.time(timestep_embedding(timestep, self.c0))
        for j, table in enumerate(self.labels):
            e = e + table(class_labels[:, j])
        h = self.conv_in(sample)
        hs = [h]
        for m in self.down:
            h = m(h, e) if isinstance(m, ResBlock) else m(h)
            hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, e)), e)
        for m in self.up:
            if isinstance(m, ResBlock):
                h = m(torch.cat([h, hs.pop()], dim=1), e)
            else:
                h = m(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class ResBlock1D(nn.Module):
    def __init__(self, cin, cout, emb):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv1d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(e))[:, :, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return self.skip(x) + h


class Attention1D(nn.Module):
    def __init__(self, ch, heads=4):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(8, ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.out = nn.Conv1d(ch, ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        b, c, n = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, n).unbind(1)
        att = torch.softmax(torch.einsum("bhdn,bhdm->bhnm", q, k) / math.sqrt(c // self.heads), dim=-1)
        y = torch.einsum("bhnm,bhdm->bhdn", att, v).reshape(b, c, n)
        return x + self.out(y)


class UNet1D(nn.Module):
    """The same interface as UNet ([B, 1, n_mels, frames] in and out), but convolving over time only,
    with the mel bins as channels: ~10x fewer FLOPs than the 2D net, so CPU inference stays quick."""

    def __init__(self, label_sizes, n_mels, channels=(128, 192, 256), blocks=2, emb=256, attn_levels=(1, 2)):
        super().__init__()
        self.label_sizes = list(label_sizes)
        self.c0 = channels[0]
        self.time = nn.Sequential(nn.Linear(channels[0], emb), nn.SiLU(), nn.Linear(emb, emb))
        self.labels = nn.ModuleList(nn.Embedding(n + 1, emb) for n in label_sizes)
        self.conv_in = nn.Conv1d(n_mels, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        skips = [channels[0]]
        ch = channels[0]
        for i, c in enumerate(channels):
            for _ in range(blocks):
                self.down.append(ResBlock1D(ch, c, emb))
                ch = c
                if i in attn_levels:
                    self.down.append(Attention1D(ch))
                skips.append(ch)
            if i < len(channels) - 1:
                self.down.append(nn.Conv1d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid1 = ResBlock1D(ch, ch, emb)
        self.mid_attn = Attention1D(ch)
        self.mid2 = ResBlock1D(ch, ch, emb)
        self.up = nn.ModuleList()
        for i, c in reversed(list(enumerate(channels))):
            for _ in range(blocks + 1):
                self.up.append(ResBlock1D(ch + skips.pop(), c, emb))
                ch = c
                if i in attn_levels:
                    self.up.append(Attention1D(ch))
            if i > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv1d(ch, ch, 3, padding=1)))
        self.norm_out = nn.GroupNorm(8, ch)
        self.conv_out = nn.Conv1d(ch, n_mels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, sample, timestep, class_labels):
        e = self.time(timestep_embedding(timestep, self.c0))
        for j, table in enumerate(self.labels):
            e = e + table(class_labels[:, j])
        b, _, m, t = sample.shape
        h = self.conv_in(sample.reshape(b, m, t))
        hs = [h]
        for mod in self.down:
            if isinstance(mod, ResBlock1D):
                h = mod(h, e)
                hs.append(h)
            elif isinstance(mod, Attention1D):
                h = mod(h)
                hs[-1] = h
            else:
                h = mod(h)
                hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, e)), e)
        for mod in self.up:
            if isinstance(mod, ResBlock1D):
                h = mod(torch.cat([h, hs.pop()], dim=1), e)
            else:
                h = mod(h)
        return self.conv_out(F.silu(self.norm_out(h))).reshape(b, 1, m, t)
