/*
 * sample.h - the sample contract between the data tools and miso-pack, and
 * the reader of plain instruction records (the shapes every tool accepts).
 *
 * A Sample is one output line of crab-split or miso-chunk:
 *
 *   {"id", "mode", "inputs" | "messages", "output", "system"?, "weights"?,
 *    "meta", ...fields of the source record passed through untouched}
 *
 * Keys are written in that order, compactly, one object per line, strings as
 * UTF-8 (only '"', '\\' and control characters are escaped).  Fields passed
 * through are copied from the record's own JSON text (s->raw, the
 * reader's JsonlReader.raw) byte for byte, only the blanks between tokens dropped, so
 * 9.0 stays 9.0, 12345678901234567890 keeps every digit and "\u0000" or
 * "\ud83d\ude00" escapes are kept as written.  Without raw text (s->raw NULL)
 * they are printed from their cJSON nodes (numbers as %.15g/%.17g).
 *
 * Conversations (Conv) are how instruction records are read.  conv_read
 * accepts, by the first key found in this order:
 *   messages       [{"role": "system"|"user"|"assistant", "content": str}, ...]
 *   conversations  ShareGPT [{"from", "value"}]; human|user -> user,
 *                  gpt|chatgpt|bing|bard|assistant -> assistant, system ->
 *                  system (Crab's mapping); any other "from" is an error
 *   instruction    Alpaca {"instruction", "input"?, "output", "system"?,
 *                  "history"? [[q, a], ...]}: the user turn is instruction,
 *                  plus "\n" and input when input is not empty (LLaMA-Factory)
 *   input          DeepSeek-R1-Distill {"input", "reasoning_content",
 *                  "content"}: the user turn is think_template with {input}
 *                  and {reasoning} substituted, the answer is content
 * and normalises them to a list of turns with a role of system/user/assistant.
 * The last turn must be the assistant's and a user turn must precede it.
 *
 * Invariants
 *   - conv.consumed lists the top-level keys the reader turned into turns;
 *     every other key of the record passes through (sample_write).
 *   - Sample ids are the record's "id" (non-empty string, or integer below
 *     9e15 printed as such); a record without one (or with an empty,
 *     fractional, huge or non-scalar id, which is then kept in meta.orig_id)
 *     gets "h" + 16 hex digits of a hash of its turns and of its whole JSON
 *     text (s->raw, blanks between tokens left out; set s->raw before
 *     sample_set_id), so the id, and the seeded choices made from it, never
 *     depend on where the record sits in the input, and records that differ
 *     anywhere get different ids.  Exact duplicates share their id (and
 *     their seeded choices): the id names the content.
 *
 * Ownership
 *   - Turn strings are borrowed from the cJSON record (or from conv.joined
 *     for Alpaca/R1 user turns): they are valid until the record is deleted
 *     or conv_read is called again.
 *   - A Sample owns its StrBufs (meta is kept as JSON text); sample_clear empties it
 *     for the next record but keeps the allocations; sample_release frees
 *     everything.  s->rec (the source record) is borrowed.
 *
 * Errors
 *   - conv_read returns -1 and fills err with path, line and a message such
 *     as "missing field 'output'" or "field 'messages' must be an array".
 *   - sample_write returns -1 if the stream failed.
 *   - err_reason() maps a message to its reason for --skip-bad summaries.
 *
 * Usage
 *   Conv c; conv_init(&c); Sample s; sample_init(&s);
 *   if (conv_read(&c, rec, NULL, r.path, r.line, &err) < 0) err_die(&err);
 *   sample_clear(&s); s.mode = SAMPLE_SFT; sample_set_id(&s, rec, &c, NULL);
 *   s.rec = rec; s.consumed = c.consumed; s.nConsumed = c.nConsumed;
 *   const ConvTurn *u = &c.turns[conv_last_user(&c)], *y = &c.turns[c.nTurns - 1];
 *   sample_add_input(&s, u->content, u->len); sb_add(&s.output, y->content, y->len);
 *   sample_meta_str(&s, "format", "messages", 8);
 *   if (sample_write(f, &s, &scratch) < 0) die("write error:");
 */
#ifndef MISO_SAMPLE_H
#define MISO_SAMPLE_H

#include <stdio.h>
#include <cjson/cJSON.h>

#include "jsonl.h"
#include "util.h"

typedef enum { SAMPLE_PARA, SAMPLE_SUCC, SAMPLE_SFT } SampleMode;

/* The default --think-template of miso-chunk for DeepSeek-R1-Distill records. */
#define CONV_THINK_TEMPLATE_DEFAULT "{input}\n<think>\n{reasoning}\n</think>"

typedef struct {
    const char *role;       /* "system", "user" or "assistant" (static strings) */
    const char *content;    /* borrowed */
    size_t len;
} ConvTurn;

typedef enum { CONV_MESSAGES, CONV_SHAREGPT, CONV_ALPACA, CONV_R1 } ConvShape;

typedef struct {
    ConvShape shape;
    ConvTurn *turns;
    size_t nTurns, capTurns;
    const char *consumed[8]; /* top-level keys read by conv_read */
    size_t nConsumed;
    StrBuf joined;           /* the built user turn of Alpaca/R1 records */
} Conv;

void conv_init(Conv *c);
void conv_release(Conv *c);
/* Read rec into c (see the shapes above).  think_template may be NULL for
 * the default.  0, or -1 with err filled (path, line, message). */
int conv_read(Conv *c, const cJSON *rec, const char *think_template, const char *path, long line,
              Err *err);
/* The system turn (first one), or NULL. */
const ConvTurn *conv_system(const Conv *c);
/* Index of the last user turn (the one before the final assistant turn). */
size_t conv_last_user(const Conv *c);
/* Number of user/assistant turns before the last user turn. */
size_t conv_history(const Conv *c);

typedef struct {
    StrBuf id;
    int id_from_rec;         /* id is rec's "id" (else rec's id goes to meta.orig_id) */
    SampleMode mode;
    StrBuf *inputs;          /* inputs[0 .. nInputs) */
    size_t nInputs, capInputs;
    StrBuf output;
    StrBuf system;
    int has_system;
    const ConvTurn *messages; /* sft multi-turn: written as "messages" instead of inputs/output */
    size_t nMessages;
    StrBuf meta;             /* JSON members of "meta" without the braces (sample_meta_*) */
    const cJSON *rec;        /* borrowed source record for the pass-through fields, or NULL */
    const char *raw;         /* borrowed JSON text of rec (JsonlReader.raw), or NULL */
    size_t raw_len;
    const char *const *consumed; /* keys of rec not passed through */
    size_t nConsumed;
    const char *const *consumed2; /* a second list (the tool's own) */
    size_t nConsumed2;
} Sample;

void sample_init(Sample *s);
/* Empty s for a new record: no inputs, empty output/system/id, a fresh
 * empty meta, no rec.  Keeps the buffers. */
void sample_clear(Sample *s);
void sample_release(Sample *s);
/* Append an input (copied); returns it so callers may append to it. */
StrBuf *sample_add_input(Sample *s, const char *text, size_t len);
/* Set s->id from rec's "id" (string or integral number; suffix appended, may
 * be NULL) or, without one, from a hash of the conversation's turns and of
 * s->raw when set. */
void sample_set_id(Sample *s, const cJSON *rec, const Conv *c, const char *suffix);
/* Add a member to meta: a string, an integer, a list of strings (texts[i]
 * of lens[i] bytes; lens may be NULL for NUL-terminated texts). */
void sample_meta_str(Sample *s, const char *key, const char *v, size_t n);
void sample_meta_int(Sample *s, const char *key, long long v);
void sample_meta_strs(Sample *s, const char *key, const char *const *texts, const size_t *lens, size_t n);

/* cJSON cuts a string at an escaped NUL, so a field the tools read must not
 * hold one: the name of the first member of rec that is "id" or in keys or
 * keys2 and whose value text (raw, len) holds a "\u0000" escape, or NULL.
 * (Pass-through fields may hold one: they are copied as text.) */
const char *sample_raw_nul(const char *raw, size_t len, const cJSON *rec, const char *const *keys, size_t nkeys,
                           const char *const *keys2, size_t nkeys2);

/* Write s as one JSON line.  scratch is a reusable buffer.  0, or -1 if the
 * stream failed. */
int sample_write(FILE *f, const Sample *s, StrBuf *scratch);

/* JSON text helpers (shared with crab.c, used by the writer). */
void json_add_string(StrBuf *out, const char *s, size_t n);
void json_add_value(StrBuf *out, const cJSON *v);

/* The reason of an error message, for --skip-bad summaries: the message
 * without its position or size details (" at column 4", " (limit ...)",
 * " in 'field[2]'"): "malformed JSON at column 4" -> "malformed JSON".
 * Written into out (reset first). */
void err_reason(const char *msg, StrBuf *out);

/*
 * SkipCount - per-reason counts of skipped records (--skip-bad).
 * skip_add copies the reason; skip_report writes "prog: skipped N bad
 * records: 3 malformed JSON, 1 missing field 'output'" via the given
 * stream; skip_release frees.
 */
typedef struct {
    char **reasons;
    size_t *counts;
    size_t n, cap;
    size_t total;
} SkipCount;

void skip_add(SkipCount *k, const char *msg);
void skip_report(const SkipCount *k, FILE *f, const char *prog);
void skip_release(SkipCount *k);

#endif
