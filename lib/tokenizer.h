/*
 * tokenizer.h - text <-> token ids for the models miso trains and evaluates.
 *
 * Kinds (chosen by tok_load from what the path holds):
 *   - byte-level BPE from a Hugging Face tokenizer.json (GPT-2, Llama-3,
 *     Qwen2/Qwen3): added/special tokens split out first, then the NFC
 *     normalizer if the file has one (lib/tok_nfc.c), the pre-tokenizer
 *     Split regexes (PCRE2, UTF+UCP, JIT), the GPT-2 ByteLevel byte->char
 *     map, merges by rank (ignore_merges honoured);
 *   - SentencePiece-style BPE with byte fallback from a tokenizer.json
 *     (Llama-2, Mistral: normalizer Prepend "▁" + Replace " "->"▁", or the
 *     newer Metaspace pre-tokenizer; merges by rank, <0xXX> byte pieces for
 *     anything not in the vocabulary; when no piece has a "▁" after another
 *     character, as in Llama-2's and Mistral's, the text is cut into words
 *     before each such "▁" and the words are cached: the same ids, faster);
 *   - a llama2.c tokenizer.bin (int32 max_token_length, then per token:
 *     float32 score, int32 len, len bytes), encoded with the sentencepiece
 *     score-based greedy merge that llama2.c uses;
 *   - "byte": the built-in tokenizer of the tiny demo model: ids 0..255 are
 *     the bytes, 256 <s> (BOS), 257 </s> (EOS), 258 <|user|>,
 *     259 <|assistant|>, 260 <|system|>, 261 <|end|>, 262 <pad>, 263 <unk>;
 *     vocab size 264 (fixed: the model presets depend on it).
 *
 * Limits (tok_load refuses anything else by name): model BPE only (no
 * Unigram/WordPiece); pre-tokenizers ByteLevel, Split (Isolated or Removed,
 * not inverted), Metaspace (split false) and Sequences of them; normalizers
 * Prepend "▁", Replace " "->"▁", NFC and Sequences of them.  Added tokens
 * are all matched on the raw text, as transformers.js does: the
 * "normalized": true flag is not applied.  HF tokenizers matches such tokens
 * in the normalized text instead; the ids differ only when the normalizer
 * changes the token or the text just before it: with Prepend "▁" a text
 * that starts with a normalized added token gets its "▁" before the token
 * (HF: "▁", TOKEN, rest with no "▁") where miso puts it on the rest; a
 * token containing " " is not found once Replace made it "▁"; NFC can
 * compose a token's first character with a preceding combining mark.  The
 * tokenizers we test mark their special tokens normalized: false (Llama-2/3,
 * Mistral, Qwen) or have no normalizer (GPT-2), where both agree.  lstrip/rstrip take Unicode
 * White_Space (HF's \s; transformers.js's trim differs on U+0085 and
 * U+FEFF); single_word treats every byte >= 0x80 as a word character (HF:
 * Unicode \w, so e.g. a token after U+00A0 counts as a word start there
 * and not here).  PCRE2 10.42 and the NFC tables know Unicode 14: letters
 * and compositions added since may split differently from a newer HF/ICU.
 *
 * Invariants
 *   - A loaded Tokenizer is immutable apart from an internal pre-token cache.
 *   - decode(encode(x)) == x for valid UTF-8 x, except, as in HF, a text that
 *     starts with a space under a Metaspace tokenizer (it gets no extra "▁",
 *     and decode strips the first one).  For the SentencePiece kinds
 *     the "▁" the normalizer prepends to each segment (the text start and
 *     the text after each added token) is removed again on decode, so
 *     decode a whole sequence at once: decoding ids one call at a time
 *     drops the leading space of each call's first word (tok_decode_tail is
 *     the streaming form).
 *   - Invalid UTF-8 given to the tokenizer.json kinds is first repaired the
 *     way Node's TextDecoder (WHATWG) does it: each maximal invalid subpart
 *     becomes U+FFFD.  So the ids equal those of the JS reference
 *     tokenizers reading the same bytes.  The byte and llama2.c kinds see
 *     the raw bytes.
 *   - Encoding is thread-safe (the pre-token cache is under a mutex).
 *
 * Ownership
 *   - tok_load returns a Tokenizer the caller frees with tok_free.
 *   - IntVec owns v; intvec_release frees it and zeroes the struct.
 *   - Encode/decode append to caller-owned IntVec / StrBuf.
 *
 * Errors
 *   - tok_load returns NULL and fills err (file = path, line 0).
 *   - tok_decode returns -1 and fills err for an id out of range.
 *
 * Usage
 *   Err e; Tokenizer *t = tok_load("models/llama3", &e);
 *   if (!t) err_die(&e);
 *   IntVec ids = {0};
 *   tok_encode(t, text, strlen(text), 1, &ids);
 *   StrBuf sb = SB_INIT;
 *   if (tok_decode(t, ids.v, ids.n, 0, &sb, &e) < 0) err_die(&e);
 *   intvec_release(&ids); sb_release(&sb); tok_free(t);
 */
#ifndef MISO_TOKENIZER_H
#define MISO_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct {
    int32_t *v;
    size_t n, cap;
} IntVec; /* growable id array; release with intvec_release */

void intvec_push(IntVec *a, int32_t x);
void intvec_release(IntVec *a);

typedef struct Tokenizer Tokenizer;

/* path: a directory holding tokenizer.json (+ tokenizer_config.json for
 * bos/eos/chat template hints), a tokenizer.json file, a llama2.c
 * tokenizer.bin, or the literal "byte" for the built-in byte tokenizer of the
 * tiny demo model.  NULL + err on failure. */
Tokenizer *tok_load(const char *path, Err *err);
void tok_free(Tokenizer *t);

/* Append the ids of text[0..n).  allow_special: recognise added/special
 * tokens written in the text (as HF does for added tokens).  0 or -1. */
int tok_encode(const Tokenizer *t, const char *text, size_t n, int allow_special, IntVec *out);

/* Append the text of ids (byte-level pieces joined, byte fallback decoded;
 * special tokens rendered as their text when skip_special is 0).  0, or -1
 * for an out-of-range id (err filled). */
int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, int skip_special, StrBuf *out, Err *err);
/* Append the text that ids[from..n) contribute to the decode of ids[0..n):
 * for streaming generation, where decoding only the new ids would lose a
 * SentencePiece word's space.  The appended bytes may end inside a UTF-8
 * character (the next call continues it).  0 or -1 as tok_decode. */
int tok_decode_tail(const Tokenizer *t, const int32_t *ids, size_t n, size_t from, int skip_special, StrBuf *out,
                    Err *err);

int tok_vocab_size(const Tokenizer *t);
int tok_bos(const Tokenizer *t); /* -1 when the tokenizer has none */
int tok_eos(const Tokenizer *t); /* -1 when none */
/* id of a vocabulary/special token string, -1 if absent */
int tok_token_id(const Tokenizer *t, const char *token);

/* Additions beyond the shared contract. */
/* "byte", "bytelevel-bpe", "sentencepiece-bpe" or "llama2c" */
const char *tok_kind(const Tokenizer *t);
/* The text tok_decode gives for one id (special tokens as their text), NULL
 * for an id out of range.  Borrowed, valid while t lives. */
const char *tok_id_text(const Tokenizer *t, int id);
/* The Jinja chat template the tokenizer folder ships (tokenizer_config.json's
 * "chat_template": the string, or the entry named "default" of a list, else
 * its first; else the file chat_template.jinja), NULL if none.  miso does not
 * run Jinja: chat_guess only looks for known markers in it.  Borrowed, valid
 * while t lives. */
const char *tok_chat_template(const Tokenizer *t);
/* Append s[0..n) to out with each maximal invalid UTF-8 subpart replaced by
 * U+FFFD (the WHATWG rule of Node's TextDecoder and of HF's lossy decode):
 * what tok_encode does to its input, and what a decoded id sequence that
 * stops inside a character needs before it goes into JSON. */
void tok_utf8_repair(const char *s, size_t n, StrBuf *out);

#endif
