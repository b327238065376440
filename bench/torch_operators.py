#!/usr/bin/python3
"""PyTorch yardstick for the Vision X-formers operators: one token-mixing layer per attention type.

Each layer maps x [B, N, E] to [B, N, E]: the attention types project q, k, v with one linear
E -> 3E, mix, and project back E -> E; fnet (FFT) and mixer (token MLP N -> T -> GELU -> N) act on
x directly. The maths follows the references vitas follows (src/supernet/fn/*.ts):
performer (FAVOR+, pranavphoenix/VisionXformer), linformer (E = F shared), nystrom (lucidrains'
nystrom-attention with the depthwise-conv residual on V), xnorm (UFO-ViT), dual (one Dual-ViT block's
mixing, YehLi/ImageNetModel dualvit.py's DualAttention as vitas runs it: output projections on the
semantic attentions, no LayerScale; its M semantic tokens a parameter, so they are differentiated too).

For every type and token count it times forward + backward (the output's gradient a fixed random
tensor; median of --repeats) and measures peak activation memory as the bytes of the tensors
autograd saves for the backward (torch.autograd.graph.saved_tensors_hooks; each storage once,
the input and the parameters excluded). Prints one JSON line.

  /usr/bin/python3 bench/torch_operators.py [--tokens 50,197,785] [--batch 8] [--threads 1]
"""
import argparse, json, math, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def orthogonal_features(m, d, gen):
    """Blocks of d orthonormal rows (QR of Gaussian d x d), rows scaled by norms of Gaussian rows."""
    blocks, left = [], m
    while left > 0:
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen))
        blocks.append(q.t()[:left])
        left -= d
    scale = torch.randn(m, d, generator=gen).norm(dim=1)
    return scale[:, None] * torch.cat(blocks)


class Mixing(nn.Module):
    """q/k/v in one linear, a per-head mixing `self.mix(q, k, v)` on [B, h, N, d], output projection."""

    def __init__(self, e, heads):
        super().__init__()
        self.heads, self.d = heads, e // heads
        self.qkv, self.proj = nn.Linear(e, 3 * e), nn.Linear(e, e)

    def forward(self, x):
        b, n, e = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.d).permute(2, 0, 3, 1, 4)
        return self.proj(self.mix(q, k, v).transpose(1, 2).reshape(b, n, e))


class Softmax(Mixing):
    def mix(self, q, k, v):
        return torch.softmax(q @ k.transpose(-2, -1) * self.d ** -0.5, -1) @ v


class Performer(Mixing):
    def __init__(self, e, heads, features, gen):
        super().__init__(e, heads)
        self.register_buffer("omega", orthogonal_features(features, self.d, gen))

    def phi(self, x, is_query):
        m = self.omega.shape[0]
        xs = x * self.d ** -0.25
        dash = xs @ self.omega.t()
        half = 0.5 * (xs * xs).sum(-1, keepdim=True)
        stab = dash.max(-1, keepdim=True).values if is_query else dash.max()
        return m ** -0.5 * (torch.exp(dash - half - stab) + 1e-4)

    def mix(self, q, k, v):
        fq, fk = self.phi(q, True), self.phi(k, False)
        den = fq @ fk.sum(-2).unsqueeze(-1)
        return (fq @ (fk.transpose(-2, -1) @ v)) / den


class Linformer(Mixing):
    def __init__(self, e, heads, n, k):
        super().__init__(e, heads)
        self.e = nn.Parameter(torch.empty(n, k).uniform_(-k ** -0.5, k ** -0.5))

    def mix(self, q, k, v):
        kp = torch.einsum("bhnd,nk->bhkd", k, self.e)
        vp = torch.einsum("bhnd,nk->bhkd", v, self.e)
        return torch.softmax(q @ kp.transpose(-2, -1) * self.d ** -0.5, -1) @ vp


def iterative_pinv(a, iters=6):
    eye = torch.eye(a.shape[-1])
    z = a.transpose(-2, -1) / (a.abs().sum(-1).max() * a.abs().sum(-2).max())
    for _ in range(iters):
        az = a @ z
        z = 0.25 * z @ (13 * eye - az @ (15 * eye - az @ (7 * eye - az)))
    return z


class Nystrom(Mixing):
    def __init__(self, e, heads, landmarks, kernel):
        super().__init__(e, heads)
        self.m = landmarks
        self.conv = nn.Conv2d(heads, heads, (kernel, 1), padding=(kernel // 2, 0), groups=heads, bias=False)

    def forward(self, x):
        n = x.shape[1]
        pad = (self.m - n % self.m) % self.m
        self.pad = pad
        return super().forward(F.pad(x, (0, 0, pad, 0)) if pad else x)[:, pad:]

    def mix(self, q, k, v):
        b, h, n, d = q.shape
        q = q * d ** -0.5
        ql = q.reshape(b, h, self.m, n // self.m, d).mean(3)
        kl = k.reshape(b, h, self.m, n // self.m, d).mean(3)
        a1 = torch.softmax(q @ kl.transpose(-2, -1), -1)
        a2 = torch.softmax(ql @ kl.transpose(-2, -1), -1)
        a3 = torch.softmax(ql @ k.transpose(-2, -1), -1)
        return (a1 @ iterative_pinv(a2)) @ (a3 @ v) + self.conv(v)


class XNorm(Mixing):
    def __init__(self, e, heads):
        super().__init__(e, heads)
        self.gamma = nn.Parameter(torch.ones(1, heads, 1, 1))

    def xnorm(self, x):
        return self.gamma * x / torch.sqrt((x * x).sum(-1, keepdim=True) + 1e-12)

    def mix(self, q, k, v):
        return self.xnorm(q) @ self.xnorm(k.transpose(-2, -1) @ v)


def attend(q, k, v, heads):
    """softmax(QK^T / sqrt(d)) V per head for q [B, n, e] and k, v [B, m, e]."""
    b, n, e = q.shape
    d = e // heads
    split = lambda t: t.reshape(b, t.shape[1], heads, d).transpose(1, 2)
    out = torch.softmax(split(q) @ split(k).transpose(-2, -1) * d ** -0.5, -1) @ split(v)
    return out.transpose(1, 2).reshape(b, n, e)


class Dual(nn.Module):
    """Semantic self-attention, semantic -> pixel, semantic MLP (ReLU), pixel -> the M semantic tokens."""

    def __init__(self, e, heads, batch, m, hidden, gen):
        super().__init__()
        self.heads = heads
        self.semantic = nn.Parameter(torch.randn(batch, m, e, generator=gen))
        self.self_norm, self.self_qkv, self.self_proj = nn.LayerNorm(e, eps=1e-6), nn.Linear(e, 3 * e), nn.Linear(e, e)
        self.cross_norm, self.cross_q, self.cross_kv, self.cross_proj = nn.LayerNorm(e, eps=1e-6), nn.Linear(e, e), nn.Linear(e, 2 * e), nn.Linear(e, e)
        self.mlp_norm, self.mlp = nn.LayerNorm(e, eps=1e-6), nn.Sequential(nn.Linear(e, hidden), nn.ReLU(), nn.Linear(hidden, e))
        self.kv_norm, self.q, self.kv, self.proj = nn.LayerNorm(e, eps=1e-6), nn.Linear(e, e), nn.Linear(e, 2 * e), nn.Linear(e, e)

    def forward(self, x):
        s = self.semantic
        s = s + self.self_proj(attend(*self.self_qkv(self.self_norm(s)).chunk(3, -1), self.heads))
        s = s + self.cross_proj(attend(self.cross_q(self.cross_norm(s)), *self.cross_kv(x).chunk(2, -1), self.heads))
        s = s + self.mlp(self.mlp_norm(s))
        return self.proj(attend(self.q(x), *self.kv(self.kv_norm(s)).chunk(2, -1), self.heads))


class FNet(nn.Module):
    def forward(self, x):
        return torch.fft.fft(torch.fft.fft(x, dim=-1), dim=-2).real


class Mixer(nn.Module):
    def __init__(self, n, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(n, hidden), nn.Linear(hidden, n)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x.transpose(1, 2)), approximate="tanh")).transpose(1, 2)


def build(kind, n, a, gen):
    e, h = a.embed, a.heads
    if kind == "softmax":
        return Softmax(e, h)
    if kind == "performer":
        return Performer(e, h, a.features or math.ceil((e // h) * math.log(e // h)), gen)
    if kind == "linformer":
        return Linformer(e, h, n, a.linformer_k)
    if kind == "nystrom":
        return Nystrom(e, h, a.landmarks, a.conv_kernel)
    if kind == "xnorm":
        return XNorm(e, h)
    if kind == "fnet":
        return FNet()
    if kind == "mixer":
        return Mixer(n, a.token_mlp)
    if kind == "dual":
        return Dual(e, h, a.batch, a.semantic, 4 * e, gen)
    raise ValueError(kind)


def saved_bytes(layer, x, dy):
    """Bytes of the distinct storages autograd saves for the backward of one forward."""
    skip = {p.data_ptr() for p in layer.parameters()} | {x.data_ptr()}
    seen = {}

    def pack(t):
        s = t.storage()
        if s.data_ptr() not in skip:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = layer(x)
    out.backward(dy)
    return sum(seen.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--types", default="softmax,performer,linformer,nystrom,fnet,mixer,xnorm,dual")
    ap.add_argument("--tokens", default="50,197,785")
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--features", type=int, default=0, help="performer features (default ceil(d ln d))")
    ap.add_argument("--linformer-k", type=int, default=64)
    ap.add_argument("--landmarks", type=int, default=64)
    ap.add_argument("--conv-kernel", type=int, default=33)
    ap.add_argument("--token-mlp", type=int, default=64)
    ap.add_argument("--semantic", type=int, default=16, help="dual: semantic tokens M")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(0)
    results = []
    for n in [int(t) for t in a.tokens.split(",")]:
        for kind in a.types.split(","):
            layer = build(kind, n, a, gen)
            x = torch.randn(a.batch, n, a.embed, generator=gen, requires_grad=True)
            dy = torch.randn(a.batch, n, a.embed, generator=gen)
            times = []
            for i in range(a.warmup + a.repeats):
                x.grad = None
                layer.zero_grad(set_to_none=True)
                t0 = time.perf_counter()
                layer(x).backward(dy)
                if i >= a.warmup:
                    times.append(time.perf_counter() - t0)
            results.append(dict(type=kind, tokens=n, ms=round(statistics.median(times) * 1e3, 3),
                                saved_mb=round(saved_bytes(layer, x, dy) / 2 ** 20, 3)))
    print(json.dumps(dict(engine=f"torch {torch.__version__}", threads=torch.get_num_threads(), batch=a.batch,
                          embed=a.embed, heads=a.heads, results=results)))


if __name__ == "__main__":
    main()
