/*
 * generate.h - local text generation with a Llama-family model: load a model
 * and its tokenizer once, then answer prompts (chat-templated text or raw
 * token ids), with one input or several inputs combined by MISO attention.
 *
 * Invariants
 *   - Generation is deterministic for a given model, inputs and GenOptions
 *     (the sampler draws from lib/rng seeded with o->seed; greedy draws
 *     nothing).  The thread count does not change the result.
 *   - Several inputs: each is prefilled into its own KV cache at positions
 *     from 0 (the MISO "para" layout); the generated tokens start at position
 *     max_i len_i and attend to every input as o->attn says (lib/forward.h).
 *     With one input every variant is ordinary generation.
 *
 * Ownership: a Generator owns its model, tokenizer and caches; gen_close
 * frees them.  Inputs are borrowed; results are appended to caller-owned
 * StrBuf / IntVec.
 *
 * Errors: gen_open returns NULL and fills err (naming the file); the gen_*
 * calls return 0, or -1 with err filled (e.g. a prompt longer than the
 * model's max_seq_len, an id outside the vocabulary, no tokenizer).
 *
 * A llama2.c .bin has no tokenizer: with tokenizer_path NULL gen_open still
 * succeeds, and then only gen_from_ids works (gen_respond fails with "no
 * tokenizer").
 *
 * Stopping: a response ends before the first stop id or after
 * max_new_tokens (0 = nothing generated), and never runs past the model's
 * max_seq_len (the cap is silent: the response is then shorter).  Stop ids
 * of a Hugging Face directory: every eos_token_id of config.json and
 * generation_config.json (integers or lists, model_eos_ids), the
 * tokenizer's EOS and the chat template's end-of-turn token.  A llama2.c
 * .bin stops at BOS (1), exactly as llama2.c's run.c does.  A prompt that
 * does not fit max_seq_len is an error, never truncated.
 *
 * Usage
 *   Err err; GenOptions o; gen_options_default(&o);
 *   Generator *g = gen_open("model-dir", NULL, NULL, &err);
 *   if (!g) err_die(&err);
 *   StrBuf out = SB_INIT; const char *in[] = {"Write a haiku."};
 *   if (gen_respond(g, NULL, in, 1, &o, &out, &err) < 0) err_die(&err);
 *   gen_close(g);
 */
#ifndef MISO_GENERATE_H
#define MISO_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"
#include "util.h"

enum { GEN_ATTN_MISO = 0, GEN_ATTN_MISO_FID = 1, GEN_ATTN_CONCAT = 2 };

typedef struct {
    float temperature;    /* 0 = greedy (argmax) */
    float top_p;          /* 1 = off */
    int top_k;            /* 0 = off */
    int max_new_tokens;
    uint64_t seed;
    int attn;             /* how several inputs are combined (GEN_ATTN_*) */
} GenOptions;

/* greedy, top_p 1, top_k 0, 512 new tokens, seed MISO_DEFAULT_SEED, miso */
void gen_options_default(GenOptions *o);

typedef struct Generator Generator;

/* model_path: HF directory or llama2.c .bin. tokenizer_path: NULL = the model
   directory's own tokenizer (tokenizer.json, or "byte" when config.json says
   "miso_tokenizer": "byte"); template_name: NULL = chat_guess, "none" = no
   template (see gen_respond). NULL + err on failure. */
Generator *gen_open(const char *model_path, const char *tokenizer_path, const char *template_name, Err *err);

/* Chat-templated generation: each input rendered as its own prompt (system
   optional), the generation prompt in the output part; stops at
   end-of-turn/EOS or max_new_tokens; the response text (without the
   end-of-turn token) is appended to out.  template_name "none" (gen_open)
   renders no template: BOS (when the tokenizer has one), then the system
   text and a blank line if given, then the input as it is; generation
   continues that text (base models, llama2.c story models). */
int gen_respond(Generator *g, const char *system, const char *const *inputs, size_t n_inputs, const GenOptions *o,
                StrBuf *out, Err *err);

/* gen_respond that also appends the generated ids (without the stop id)
   to out_ids (when not NULL). */
int gen_respond_ids(Generator *g, const char *system, const char *const *inputs, size_t n_inputs,
                    const GenOptions *o, StrBuf *out, IntVec *out_ids, Err *err);

/* Raw ids: n_inputs id sequences (1 = ordinary), generated ids appended to
   out (stops at EOS, at the chat template's end-of-turn id when there is a
   tokenizer, or at max_new_tokens; the stop id itself is not appended).
   With several inputs the output part needs a first token: the last id of
   every input is moved there (at position max_i len_i - 1), so the inputs
   must all end with the same id (e.g. the generation prompt's last token);
   -1 with err otherwise. */
int gen_from_ids(Generator *g, const int32_t *const *inputs, const size_t *lens, size_t n_inputs, const GenOptions *o,
                 IntVec *out, Err *err);

int gen_vocab_size(const Generator *g);
/* 1 when text prompts can be answered (a tokenizer was found or given). */
int gen_has_tokenizer(const Generator *g);
void gen_close(Generator *g);

#endif
