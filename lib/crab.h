/*
 * crab.h - Crab (THU-KEG, "Constraint Back-translation") record shapes:
 * recovering the instruction x and the constraints c1..cn of a record.
 *
 * crab_read recognises, in this order:
 *   CRAB_AUG      a back-translated seed record (shape A): "messages" [user x,
 *                 assistant y] plus "Aug_instruction": {"Additional_Instruction":
 *                 {type: text}}.  Type names are trimmed (the sample has keys
 *                 with a leading space), texts are trimmed, "" is skipped.
 *   CRAB_PLAIN    {"instruction", "input"?, "constraints", "output", "system"?}:
 *                 constraints is an array of strings or an object {type: text}.
 *   CRAB_REVERSE  a record whose string id ends in "_reverse": Crab's auxiliary
 *                 back-translation task, not a multi-constraint instruction.
 *                 Nothing else is read; the program decides (crab-split skips
 *                 them with a count).
 *   CRAB_WRAPPED  a final Crab-SFT record whose id ends in "_forward": the last
 *                 user turn was built from x and c1..cn by one of the 11
 *                 wrapper texts and a line prefix; crab_parse takes it apart.
 *   CRAB_SFT      anything else conv_read accepts (ShareGPT, messages,
 *                 Alpaca without constraints): no constraints.
 *
 * crab_parse accepts a text only when the wrapper and the constraint lines can
 * be told apart without guessing, and only when crab_render of what it found
 * gives the text back byte for byte.  It refuses (with a reason) constraints
 * joined by spaces (they cannot be separated: sentence splitting would be a
 * guess), a block that is one unmarked line (one constraint, or several joined
 * by spaces?), and wrappers 1 and 9 (no wrapper text) with unmarked lines.
 * A single unmarked line after wrapper 2's sentence stays refused: wrapper
 * 11 (the "long" form) writes the same sentence and a block without a
 * leading newline, so "met.\nA. B." is wrapper 2 with one constraint or
 * wrapper 11 with two joined by spaces; wrapper 10's block likewise.  The
 * message ends with the wrapper that matched, " (wrapper 3)", which
 * err_reason drops, so --skip-bad counts refusals by kind.
 * Wrapper 11 and wrapper 2 with a line block give the same text; crab_parse
 * reports 2.
 *
 * Ownership: CrabRecord spans point into the cJSON record (or into its
 * parse buffers); they are valid until the record is deleted or the next
 * crab_read.  crab_init/crab_release bracket a CrabRecord's life (it holds
 * the compiled PCRE2 patterns).
 *
 * Errors: crab_read and crab_parse return -1 and fill err (path, line,
 * message).  crab_render cannot fail.
 *
 *   CrabRecord c; crab_init(&c);
 *   if (crab_read(&c, rec, r.path, r.line, &err) < 0) ...;
 *   for (size_t i = 0; i < c.nCons; i++) use c.cons[i].s, c.cons[i].n;
 *   crab_release(&c);
 */
#ifndef MISO_CRAB_H
#define MISO_CRAB_H

#include <cjson/cJSON.h>

#include "sample.h"
#include "util.h"

#define CRAB_NWRAPPERS 11

typedef enum {
    CRAB_PREFIX_PLAIN,   /* "{item}" */
    CRAB_PREFIX_DASH,    /* "- {item}" */
    CRAB_PREFIX_HASH,    /* "# {item}" */
    CRAB_PREFIX_STAR,    /* "* {item}" */
    CRAB_PREFIX_QUOTE,   /* "> {item}" */
    CRAB_PREFIX_INDEX,   /* "{index}. {item}" */
    CRAB_PREFIX_SPACE,   /* space-join (no lines) */
    CRAB_NPREFIX
} CrabPrefix;

typedef struct {
    const char *s;
    size_t n;
} CrabSpan;

typedef enum { CRAB_AUG, CRAB_PLAIN, CRAB_REVERSE, CRAB_WRAPPED, CRAB_SFT } CrabKind;

typedef struct {
    CrabKind kind;
    Conv conv;              /* the conversation (not filled for CRAB_REVERSE) */
    CrabSpan instruction;   /* x */
    CrabSpan *cons;         /* c1..cn */
    const char **types;     /* types[i] (trimmed copy in typebuf) or NULL where unknown */
    size_t nCons, capCons;
    int wrapper;            /* CRAB_WRAPPED: 1..11 */
    CrabPrefix prefix;      /* CRAB_WRAPPED */
    const char *source;     /* the record's "source" string, or NULL */
    const char *consumed[4];
    size_t nConsumed;
    /* private */
    StrBuf typebuf;
    size_t *typeoff;
    size_t capTypeoff;
    void *re[CRAB_NWRAPPERS + 1];
    void *md;
    StrBuf check;
} CrabRecord;

void crab_init(CrabRecord *c);
void crab_release(CrabRecord *c);
int crab_read(CrabRecord *c, const cJSON *rec, const char *path, long line, Err *err);

/* Take a wrapped user turn apart into c->instruction, c->cons, c->wrapper and
 * c->prefix.  0, or -1 with err filled. */
int crab_parse(CrabRecord *c, const char *text, size_t len, const char *path, long line, Err *err);

/* Append to out the text Crab builds from x and cons[0..n) with the given
 * wrapper (1..11) and prefix (wrappers 3-8 indent lines by 4 spaces; the
 * line block starts with "\n" except for wrappers 9-11). */
void crab_render(StrBuf *out, int wrapper, CrabPrefix prefix, CrabSpan x, const CrabSpan *cons, size_t n);

/* The documented wrapper text (1..11) with {instruction} and {additional}. */
const char *crab_wrapper_text(int wrapper);
/* The prefix as Crab writes it ("- {item}", "{index}. {item}", "space"). */
const char *crab_prefix_name(CrabPrefix p);

#endif
