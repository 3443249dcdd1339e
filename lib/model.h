/*
 * model.h - a Llama-family decoder in F32: configuration, the flat parameter
 * block, loading (Hugging Face directories, llama2.c checkpoints), saving
 * (Hugging Face directories) and random initialisation from presets.
 *
 * Legend (used in every numeric module): L layers, D model width (dim),
 * NH query heads, KVH key/value heads, HD head width, F FFN width, V vocab,
 * T tokens.  Linear weights are stored as PyTorch nn.Linear does, (out, in),
 * row-major, so y = x · Wᵀ.
 *
 * Invariants
 *   - All parameters live in one contiguous block (Model.block, nparams
 *     floats), carved into the tensors of ModelWeights in the fixed order of
 *     model_tensor_sizes (llm.c's fill_in_parameter_sizes idea); model_hf_tensors
 *     names every per-layer slice of it the Hugging Face way, the one name
 *     table that loading, saving and the trainer's gradient dump share.  Gradients
 *     and AdamW moments in the trainer mirror this layout exactly, so an
 *     optimiser is one flat loop and a checkpoint is one fwrite.
 *   - q/k rows are in the Hugging Face layout (RoPE by rotate_half).  llama2.c
 *     and Meta checkpoints are permuted on load (and never saved that way).
 *   - When the head is tied, w.lm_head == w.embed and the block holds it once;
 *     when there are no q/k/v biases, w.bq/bk/bv are NULL and take no space.
 *
 * Ownership: a Model owns its block; model_release frees it.  Loading into a
 * Model that holds weights is a programmer error.
 *
 * Errors: loaders return 0, or -1 with err naming the file and, where it
 * applies, the tensor ("model.safetensors: tensor 'model.norm.weight':
 * shape [63] does not match the config [64]").  Nothing is printed.
 *
 * Usage
 *   Model m; Err err;
 *   if (model_load(&m, "path/to/hf-dir-or-model.bin", &err) < 0) err_die(&err);
 *   ... m.cfg.dim, m.w.wq + l * NH*HD*D ...
 *   model_save_hf(&m, "out/", MODEL_SAVE_BF16, &err);
 *   model_release(&m);
 */
#ifndef MISO_MODEL_H
#define MISO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct {
    char arch[16];        /* "llama", "mistral" or "qwen2" (config.json model_type) */
    int dim;              /* D  hidden_size */
    int hidden_dim;       /* F  intermediate_size */
    int n_layers;         /* L  num_hidden_layers */
    int n_heads;          /* NH num_attention_heads */
    int n_kv_heads;       /* KVH num_key_value_heads */
    int head_dim;         /* HD head_dim (default D / NH) */
    int vocab_size;       /* V */
    int max_seq_len;      /* max_position_embeddings */
    float rope_theta;     /* 10000, 500000, 1e6 ... */
    float norm_eps;       /* rms_norm_eps */
    int tied;             /* tie_word_embeddings */
    int qkv_bias;         /* q/k/v projections have biases (Qwen2) */
    /* Llama 3.1 rope_scaling {"rope_type": "llama3"}; factor 0 = none. */
    float rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_max;
    int bos_id, eos_id;   /* -1 when unknown */
    /* "byte" when config.json says "miso_tokenizer": "byte" (the built-in
     * byte tokenizer, tok_load("byte")); "" otherwise. */
    char tokenizer[16];
} ModelConfig;

/* The parameter tensors, in block order.  Shapes per layer are stacked over
 * L (layer l's slice of wq starts at wq + l * NH*HD*D). */
typedef struct {
    float *embed;       /* (V, D)            model.embed_tokens.weight */
    float *attn_norm;   /* (L, D)            input_layernorm */
    float *wq;          /* (L, NH*HD, D)     q_proj */
    float *wk;          /* (L, KVH*HD, D)    k_proj */
    float *wv;          /* (L, KVH*HD, D)    v_proj */
    float *bq;          /* (L, NH*HD)        q_proj.bias, NULL without biases */
    float *bk;          /* (L, KVH*HD)       k_proj.bias, NULL without biases */
    float *bv;          /* (L, KVH*HD)       v_proj.bias, NULL without biases */
    float *wo;          /* (L, D, NH*HD)     o_proj */
    float *ffn_norm;    /* (L, D)            post_attention_layernorm */
    float *w_gate;      /* (L, F, D)         mlp.gate_proj (llama2.c w1) */
    float *w_up;        /* (L, F, D)         mlp.up_proj   (llama2.c w3) */
    float *w_down;      /* (L, D, F)         mlp.down_proj (llama2.c w2) */
    float *final_norm;  /* (D)               model.norm */
    float *lm_head;     /* (V, D)            lm_head; == embed when tied */
} ModelWeights;

#define MODEL_NTENSORS 15

typedef struct {
    ModelConfig cfg;
    ModelWeights w;
    float *block;       /* all parameters, nparams floats */
    size_t nparams;
} Model;

enum { MODEL_SAVE_F32 = 0, MODEL_SAVE_BF16 = 1 };

/* Element counts of the 15 tensors in block order (0 for absent ones);
 * returns the total.  The one place where parameter sizes are computed. */
size_t model_tensor_sizes(const ModelConfig *c, size_t sizes[MODEL_NTENSORS]);
/* Point the ModelWeights fields into block according to the sizes above.
 * Used for parameters, and by the trainer for gradients and moments. */
void model_point_weights(const ModelConfig *c, float *block, ModelWeights *w);

/* One Hugging Face tensor: a whole global tensor or one layer's slice of a
 * stacked one. */
typedef struct {
    char name[96];      /* "model.layers.3.mlp.up_proj.weight" */
    int tensor;         /* 0 .. MODEL_NTENSORS-1 in block order (14 = lm_head) */
    int layer;          /* -1 for the global tensors */
    size_t offset;      /* floats from the start of the block */
    size_t numel;
    int ndim;           /* 2 for matrices (out, in), 1 for vectors */
    int64_t shape[2];   /* shape[1] is 0 for vectors */
} ModelHfTensor;

/* The Hugging Face tensors of a model with config c, in block order (each
 * kind layer by layer; absent biases and a tied lm_head left out): fills
 * out[] when out is non-NULL and returns how many there are.  This is the
 * order model_save_hf writes and the trainer's gradient dump uses. */
size_t model_hf_tensors(const ModelConfig *c, ModelHfTensor *out);

/* Fill cfg from a named preset: "tiny" (the embedded demo model, built-in
 * byte tokenizer), "small", "mid".  Returns 0, or -1 for an unknown name. */
int model_preset(ModelConfig *cfg, const char *name);
/* Allocate the block for cfg and initialise it at random from seed (normal
 * 0.02 for matrices, 1 for norms, 0 for biases).  Deterministic. */
void model_init_random(Model *m, const ModelConfig *cfg, uint64_t seed);

/* path is a Hugging Face directory (config.json + model.safetensors or a
 * sharded index) or a llama2.c .bin checkpoint. */
int model_load(Model *m, const char *path, Err *err);
/* Write dir/config.json and dir/model.safetensors, whole or nothing: both
 * go to temporaries in dir, the weights are renamed into place first and the
 * config last, so a failed save leaves no new config.json (and an existing
 * directory's files untouched).  dir is created if missing (its parent must
 * exist).  The loader prefers model.safetensors over a shard index, so
 * saving over a sharded directory is read back as saved. */
int model_save_hf(const Model *m, const char *dir, int dtype, Err *err);
void model_release(Model *m);
/* The end-of-sequence ids generation stops at: every eos_token_id of
 * path/config.json and path/generation_config.json (each an integer or a
 * list, as Llama 3 Instruct's [128001, 128008, 128009]), duplicates removed,
 * at most max.  Returns how many were stored; 0 when path is not a directory
 * or names none.  Unreadable or malformed files count as naming none (the
 * loader reports config.json's problems). */
int model_eos_ids(const char *path, int *ids, int max);

#endif
