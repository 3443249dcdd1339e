/*
 * prompts.h - reading prompts for generation (miso-gen), and naming them so
 * that a resumed run can tell which ones are already answered.
 *
 * A record is read by the first of these fields found:
 *   messages  [{"role": "system"|"user"|"assistant", "content"}, ...]: the
 *             conversation up to its last user turn (trailing assistant turns,
 *             e.g. reference answers, are dropped); "prompt" of the output is
 *             the last user message
 *   inputs    a sample-contract record (miso-pack's input): para/sft inputs
 *             are generated from together (MISO multi-input inference),
 *             "prompt" is inputs[0] (crab-split puts the full instruction
 *             first); succ chunks are joined into the one instruction they
 *             came from, which is also "prompt"
 *   prompt    an IFEval input_data record ({"key", "prompt", ...}) or any
 *             record with a string prompt
 * An optional "system" string applies to all three (a system turn of a
 * messages record wins).  The record's "key" (IFEval) or, without one, its
 * "id" is the prompt's key, copied to the output under the same name.
 *
 * Identity (for resuming): "key=" + the key as compact JSON when there is a
 * key, else "prompt=" + the prompt text.  prompt_ident_response computes the
 * same from a line miso-gen wrote, so the two can be compared.
 *
 * Ownership: a Prompt borrows every string and the key from the cJSON record
 * (valid while the record lives), except `joined`, which it owns;
 * prompt_release frees its own arrays.
 *
 * Errors: prompt_read returns -1 with err (path, line, message such as
 * "missing field 'prompt' (or 'messages' or 'inputs')").
 *
 * Usage
 *   Prompt p; prompt_init(&p);
 *   if (prompt_read(&p, rec, r.path, r.line, &err) < 0) err_die(&err);
 *   ... p.prompt, p.inputs[0 .. p.n_inputs), p.roles/p.contents ...
 *   prompt_release(&p);
 */
#ifndef MISO_PROMPTS_H
#define MISO_PROMPTS_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "util.h"

#define PROMPT_MAX_INPUTS 64

typedef struct {
    const char *key_name;       /* "key", "id" or NULL */
    const cJSON *key;           /* borrowed key value, or NULL */
    const char *prompt;         /* the output's "prompt" */
    const char *system;         /* NULL when none */
    const char *inputs[PROMPT_MAX_INPUTS];
    size_t n_inputs;            /* >= 1: the inputs of local generation */
    const char **roles, **contents;
    size_t n_msgs, cap_msgs;    /* the conversation for a chat API (ends with a user turn) */
    StrBuf joined;              /* owned: the joined succ instruction */
} Prompt;

void prompt_init(Prompt *p);
void prompt_release(Prompt *p);
/* Read rec into p (replacing what p held).  0, or -1 with err. */
int prompt_read(Prompt *p, const cJSON *rec, const char *path, long line, Err *err);
/* The identity of p (appended to out). */
void prompt_ident(const Prompt *p, StrBuf *out);
/* The identity of a written response line; -1 if it has neither key nor
 * prompt (out untouched then). */
int prompt_ident_response(const cJSON *rec, StrBuf *out);
/* Append s[0..n) to out with every invalid UTF-8 sequence replaced by
 * U+FFFD (model output may stop inside a character). */
void utf8_sanitize(const char *s, size_t n, StrBuf *out);

#endif
