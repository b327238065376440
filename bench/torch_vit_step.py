#!/usr/bin/python3
"""PyTorch yardstick: training-step and inference throughput of one ViT subnet on this CPU.

The same network as a vitas arch spec (DESIGN.md §4): linear patch embedding, class token,
learned position embedding, pre-norm blocks of softmax attention (heads, qkv width, MLP width
per block; identity blocks skipped), LayerNorm, head on the class token. AdamW, cross-entropy,
random inputs. Prints one JSON line.

Run by bench/supernet-step.ts (npm run bench:supernet) on the specs it compares. Needs Debian's
python3-torch (+ libopenblas0-openmp for a fair BLAS):
  /usr/bin/python3 bench/torch_vit_step.py --spec arch.json [--batch 64] [--steps 20] [--threads 2]
  /usr/bin/python3 bench/torch_vit_step.py --img 28 --chans 1 --patch 4 --embed 64 --depth 4 --heads 4 --mlp-ratio 4
"""
import argparse, json, resource, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, embed, heads, qkv, mlp):
        super().__init__()
        self.heads, self.inner = heads, qkv // 3
        self.ln1, self.ln2 = nn.LayerNorm(embed, eps=1e-6), nn.LayerNorm(embed, eps=1e-6)
        self.qkv, self.proj = nn.Linear(embed, qkv), nn.Linear(self.inner, embed)
        self.fc1, self.fc2 = nn.Linear(embed, mlp), nn.Linear(mlp, embed)

    def forward(self, x):
        b, t, _ = x.shape
        dh = self.inner // self.heads
        q, k, v = self.qkv(self.ln1(x)).reshape(b, t, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) * dh ** -0.5, dim=-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(b, t, self.inner))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class ViT(nn.Module):
    def __init__(self, img, chans, patch, embed, blocks, classes):
        super().__init__()
        self.p = patch
        n = (img[0] // patch) * (img[1] // patch)
        self.embed = nn.Linear(patch * patch * chans, embed)
        self.cls = nn.Parameter(torch.zeros(1, 1, embed))
        self.pos = nn.Parameter(torch.zeros(1, n + 1, embed))
        self.blocks = nn.ModuleList([Block(embed, *b) for b in blocks])
        self.ln, self.head = nn.LayerNorm(embed, eps=1e-6), nn.Linear(embed, classes)

    def forward(self, x):  # NHWC, as in TensorFlow.js
        b, h, w, c = x.shape
        p = self.p
        x = x.reshape(b, h // p, p, w // p, p, c).permute(0, 1, 3, 2, 4, 5).reshape(b, -1, p * p * c)
        x = torch.cat([self.cls.expand(b, -1, -1), self.embed(x)], 1) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln(x[:, 0]))


def from_spec(path):
    s = json.load(open(path))
    h, w, c = s["input"]
    blocks = [(b["heads"], b["qkv"], b["mlp"]) for b in s["blocks"] if b.get("op") != "identity"]
    return dict(img=(h, w), chans=c, patch=s["patch"], embed=s["embed"], blocks=blocks,
                classes=s.get("classes", 10))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec")
    ap.add_argument("--img", type=int, default=28)
    ap.add_argument("--chans", type=int, default=1)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp-ratio", type=float, default=4.0)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--eval-batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.spec:
        cfg = from_spec(a.spec)
    else:
        e = a.embed
        cfg = dict(img=(a.img, a.img), chans=a.chans, patch=a.patch, embed=e,
                   blocks=[(a.heads, 3 * e, int(e * a.mlp_ratio))] * a.depth, classes=a.classes)
    m = ViT(**cfg)
    opt = torch.optim.AdamW(m.parameters(), 1e-3, weight_decay=0.05)
    (h, w), c = cfg["img"], cfg["chans"]
    x = torch.randn(a.batch, h, w, c)
    y = torch.randint(0, cfg["classes"], (a.batch,))

    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(m(x), y).backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)

    ex = torch.randn(a.eval_batch, h, w, c)
    etimes = []
    with torch.no_grad():
        for i in range(2 + max(3, a.steps // 2)):
            t0 = time.perf_counter()
            m(ex)
            if i >= 2:
                etimes.append(time.perf_counter() - t0)

    step = statistics.median(times)
    ev = statistics.median(etimes)
    print(json.dumps(dict(
        engine=f"torch {torch.__version__}", threads=torch.get_num_threads(),
        params=sum(p.numel() for p in m.parameters()), batch=a.batch,
        train_ms_median=round(step * 1e3, 2), train_img_s=round(a.batch / step, 1),
        eval_img_s=round(a.eval_batch / ev, 1),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))))


if __name__ == "__main__":
    main()
