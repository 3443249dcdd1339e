#!/usr/bin/env python3
"""train_ref.py - an independent PyTorch reference for miso-train.

Builds a tiny Llama-family model (GQA, Qwen2-style q/k/v biases, untied head,
HF rotate_half RoPE) and a few MISO samples, computes in float64 with autograd
the loss (mean cross-entropy over the supervised tokens of the whole batch)
and every parameter gradient, for each attention variant, implementing the
paper's definitions literally (no log-sum-exp merge):

  miso     O = sum_i 1/n  CausalAttention(Q_out, [K_i, K_out], [V_i, V_out])
  weights  the same with the sample's Score_i
  miso-fid the same with Score_i = (S_i + S_out) / sum_j (S_j + S_out)   (eq. 7)
  concat   one causal softmax over [K_1 ... K_n, K_out]

Inputs attend causally to themselves only.  Positions: para - every input from
0, the output from max t_i; succ - inputs end to end, the output after them.

Writes tests/fixtures/train/ref-{para,succ}.safetensors (F32):
  HF-named weights; "grad.<variant>.<name>" gradients; "loss.<variant>" [1];
  "config" [dim, hidden, layers, heads, kv_heads, head_dim, vocab, tied, bias,
  rope_theta, eps]; samples as "sample.S.in.I.ids|pos", "sample.S.out.ids|pos|mask",
  "sample.S.weights" (ids stored as floats; exact for these sizes).

Run: /usr/bin/python3 tests/reference/train_ref.py   (Debian's python3-torch)
"""
import json, math, os, struct, sys
import torch

torch.manual_seed(0)
DT = torch.float64
D, F, L, NH, KVH, V = 16, 24, 2, 4, 2, 37
HD = D // NH
THETA, EPS = 10000.0, 1e-5
VARIANTS = ["miso", "miso-fid", "weights", "concat"]


def make_params():
    g = torch.Generator().manual_seed(1)
    def r(*shape, s=0.3):
        return (torch.randn(*shape, generator=g, dtype=DT) * s).requires_grad_()
    p = {"model.embed_tokens.weight": r(V, D, s=1.0)}
    for l in range(L):
        b = f"model.layers.{l}."
        p[b + "input_layernorm.weight"] = (1 + r(D, s=0.1)).detach().requires_grad_()
        p[b + "self_attn.q_proj.weight"] = r(NH * HD, D)
        p[b + "self_attn.q_proj.bias"] = r(NH * HD, s=0.1)
        p[b + "self_attn.k_proj.weight"] = r(KVH * HD, D)
        p[b + "self_attn.k_proj.bias"] = r(KVH * HD, s=0.1)
        p[b + "self_attn.v_proj.weight"] = r(KVH * HD, D)
        p[b + "self_attn.v_proj.bias"] = r(KVH * HD, s=0.1)
        p[b + "self_attn.o_proj.weight"] = r(D, NH * HD)
        p[b + "post_attention_layernorm.weight"] = (1 + r(D, s=0.1)).detach().requires_grad_()
        p[b + "mlp.gate_proj.weight"] = r(F, D)
        p[b + "mlp.up_proj.weight"] = r(F, D)
        p[b + "mlp.down_proj.weight"] = r(D, F)
    p["model.norm.weight"] = (1 + r(D, s=0.1)).detach().requires_grad_()
    p["lm_head.weight"] = r(V, D)
    return p


def rmsnorm(x, w):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS) * w


def rope(x, pos):  # x (T, H, HD), HF rotate_half
    inv = THETA ** (-torch.arange(0, HD, 2, dtype=DT) / HD)
    ang = pos.to(DT)[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :]
    x1, x2 = x[..., : HD // 2], x[..., HD // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def qkv(p, l, h, pos):
    b = f"model.layers.{l}.self_attn."
    q = h @ p[b + "q_proj.weight"].T + p[b + "q_proj.bias"]
    k = h @ p[b + "k_proj.weight"].T + p[b + "k_proj.bias"]
    v = h @ p[b + "v_proj.weight"].T + p[b + "v_proj.bias"]
    T = h.shape[0]
    q = rope(q.view(T, NH, HD), pos)
    k = rope(k.view(T, KVH, HD), pos)
    v = v.view(T, KVH, HD)
    rep = NH // KVH
    return q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)


def scores(q, k):  # (Tq, H, HD), (Tk, H, HD) -> (H, Tq, Tk)
    return torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(HD)


def causal_attn(q, k, v):
    T = q.shape[0]
    s = scores(q, k).masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), float("-inf"))
    return torch.einsum("hqk,khd->qhd", s.softmax(-1), v)


def out_attn(qo, ko, vo, kin, vin, variant, w):
    n, to = len(kin), qo.shape[0]
    mask = torch.tril(torch.ones(to, to, dtype=torch.bool))
    so = scores(qo, ko).masked_fill(~mask, float("-inf"))
    if variant == "concat":
        s = torch.cat([scores(qo, k) for k in kin] + [so], -1)
        vv = torch.cat(vin + [vo], 0)
        return torch.einsum("hqk,khd->qhd", s.softmax(-1), vv)
    outs, sums = [], []
    for i in range(n):
        s = torch.cat([scores(qo, kin[i]), so], -1)
        vv = torch.cat([vin[i], vo], 0)
        outs.append(torch.einsum("hqk,khd->qhd", s.softmax(-1), vv))
        sums.append(s.exp().sum(-1).permute(1, 0))  # (to, H): S_i + S_out
    if variant == "miso":
        ws = [torch.full((to, NH), 1.0 / n, dtype=DT)] * n
    elif variant == "weights":
        ws = [torch.full((to, NH), float(w[i]), dtype=DT) for i in range(n)]
    else:  # miso-fid, eq. 7
        tot = sum(sums)
        ws = [sm / tot for sm in sums]
    return sum(ws[i][..., None] * outs[i] for i in range(n))


def forward(p, samples, variant):
    losses, count = [], 0
    for smp in samples:
        hin = [p["model.embed_tokens.weight"][torch.tensor(ids)] for ids, _ in smp["inputs"]]
        ho = p["model.embed_tokens.weight"][torch.tensor(smp["out_ids"])]
        for l in range(L):
            b = f"model.layers.{l}."
            qs, ks, vs = [], [], []
            for (ids, pos), h in zip(smp["inputs"], hin):
                q, k, v = qkv(p, l, rmsnorm(h, p[b + "input_layernorm.weight"]), torch.tensor(pos))
                qs.append(q), ks.append(k), vs.append(v)
            qo, ko, vo = qkv(p, l, rmsnorm(ho, p[b + "input_layernorm.weight"]), torch.tensor(smp["out_pos"]))
            new_in = [causal_attn(q, k, v) for q, k, v in zip(qs, ks, vs)]
            ao = out_attn(qo, ko, vo, ks, vs, variant, smp.get("weights"))

            def block(h, a):
                h = h + a.reshape(h.shape[0], NH * HD) @ p[b + "self_attn.o_proj.weight"].T
                x = rmsnorm(h, p[b + "post_attention_layernorm.weight"])
                m = torch.nn.functional.silu(x @ p[b + "mlp.gate_proj.weight"].T) * (x @ p[b + "mlp.up_proj.weight"].T)
                return h + m @ p[b + "mlp.down_proj.weight"].T
            hin = [block(h, a) for h, a in zip(hin, new_in)]
            ho = block(ho, ao)
        logits = rmsnorm(ho, p["model.norm.weight"]) @ p["lm_head.weight"].T
        mask = torch.tensor(smp["mask"], dtype=torch.bool)[1:]
        tg = torch.tensor(smp["out_ids"])[1:]
        ce = torch.nn.functional.cross_entropy(logits[:-1], tg, reduction="none")
        losses.append(ce[mask].sum())
        count += int(mask.sum())
    return sum(losses) / count


def make_samples(mode, g):
    def ids(n):
        return torch.randint(0, V, (n,), generator=g).tolist()
    out = []
    for lens, to, m in (([3, 5, 2, 4], 7, mode), ([6], 5, "sft")):
        ins, off = [], 0
        for t in lens:
            pos = list(range(t)) if m != "succ" else list(range(off, off + t))
            ins.append((ids(t), pos))
            off += t
        start = max(lens) if m != "succ" else off
        w = torch.rand(len(lens), generator=g, dtype=DT) + 0.5
        w = (w / w.sum()).tolist()
        out.append({"mode": m, "inputs": ins, "out_ids": ids(to), "out_pos": list(range(start, start + to)),
                    "mask": [0, 0] + [1] * (to - 2), "weights": w})
    return out


def write_safetensors(path, tensors):
    hdr, data, off = {}, b"", 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        raw = struct.pack("<%df" % t.numel(), *t.flatten().tolist())
        hdr[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    hdr["__metadata__"] = {"format": "pt", "source": "tests/reference/train_ref.py"}
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/train"
    os.makedirs(outdir, exist_ok=True)
    for mode in ("para", "succ"):
        p = make_params()
        g = torch.Generator().manual_seed(7 if mode == "para" else 8)
        samples = make_samples(mode, g)
        T = {k: v for k, v in p.items()}
        T["config"] = torch.tensor([D, F, L, NH, KVH, HD, V, 0, 1, THETA, EPS], dtype=DT)
        for s, smp in enumerate(samples):
            for i, (ids, pos) in enumerate(smp["inputs"]):
                T[f"sample.{s}.in.{i}.ids"] = torch.tensor(ids, dtype=DT)
                T[f"sample.{s}.in.{i}.pos"] = torch.tensor(pos, dtype=DT)
            T[f"sample.{s}.out.ids"] = torch.tensor(smp["out_ids"], dtype=DT)
            T[f"sample.{s}.out.pos"] = torch.tensor(smp["out_pos"], dtype=DT)
            T[f"sample.{s}.out.mask"] = torch.tensor(smp["mask"], dtype=DT)
            T[f"sample.{s}.weights"] = torch.tensor(smp["weights"], dtype=DT)
        for variant in VARIANTS:
            for t in p.values():
                t.grad = None
            loss = forward(p, samples, variant)
            loss.backward()
            T[f"loss.{variant}"] = loss.detach().reshape(1)
            for k, t in p.items():
                T[f"grad.{variant}.{k}"] = t.grad
            print(f"{mode} {variant}: loss {loss.item():.6f}")
        write_safetensors(os.path.join(outdir, f"ref-{mode}.safetensors"), T)


if __name__ == "__main__":
    main()
