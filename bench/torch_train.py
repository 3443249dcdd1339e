#!/usr/bin/env python3
"""torch_train.py - the PyTorch CPU baseline for miso-train (trainer-notes §3.2).

A Llama block (RMSNorm, GQA with HF RoPE, SwiGLU, no biases), untied lm_head,
random tokens, AdamW (lr 3e-4, betas 0.9/0.95, wd 0.1); one step = forward +
backward + AdamW; median over the steps after 2 warm-up steps.  Threads: run
with torch.set_num_threads(N) and the OpenMP OpenBLAS selected through
LD_LIBRARY_PATH (variant B of the notes, PyTorch's best on this machine).

  python3 bench/torch_train.py small 256 8 6   -> one JSON line with tokens_per_s
"""
import json, math, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {"small": (256, 4, 8, 4, 704, 8192), "mid": (512, 8, 8, 4, 1408, 32000)}


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.w, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., h:], x[..., :h]], -1) * sin


class Block(nn.Module):
    def __init__(self, D, H, KV, Fd):
        super().__init__()
        self.H, self.KV, self.hd = H, KV, D // H
        self.n1, self.n2 = RMSNorm(D), RMSNorm(D)
        self.q = nn.Linear(D, H * self.hd, bias=False)
        self.k = nn.Linear(D, KV * self.hd, bias=False)
        self.v = nn.Linear(D, KV * self.hd, bias=False)
        self.o = nn.Linear(H * self.hd, D, bias=False)
        self.g = nn.Linear(D, Fd, bias=False)
        self.u = nn.Linear(D, Fd, bias=False)
        self.d = nn.Linear(Fd, D, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, D = x.shape
        h = self.n1(x)
        q = self.q(h).view(B, T, self.H, self.hd).transpose(1, 2)
        k = self.k(h).view(B, T, self.KV, self.hd).transpose(1, 2)
        v = self.v(h).view(B, T, self.KV, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        r = self.H // self.KV
        k, v = k.repeat_interleave(r, 1), v.repeat_interleave(r, 1)
        a = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        y = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.o(y)
        h = self.n2(x)
        return x + self.d(F.silu(self.g(h)) * self.u(h))


class Model(nn.Module):
    def __init__(self, D, L, H, KV, Fd, V):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.blocks = nn.ModuleList([Block(D, H, KV, Fd) for _ in range(L)])
        self.norm = RMSNorm(D)
        self.head = nn.Linear(D, V, bias=False)

    def forward(self, idx, cos, sin, mask):
        x = self.emb(idx)
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        return self.head(self.norm(x))


def main():
    name, T, B, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    D, L, H, KV, Fd, V = PRESETS[name]
    m = Model(D, L, H, KV, Fd, V)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
    hd = D // H
    inv = 10000.0 ** (-torch.arange(0, hd, 2).float() / hd)
    ang = torch.arange(T).float()[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
    mask = torch.full((T, T), float("-inf")).triu(1)
    times = []
    for s in range(steps):
        idx = torch.randint(0, V, (B, T + 1))
        t0 = time.perf_counter()
        logits = m(idx[:, :-1], cos, sin, mask)
        loss = F.cross_entropy(logits.reshape(-1, V), idx[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    t = sorted(times[2:] if len(times) > 3 else times)
    med = t[len(t) // 2]
    print(json.dumps({"impl": "pytorch " + torch.__version__, "preset": name, "seq": T, "batch": B,
                      "step_s": round(med, 4), "tokens_per_s": round(B * T / med, 1), "threads": threads,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
