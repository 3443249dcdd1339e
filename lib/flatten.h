/*
 * flatten.h - IFEval -> IFEval-Flatten: each n-constraint prompt becomes n
 * single-constraint prompts that keep the task and exactly one constraint's
 * wording (MISO paper, Lu et al. 2025, section 5.1.1).
 *
 * How a prompt is taken apart (attribution rules, all regex work in PCRE2):
 *   1. combination:repeat_prompt is structural: its kwargs prompt_to_repeat
 *      is found verbatim in the prompt; the text around it is the "repeat
 *      wrapper".  The wrapper is kept only for the repeat constraint.  For
 *      that record prompt_to_repeat is set to the flattened request, so the
 *      kwargs always equal the text the prompt asks to repeat.
 *   2. The request is cut into units: sentences (at . ? ! followed by a
 *      space, except after abbreviations, numbered-list markers, or inside
 *      quotes, parentheses and the constraint phrases of the kwargs) and
 *      lines; an example block (lines after a unit ending in ':') joins the
 *      unit that introduces it.
 *   3. Each constraint has a detector: a PCRE2 pattern built from its
 *      instruction id's typical wordings and its kwargs values (the keyword,
 *      the number or number-1 in digits or words, the language name, the
 *      letter, the end phrase, the section splitter ...).  A unit's owners are
 *      the constraints whose detector matches in it.
 *   4. For constraint j: a unit without owners is task text and is kept; a
 *      unit owned by j alone is kept; a unit owned only by others is removed;
 *      a unit owned by j and others is cut into clauses at ", and", ",", ";",
 *      " and " between the owners' matches and the others' clauses removed
 *      (the subject "Your response should" moves to the kept clause; a
 *      full stop carried by a removed clause comes back, after a closing
 *      quote too).  A unit kept right after a removed one loses a leading
 *      "Also," and its "it" gets the removed sentence's subject when that
 *      is the response ("Also, it must contain" -> "Your response must
 *      contain").
 *   5. The rules give up (FLATTEN_UNRESOLVED) when j is found nowhere, when a
 *      clause still carries two constraints, or when the first unit (the
 *      task) would be removed.  Those cases are settled by the override file
 *      (datasets/ifeval/flatten_overrides.jsonl): per source key and index,
 *      the exact flattened prompt written by hand, and optionally the exact
 *      constraint wording for --base mode.
 *
 * With a base set (constraint-free prompts keyed by IFEval key, e.g.
 * ifeval_wo_instructions.jsonl, field model_output) the flattened prompt is
 * base text + " " (or "\n" if the wording spans lines) + the constraint's
 * own units/clauses (or the override's "constraint"), derivation "base".
 * A constraint folded into the task sentence ("Write a 300+ word essay")
 * brings that whole sentence.  For repeat_prompt the wrapper is put around
 * the base text and prompt_to_repeat is the base text.  Single-constraint
 * prompts go through the same path in --base mode.
 *
 * Output records: key, prompt, instruction_id_list (1), kwargs (1),
 * source_key, index (0-based position of the constraint in the source),
 * derivation ("single" | "rules" | "override" | "base"), removed (the texts
 * dropped, in prompt order).  key is "<key>-<index>" (a string) for split
 * prompts; single-constraint prompts keep their key and prompt unchanged.
 *
 * Ownership: FlattenOverrides and FlattenBase own their data (release with
 * the _release functions).  flatten_record returns a new cJSON array the
 * caller deletes.
 *
 * Errors: the loaders and flatten_record return -1/NULL and fill err
 * ("FILE:LINE: message"); nothing prints or exits.  A record the rules cannot
 * settle and that has no override is an error unless allow_unresolved is
 * set, in which case it is emitted unchanged with derivation "unresolved"
 * and a "reason" field.
 *
 * Usage
 *   FlattenOverrides ov; flatten_overrides_load(&ov, path, &err);
 *   FlattenOptions o = {.overrides = &ov};
 *   cJSON *out = flatten_record(rec, &o, path, line, &err);  // array of records
 */
#ifndef MISO_FLATTEN_H
#define MISO_FLATTEN_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "util.h"

typedef struct {
    char *key;        /* source key as text */
    long index;
    char *prompt;     /* exact flattened prompt */
    char *constraint; /* exact constraint wording for --base, may be NULL */
    char *source;     /* the source prompt it was written for, may be NULL (any) */
    int used;
    int seen;         /* an input record had this key (flatten_record) */
} FlattenOverride;

typedef struct {
    FlattenOverride *v;
    size_t n;
} FlattenOverrides;

typedef struct {
    char **key, **text;
    size_t n;
} FlattenBase;

typedef struct {
    const FlattenOverrides *overrides; /* may be NULL */
    const FlattenBase *base;           /* may be NULL: rules mode */
    int allow_unresolved;
} FlattenOptions;

/* Override file: JSONL {"key": K, "index": J, "prompt": "...", "constraint": "...",
 * "source": "..."}.  source (optional) is the IFEval prompt the override was
 * written for: a record with the same key and another prompt does not get
 * it (the rules, or an error, decide instead).  Duplicate (key, index)
 * pairs are an error. */
int flatten_overrides_load(FlattenOverrides *ov, const char *path, Err *err);
void flatten_overrides_release(FlattenOverrides *ov);

/* Base file: JSONL with "key" and a text field ("model_output", else "prompt"). */
int flatten_base_load(FlattenBase *b, const char *path, Err *err);
void flatten_base_release(FlattenBase *b);

/* Flatten one IFEval record (key, prompt, instruction_id_list, kwargs).
 * Returns a new array of output records, or NULL with err filled (file and
 * line name the input record). */
cJSON *flatten_record(const cJSON *rec, const FlattenOptions *opt, const char *file, long line, Err *err);

/* The rules alone, for tests and --explain: the flattened prompt of
 * constraint j (malloc'd) or NULL when unresolved (*why says why). */
char *flatten_rules(const cJSON *rec, int j, const char **why);

#endif
