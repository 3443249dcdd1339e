/*
 * packer.h - sample-contract records -> tokenised MISO samples (PackSample,
 * the layout of pack.h), as miso-pack writes them.  DESIGN.md "Token layout
 * and position ids" is the specification; this header says how each rule is
 * carried out.
 *
 * Text records ({"mode", "inputs" | "messages", "output", "system"?,
 * "weights"?, "id"?}) need a Tokenizer and a chat template:
 *   - each input i is rendered with chat_render_prompt(system, input_i)
 *     (BOS, optional system turn, user turn, up to the end of the user turn)
 *     and encoded with tok_encode(allow_special = 1);
 *   - the output part is the generation prompt, the response and the
 *     end-of-turn text, encoded as the continuation of input 0's prompt
 *     (so the ids are those of the single sequence prompt + answer; see
 *     finish_output in packer.c); the loss mask is 1 on the response and end-of-turn tokens, 0 on the generation
 *     prompt.  loss_mask[0] is always 0 (pack.h), so when a template's
 *     generation prompt is empty (mistral: the answer follows "[/INST]"
 *     directly) the last prompt token, if every input ends with the same
 *     one (succ: the last chunk's), moves to the front of the output part
 *     with loss 0, and the first response token stays supervised;
 *     otherwise that first response token gets no loss;
 *   - para: each input's positions count from 0, the output starts at
 *     max_i len_i.  succ: the inputs (successive chunks whose concatenation
 *     is the instruction) are rendered as ONE prompt, encoded once, and that
 *     id sequence is cut into the chunks: the cut for the text boundary b is
 *     the length of the longest common prefix of enc(prompt) and
 *     enc(prompt text before b), i.e. a token straddling a boundary goes to
 *     the later chunk.  So the chunks concatenated are exactly the tokens of
 *     the single rendered prompt.  A chunk that would get no token takes one
 *     from its successor (each input needs >= 1 token); the rendered prefix
 *     (BOS, system, user header) belongs to the first chunk and the suffix
 *     (end of the user turn) to the last.  Positions run end to end; the
 *     output follows the last chunk.
 *   - sft with one input: ordinary SFT (positions 0..).
 *   - sft with "messages" (multi-turn, trained on every assistant turn):
 *     the input is the conversation rendered up to the end of the FIRST user
 *     turn (with the system turn if any); the output part is everything
 *     after it, in order: for each assistant turn its generation prompt
 *     (loss 0), its content and end-of-turn (loss 1); user/system turns in
 *     between and any template text after an end-of-turn (ChatML's "\n")
 *     have loss 0.  Each message's text is the difference between the
 *     renderings of the conversation prefixes (chat_render_messages), so it
 *     is exactly what the template produces.  Text after the final
 *     end-of-turn is dropped, as in single-turn samples.
 *
 * Pre-tokenised records ({"input_ids": [[...], ...], "output_ids": [...],
 * "output_loss_mask"?: [0|1, ...], "mode"?, "weights"?, "id"?}) bypass the
 * tokenizer; positions follow the same para/succ rules.  Without
 * output_loss_mask every output token but the first is supervised.  Ids are
 * checked against vocab_size when it is known (> 0).
 *
 * The sample id is the record's "id" (a string, or a number written in
 * decimal); a record without a usable one (absent, null, "", another type)
 * gets "PATH:LINE" from where it was read (e.g. "train.jsonl:12"), so every
 * sample of a pack has a stable, non-empty id.
 *
 * A missing "mode" means sft when there is exactly one input (an error
 * otherwise).  "weights" (para/succ only) must have one number >= 0 per
 * input, summing to 1 within 1e-3.
 *
 * Truncation policy (--max-len L, L > 0): the length of a sample is its
 * last output position + 1 (para: max_i len_i + out_len; succ and sft:
 * sum_i len_i + out_len), the sequence length every input row of the
 * trainer sees.  A longer sample keeps all of its inputs and loses the END
 * of its output (response tail and end-of-turn) down to length L.  If that
 * leaves no supervised token, the sample is dropped: packer_next returns 0
 * with err saying why.  Both cases are counted in PackerStats; the caller
 * reports them, nothing is dropped silently.
 *
 * Ownership: a Packer borrows its Tokenizer (which must outlive it) and owns
 * the buffers the returned PackSample points into; they are valid until the
 * next packer_next or packer_free.
 *
 * Errors: packer_next returns 1 (sample ready), 0 (sample dropped by the
 * truncation policy; err holds the reason) or -1 (bad record: err holds
 * path, line and a message such as "missing field 'output'" or "input 2
 * token 5: id 70000 outside the vocabulary (32000)").
 *
 * Usage
 *   Packer *p = packer_new(tok, CHAT_LLAMA3, 4096, 0);
 *   PackSample s;
 *   int rc = packer_next(p, rec, r.path, r.line, &s, &err);
 *   if (rc < 0) err_die(&err); if (rc > 0) pack_write(&w, &s, &err);
 *   packer_free(p);
 */
#ifndef MISO_PACKER_H
#define MISO_PACKER_H

#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "chat.h"
#include "pack.h"
#include "tokenizer.h"
#include "util.h"

typedef struct {
    uint64_t samples;           /* samples returned (not dropped) */
    uint64_t by_mode[3];        /* per PACK_SFT / PACK_PARA / PACK_SUCC */
    uint64_t inputs;            /* sum of n_inputs */
    int max_inputs;
    uint64_t input_tokens, output_tokens, loss_tokens;
    uint64_t truncated;         /* samples whose output was cut */
    uint64_t truncated_tokens;  /* output tokens cut */
    uint64_t dropped;           /* samples dropped by the truncation policy */
    int max_len_seen;           /* longest sample length before truncation */
} PackerStats;

typedef struct Packer Packer;

/* tok may be NULL (then only pre-tokenised records are accepted);
 * max_len 0 = no limit; vocab_size 0 = take it from tok (or unknown). */
Packer *packer_new(const Tokenizer *tok, ChatTemplate tpl, int max_len, int vocab_size);
void packer_free(Packer *p);

/* Turn one record into *out (see above).  1, 0 (dropped) or -1. */
int packer_next(Packer *p, const cJSON *rec, const char *path, long line, PackSample *out, Err *err);

const PackerStats *packer_stats(const Packer *p);

/* Length of a sample as the truncation policy counts it (last output
 * position + 1). */
int packer_sample_len(const PackSample *s);

/* The HF-style JSONL export of one sample, one compact line:
 *   {"id", "mode", "input_ids", "position_ids", "segment_ids", "labels",
 *    "weights"?}
 * The sequence is input 1 .. input n then the output.  segment_ids are
 * 1..n for the inputs and n+1 for the output (no padding, so 0 never
 * occurs).  labels are -100 on every input token and on output tokens
 * without loss, the token id where loss_mask is 1 (the usual HF convention:
 * the model shifts, label[t] is predicted from position t-1).  scratch is a
 * reusable buffer.  0, or -1 if the stream failed. */
int packer_write_jsonl(FILE *f, const PackSample *s, StrBuf *scratch);

#endif
