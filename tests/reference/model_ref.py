#!/usr/bin/python3
"""PyTorch reference for lib/model.c + lib/forward.c (HF Llama/Qwen2 semantics).

Writes the fixtures in tests/fixtures/model/ (see tests/reference/README.md):
small random models in Hugging Face form (config.json + safetensors, written by
the stdlib writer below because Debian ships neither transformers nor
safetensors) and the float64 reference logits for a few prompts, for ordinary
causal inference and for multi-input MISO inference (miso, miso-fid, concat).

    /usr/bin/python3 tests/reference/model_ref.py            # regenerate fixtures
    /usr/bin/python3 tests/reference/model_ref.py check DIR IDS...   # print logits of an HF dir

The forward pass follows transformers' LlamaForCausalLM / Qwen2ForCausalLM:
RMSNorm (x * rsqrt(mean(x^2) + eps) * w), q/k/v projections (+ bias for
qwen2), RoPE with rotate_half, inv_freq = 1 / theta^(arange(0, HD, 2) / HD)
(llama3 rope_scaling applied as transformers' _compute_llama3_parameters),
GQA by repeat_interleave of the KV heads, softmax(QK^T / sqrt(HD)), o_proj,
SwiGLU MLP, final norm, lm_head (= embed when tied).  Everything in float64.
"""
import json
import math
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures", "model")

# --------------------------------------------------------------------------- safetensors

DT = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}


def st_read(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    hdr = json.loads(data[8:8 + n])
    out = {}
    base = 8 + n
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        dt, size = DT[v["dtype"]]
        b, e = v["data_offsets"]
        buf = bytearray(data[base + b:base + e])
        t = torch.frombuffer(buf, dtype=dt) if len(buf) else torch.zeros(0, dtype=dt)
        out[k] = t.reshape(v["shape"]).to(torch.float64)
    return out


def st_write(path, tensors, dtype="F32"):
    """Sorted keys, 8-byte aligned data, {"format": "pt"} as the Python writer."""
    dt, size = DT[dtype]
    hdr = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for k in sorted(tensors):
        t = tensors[k].to(dt).contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if size == 2 else t.numpy().tobytes()
        hdr[k] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_dir(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    idx = os.path.join(d, "model.safetensors.index.json")
    sd = {}
    if os.path.exists(idx):
        for shard in sorted(set(json.load(open(idx))["weight_map"].values())):
            sd.update(st_read(os.path.join(d, shard)))
    else:
        sd = st_read(os.path.join(d, "model.safetensors"))
    return cfg, sd

# --------------------------------------------------------------------------- model


def dims(cfg):
    D = cfg["hidden_size"]
    NH = cfg["num_attention_heads"]
    KVH = cfg.get("num_key_value_heads", NH)
    HD = cfg.get("head_dim") or D // NH
    return D, NH, KVH, HD


def inv_freq(cfg):
    D, NH, KVH, HD = dims(cfg)
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, HD, 2, dtype=torch.float64) / HD))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        out = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * out / factor + smooth * out
        med = (wl >= hi_wl) & (wl <= lo_wl)
        inv = torch.where(med, smoothed, out)
    return inv


def rope(x, pos, inv):
    """x (T, H, HD), pos (T,) -> rotate_half RoPE."""
    ang = pos.to(torch.float64)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rot * sin


def rmsnorm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def forward(cfg, sd, ids, pos, seg, n_inputs, attn="concat"):
    """ids/pos/seg: lists over the whole sequence.  seg[t] = input index
    (0..n_inputs-1) or n_inputs for the output part.  Inputs attend causally
    within their own segment; output tokens attend to every input and causally
    to the output part, combined as attn says (miso / miso-fid / concat).
    Returns logits (T, V) float64."""
    D, NH, KVH, HD = dims(cfg)
    eps = cfg.get("rms_norm_eps", 1e-6)
    L = cfg["num_hidden_layers"]
    tied = cfg.get("tie_word_embeddings", False)
    inv = inv_freq(cfg)
    T = len(ids)
    ids_t = torch.tensor(ids)
    pos_t = torch.tensor(pos)
    seg_t = torch.tensor(seg)
    x = sd["model.embed_tokens.weight"][ids_t]
    idx = torch.arange(T)
    causal = idx[None, :] <= idx[:, None]
    same = seg_t[:, None] == seg_t[None, :]
    is_out_q = (seg_t == n_inputs)[:, None]
    is_out_k = (seg_t == n_inputs)[None, :]
    for l in range(L):
        p = "model.layers.%d." % l
        h = rmsnorm(x, sd[p + "input_layernorm.weight"], eps)

        def lin(name, v):
            y = v @ sd[p + name + ".weight"].T
            if p + name + ".bias" in sd:
                y = y + sd[p + name + ".bias"]
            return y
        q = rope(lin("self_attn.q_proj", h).view(T, NH, HD), pos_t, inv)
        k = rope(lin("self_attn.k_proj", h).view(T, KVH, HD), pos_t, inv)
        v = lin("self_attn.v_proj", h).view(T, KVH, HD)
        k = k.repeat_interleave(NH // KVH, dim=1)
        v = v.repeat_interleave(NH // KVH, dim=1)
        s = torch.einsum("thd,uhd->htu", q, k) / math.sqrt(HD)  # (NH, T, T)
        # inputs: causal in own segment; output: every input key + causal output keys
        base = (same & causal) | (is_out_q & ~is_out_k)
        if attn == "concat" or n_inputs <= 1:
            o = torch.softmax(s.masked_fill(~base, float("-inf")), -1) @ v.transpose(0, 1)
        else:
            o = torch.zeros(NH, T, HD, dtype=torch.float64)
            inp_rows = ~is_out_q[:, 0]
            oi = torch.softmax(s.masked_fill(~(same & causal), float("-inf")), -1) @ v.transpose(0, 1)
            o[:, inp_rows] = oi[:, inp_rows]
            outq = is_out_q[:, 0]
            own = same & causal & is_out_q & is_out_k
            if attn == "miso":
                acc = torch.zeros_like(o)
                for i in range(n_inputs):
                    m = own | (is_out_q & (seg_t == i)[None, :])
                    acc += torch.softmax(s.masked_fill(~m, float("-inf")), -1) @ v.transpose(0, 1)
                o[:, outq] = (acc / n_inputs)[:, outq]
            elif attn == "miso-fid":
                # eq. 7 literally: Score_i = (S_i + S_out) / sum_j (S_j + S_out)
                acc = torch.zeros_like(o)
                ex = torch.exp(s - s.masked_fill(~base, float("-inf")).amax(-1, keepdim=True))
                S_out = (ex * own).sum(-1, keepdim=True)
                tot = torch.zeros_like(S_out)
                parts = []
                for i in range(n_inputs):
                    mi = is_out_q & (seg_t == i)[None, :]
                    S_i = (ex * mi).sum(-1, keepdim=True)
                    m = own | mi
                    ca = torch.softmax(s.masked_fill(~m, float("-inf")), -1) @ v.transpose(0, 1)
                    parts.append((S_i + S_out, ca))
                    tot = tot + S_i + S_out
                for w, ca in parts:
                    acc += (w / tot) * ca
                o[:, outq] = acc[:, outq]
        o = o.transpose(0, 1).reshape(T, NH * HD)
        x = x + lin("self_attn.o_proj", o)
        h = rmsnorm(x, sd[p + "post_attention_layernorm.weight"], eps)
        g = lin("mlp.gate_proj", h)
        x = x + lin("mlp.down_proj", torch.nn.functional.silu(g) * lin("mlp.up_proj", h))
    x = rmsnorm(x, sd["model.norm.weight"], eps)
    head = sd["model.embed_tokens.weight"] if tied else sd["lm_head.weight"]
    return x @ head.T

# --------------------------------------------------------------------------- fixtures


def random_model(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    D, NH, KVH, HD = dims(cfg)
    F, V, L = cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]

    def r(*shape, std=0.15, mean=0.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std + mean
    sd = {"model.embed_tokens.weight": r(V, D, std=1.0), "model.norm.weight": r(D, std=0.1, mean=1.0)}
    if not cfg.get("tie_word_embeddings", False):
        sd["lm_head.weight"] = r(V, D, std=0.2)
    for l in range(L):
        p = "model.layers.%d." % l
        sd[p + "input_layernorm.weight"] = r(D, std=0.1, mean=1.0)
        sd[p + "post_attention_layernorm.weight"] = r(D, std=0.1, mean=1.0)
        sd[p + "self_attn.q_proj.weight"] = r(NH * HD, D, std=0.3)
        sd[p + "self_attn.k_proj.weight"] = r(KVH * HD, D, std=0.3)
        sd[p + "self_attn.v_proj.weight"] = r(KVH * HD, D)
        sd[p + "self_attn.o_proj.weight"] = r(D, NH * HD)
        sd[p + "mlp.gate_proj.weight"] = r(F, D)
        sd[p + "mlp.up_proj.weight"] = r(F, D)
        sd[p + "mlp.down_proj.weight"] = r(D, F)
        if cfg.get("model_type") == "qwen2":
            sd[p + "self_attn.q_proj.bias"] = r(NH * HD, std=0.5)
            sd[p + "self_attn.k_proj.bias"] = r(KVH * HD, std=0.5)
            sd[p + "self_attn.v_proj.bias"] = r(KVH * HD, std=0.5)
    return sd


def round_to(sd, dtype):
    dt = DT[dtype][0]
    return {k: v.to(dt).to(torch.float64) for k, v in sd.items()}


def fmt(x):
    return float("%.7g" % x)


MODELS = [
    # name, config, dtype, shards
    ("llama-gqa-untied", dict(model_type="llama", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=2, vocab_size=96,
                              max_position_embeddings=64, rope_theta=10000.0, rms_norm_eps=1e-5,
                              tie_word_embeddings=False), "F32", 1),
    ("qwen2-bias-tied", dict(model_type="qwen2", hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=1, vocab_size=80,
                             max_position_embeddings=64, rope_theta=1000000.0, rms_norm_eps=1e-6,
                             tie_word_embeddings=True), "BF16", 1),
    ("llama3-rope-f16-sharded", dict(model_type="llama", hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                                     num_attention_heads=2, num_key_value_heads=2, head_dim=16, vocab_size=64,
                                     max_position_embeddings=64, rope_theta=500000.0, rms_norm_eps=1e-5,
                                     tie_word_embeddings=True,
                                     rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                       high_freq_factor=4.0, original_max_position_embeddings=16)),
     "F16", 2),
]


def write_model(d, cfg, sd, dtype, shards):
    os.makedirs(d, exist_ok=True)
    c = dict(cfg)
    c["architectures"] = ["Qwen2ForCausalLM" if c["model_type"] == "qwen2" else "LlamaForCausalLM"]
    c["hidden_act"] = "silu"
    json.dump(c, open(os.path.join(d, "config.json"), "w"), indent=2, sort_keys=True)
    if shards == 1:
        st_write(os.path.join(d, "model.safetensors"), sd, dtype)
        return
    names = sorted(sd)
    wm = {}
    for s in range(shards):
        part = {k: sd[k] for k in names[s::shards]}
        fn = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        st_write(os.path.join(d, fn), part, dtype)
        wm.update({k: fn for k in part})
    json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, open(os.path.join(d, "model.safetensors.index.json"), "w"),
              indent=2, sort_keys=True)


def make_fixtures():
    g = torch.Generator().manual_seed(7)
    for i, (name, cfg, dtype, shards) in enumerate(MODELS):
        sd = round_to(random_model(cfg, 100 + i), dtype)
        d = os.path.join(FIX, name)
        write_model(d, cfg, sd, dtype, shards)
        V = cfg["vocab_size"]
        cases = []
        for T in (1, 6, 13):
            ids = torch.randint(0, V, (T,), generator=g).tolist()
            lg = forward(cfg, sd, ids, list(range(T)), [0] * T, 1)
            cases.append({"kind": "plain", "ids": ids, "logits": [[fmt(x) for x in row] for row in lg.tolist()]})
        # multi-input: 3 inputs of different lengths + a 4-token output part
        inputs = [torch.randint(0, V, (n,), generator=g).tolist() for n in (5, 3, 7)]
        out = torch.randint(0, V, (4,), generator=g).tolist()
        start = max(len(x) for x in inputs)
        ids = sum(inputs, []) + out
        pos = sum([list(range(len(x))) for x in inputs], []) + list(range(start, start + len(out)))
        seg = sum([[j] * len(x) for j, x in enumerate(inputs)], []) + [3] * len(out)
        for attn in ("miso", "miso-fid", "concat"):
            lg = forward(cfg, sd, ids, pos, seg, 3, attn)[-len(out):]
            cases.append({"kind": attn, "inputs": inputs, "ids": out,
                          "logits": [[fmt(x) for x in row] for row in lg.tolist()]})
        # one input: every variant equals plain attention over [input, output]
        one = inputs[2]
        lg = forward(cfg, sd, one + out, list(range(len(one) + len(out))), [0] * len(one) + [1] * len(out), 1, "miso")
        cases.append({"kind": "miso", "inputs": [one], "ids": out,
                      "logits": [[fmt(x) for x in row] for row in lg[-len(out):].tolist()]})
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump({"model": name, "cases": cases}, f, separators=(",", ":"))
            f.write("\n")
        print("wrote", d)


def check(d, ids):
    cfg, sd = load_dir(d)
    lg = forward(cfg, sd, ids, list(range(len(ids))), [0] * len(ids), 1)
    for row in lg.tolist():
        print(" ".join("%.6g" % x for x in row))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "check":
        check(sys.argv[2], [int(x) for x in sys.argv[3:]])
    else:
        make_fixtures()
