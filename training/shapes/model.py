"""The `shapes` denoiser: a class-conditional point-cloud transformer with a latent bottleneck.

Points are tokens (Point-E style), but instead of full self-attention over all N points (O(N^2), too
slow for CPU inference in Node) each block lets a small set of learned latent tokens read the points
(cross-attention), think among themselves (self-attention), and write back to every point
(cross-attention), followed by a per-point MLP. Cost is O(N * latents) and the network is
permutation-equivariant: point order means nothing, as in the data.

Latent attention alone learns local surface detail slowly, so a few local layers (EdgeConv-like, on the
k nearest neighbours of each point in the noisy input, k = 16) give every point its neighbourhood's
geometry: denoising near the end of sampling is mostly local averaging onto the surface.

Two options make the network bigger where it is cheap or where points can see each other: `latent_layers`
(self-attention + MLP layers among the latents per block; 1 in the first two models) and `point_attn_every`
(full self-attention among all the points before the point MLP of every n-th block, O(N^2), as in Point-E;
0 = none, the first two models).

Two more make denoising near the end of sampling local and cheap to learn (the models above leave most of
the noise of sigma 0.03-0.1 in their x0 estimates): `geo_ks` gives every point, as input features, the mean
offset to and the covariance of its k nearest neighbours at a few scales (the Laplacian that moves a noisy
point towards its surface, and the local plane), and `local_pool='maxmean'` makes the LocalAgg layers pool
their neighbours by mean as well as by max.

Conditioning (timestep + class, with class index `num_classes` meaning "no class" for classifier-free
guidance) enters the latents as an extra token and the points through adaptive LayerNorm.

Interface (ONNX): sample float32 [B, 6, N] (xyz + rgb scaled to [-1, 1]), timestep float32 [B]
(diffusers' discrete timestep, fractional allowed), class_labels int64 [B] -> out_sample [B, 6, N]
(the predicted noise epsilon).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.use_sdpa = hasattr(F, 'scaled_dot_product_attention')

    def forward(self, x, ctx):
        b, n, d = x.shape
        m = ctx.shape[1]
        h = self.heads
        q = self.q(x).reshape(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(ctx).reshape(b, m, 2, h, d // h).permute(2, 0, 3, 1, 4)
        if self.use_sdpa:
            o = F.scaled_dot_product_attention(q, k, v)
        else:  # explicit form: what the ONNX export records
            w = torch.softmax((q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d // h)), dim=-1)
            o = w @ v
        return self.out(o.transpose(1, 2).reshape(b, n, d))


def knn(xyz, k):
    """Indices [B, N, k] of each point's k nearest neighbours (itself included), in float32."""
    if xyz.is_cuda:  # bf16 autocast would round the distances and mix up near neighbours
        with torch.autocast('cuda', enabled=False):
            return _knn(xyz.float(), k)
    return _knn(xyz, k)


def _knn(xyz, k):
    sq = (xyz * xyz).sum(-1)
    d = sq[:, :, None] + sq[:, None, :] - 2 * (xyz @ xyz.transpose(1, 2))
    return torch.topk(d, k, dim=-1, largest=False).indices


def gather_neighbours(feat, idx):
    """feat [B, N, D], idx [B, N, k] -> [B, N, k, D] (a Gather along the point axis; exports to ONNX)."""
    k = idx.shape[-1]
    d = feat.shape[-1]
    g = torch.gather(feat, 1, idx.flatten(1).unsqueeze(-1).expand(-1, -1, d))
    return g.reshape(idx.shape[0], idx.shape[1], k, d)


class LocalAgg(nn.Module):
    """h_i += W_out pool_j GELU(W_f f_j + W_r (x_j - x_i)) over the k nearest neighbours j of i; pool is max
    ('max') or max and mean side by side ('maxmean')."""

    def __init__(self, dim, local_dim=64, pool='max'):
        super().__init__()
        self.pool = pool
        self.norm = nn.LayerNorm(dim)
        self.feat = nn.Linear(dim, local_dim)
        self.rel = nn.Linear(3, local_dim)
        self.mix = nn.Linear(local_dim, local_dim)
        self.out = nn.Linear(local_dim * (2 if pool == 'maxmean' else 1), dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, h, xyz, idx):
        a = gather_neighbours(self.feat(self.norm(h)), idx)
        rel = gather_neighbours(xyz, idx) - xyz[:, :, None]
        e = self.mix(F.gelu(a + self.rel(rel * 8.0)))
        pooled = e.max(dim=2).values
        if self.pool == 'maxmean':
            pooled = torch.cat([pooled, e.mean(dim=2)], dim=-1)
        return h + self.out(pooled)


def geo_features(xyz, nbr, ks):
    """Per point, for each k in ks (ascending): the mean offset to its k nearest neighbours (3, times 10) and
    their covariance (6: xx yy zz xy xz yz, times 30). xyz [B, N, 3], nbr [B, N, K, 3] the neighbours sorted
    by distance (the point itself first), K >= max(ks). -> [B, N, 9 len(ks)]"""
    rel = nbr - xyz[:, :, None]
    out = []
    for k in ks:
        r = rel[:, :, :k]
        m = r.mean(dim=2)
        sq = (r[..., [0, 1, 2, 0, 0, 1]] * r[..., [0, 1, 2, 1, 2, 2]]).mean(dim=2)
        cov = sq - m[..., [0, 1, 2, 0, 0, 1]] * m[..., [0, 1, 2, 1, 2, 2]]
        out += [m * 10.0, cov * 30.0]
    return torch.cat(out, dim=-1)


def mlp(dim, mult=4):
    return nn.Sequential(nn.Linear(dim, dim * mult), nn.GELU(), nn.Linear(dim * mult, dim))


def add_head(module, width, cond_dim, out_dim):
    """The output head the diffusion networks share (here and in latent.py): LayerNorm, then shift and scale from the conditioning vector,
    then a linear layer; the last two zero-initialised (the network starts out predicting 0). Attribute names
    out_norm / out_mod / out are what the exported ONNX files' weights are called."""
    module.out_norm = nn.LayerNorm(width)
    module.out_mod = nn.Linear(cond_dim, 2 * width)
    module.out = nn.Linear(width, out_dim)
    for layer in (module.out_mod, module.out):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)


def head(module, h, c):
    shift, scale = module.out_mod(F.silu(c))[:, None].chunk(2, dim=-1)
    return module.out(module.out_norm(h) * (1 + scale) + shift)


class LatentLayer(nn.Module):
    """One more pre-norm self-attention + MLP layer among the latent tokens."""

    def __init__(self, dim, heads):
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.mlp_norm = nn.LayerNorm(dim)
        self.mlp = mlp(dim)

    def forward(self, z):
        zn = self.attn_norm(z)
        z = z + self.attn(zn, zn)
        return z + self.mlp(self.mlp_norm(z))


class Block(nn.Module):
    def __init__(self, dim, heads, latent_layers=1, point_attn=False):
        super().__init__()
        self.read_q_norm = nn.LayerNorm(dim)
        self.read_kv_norm = nn.LayerNorm(dim)
        self.read = Attention(dim, heads)
        self.self_norm = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads)
        self.lat_mlp_norm = nn.LayerNorm(dim)
        self.lat_mlp = mlp(dim)
        self.extra = nn.ModuleList([LatentLayer(dim, heads) for _ in range(latent_layers - 1)])
        self.write_kv_norm = nn.LayerNorm(dim)
        self.write_norm = nn.LayerNorm(dim)
        self.write = Attention(dim, heads)
        if point_attn:
            self.pattn_norm = nn.LayerNorm(dim)
            self.pattn = Attention(dim, heads)
        self.pt_mlp_norm = nn.LayerNorm(dim)
        self.pt_mlp = mlp(dim)
        # adaLN: shift, scale, gate for the two point-side sublayers
        self.mod = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.mod.weight)
        nn.init.zeros_(self.mod.bias)

    def forward(self, x, z, c):
        z = z + self.read(self.read_q_norm(z), self.read_kv_norm(x))
        zn = self.self_norm(z)
        z = z + self.self_attn(zn, zn)
        z = z + self.lat_mlp(self.lat_mlp_norm(z))
        for layer in self.extra:
            z = layer(z)
        s1, m1, g1, s2, m2, g2 = self.mod(F.silu(c))[:, None].chunk(6, dim=-1)
        zk = self.write_kv_norm(z)
        x = x + (1 + g1) * self.write(self.write_norm(x) * (1 + m1) + s1, zk)
        if hasattr(self, 'pattn'):
            xn = self.pattn_norm(x)
            x = x + self.pattn(xn, xn)
        x = x + (1 + g2) * self.pt_mlp(self.pt_mlp_norm(x) * (1 + m2) + s2)
        return x, z


class PointDenoiser(nn.Module):
    def __init__(self, num_classes, width=128, depth=6, heads=4, latents=64, fourier=6, channels=6, k=16, local_every=0,
                 latent_layers=1, point_attn_every=0, geo_ks=(), local_pool='max'):
        super().__init__()
        self.k = k
        self.geo_ks = tuple(sorted(int(v) for v in geo_ks))
        self.local_every = local_every
        self.num_classes = num_classes
        self.width = width
        self.channels = channels
        self.register_buffer('freqs', math.pi * 2.0 ** torch.arange(fourier, dtype=torch.float32), persistent=False)
        self.inp = nn.Linear(channels + 3 * 2 * fourier, width)
        self.t_mlp = nn.Sequential(nn.Linear(width, width * 2), nn.SiLU(), nn.Linear(width * 2, width))
        self.class_emb = nn.Embedding(num_classes + 1, width)
        self.latents = nn.Parameter(torch.randn(latents, width) * 0.02)
        self.blocks = nn.ModuleList([Block(width, heads, latent_layers, point_attn_every > 0 and i % point_attn_every == 0)
                                     for i in range(depth)])
        self.locals = nn.ModuleList([LocalAgg(width, pool=local_pool) for _ in range(0, depth, local_every)]) if local_every else nn.ModuleList()
        if self.geo_ks:  # zero-initialised: a model without it loads and starts out unchanged
            self.geo = nn.Linear(9 * len(self.geo_ks), width)
            nn.init.zeros_(self.geo.weight)
            nn.init.zeros_(self.geo.bias)
        add_head(self, width, width, channels)

    def forward(self, sample, timestep, class_labels):
        x = sample.transpose(1, 2)  # [B, N, C]
        xyz = x[..., :3]
        ang = (xyz[..., None] * self.freqs).flatten(-2)  # [B, N, 3F]
        h = self.inp(torch.cat([x, torch.sin(ang), torch.cos(ang)], dim=-1))
        c = self.t_mlp(timestep_embedding(timestep, self.width)) + self.class_emb(class_labels)
        z = torch.cat([c[:, None], self.latents[None].expand(x.shape[0], -1, -1) + c[:, None]], dim=1)
        kmax = max((self.k,) * bool(len(self.locals)) + self.geo_ks, default=0)
        idx = knn(xyz.float(), kmax) if kmax else None
        if self.geo_ks:
            h = h + self.geo(geo_features(xyz.float(), gather_neighbours(xyz.float(), idx), self.geo_ks))
        if len(self.locals) and kmax > self.k:
            idx = idx[:, :, :self.k]
        for i, blk in enumerate(self.blocks):
            if self.local_every and i % self.local_every == 0:
                h = self.locals[i // self.local_every](h, xyz, idx)
            h, z = blk(h, z, c)
        return head(self, h, c).transpose(1, 2)
