/*
 * ifeval.h - the IFEval instruction checks, exactly as the official
 * google-research scorer (instruction_following_eval/, newest code) computes
 * them: the registry of the 25 instruction ids with their kwargs, the checks,
 * strict and loose scoring (the eight response variants), --explain reasons,
 * the official result lines, aggregation, the official report and the
 * summary (reference/ifeval-spec.md is the specification, quirks included).
 * Python's str/re/json behaviour comes from ifeval_pystr.h; matching
 * responses to prompts is the program's job (eval/ifeval-score.c).
 *
 * Invariants
 *   - An IfevalPrompt is parsed and validated once (kwargs checked, regexes
 *     compiled with PCRE2 + JIT); scoring never fails afterwards: a check
 *     returns followed / not followed for any UTF-8 text.
 *   - Every regex runs with a match limit and a depth limit (IfevalScorer), so
 *     no response can make a check run away; a check whose regex hits a limit
 *     counts as not followed and its --explain reason says so.
 *   - Repeated instruction ids in one prompt are separate positions: every
 *     result is indexed by position, never by id.
 *   - Semantics: `compat` IFEVAL_COMPAT_CURRENT (default) is the newest google
 *     code; IFEVAL_COMPAT_LMEVAL2023 replaces a letter_frequency letter outside
 *     a-z by a random ASCII letter as the 2023 code and lm-evaluation-harness
 *     do (drawn from a fixed-seed miso RNG, so not the same letter as Python's).
 *
 * Ownership
 *   - The scorer owns its compiled regexes and match data; it borrows the
 *     shared Punkt and langdetect models.  One scorer per thread: scorers
 *     made by ifeval_scorer_new may then score the same parsed prompts in
 *     parallel (prompts are read-only while scoring; their compiled regexes
 *     are shared).
 *   - An IfevalPrompt owns all its strings and regexes; ifeval_prompt_release
 *     frees them.  Result arrays are owned by the caller.
 *
 * Errors
 *   - ifeval_scorer_new returns NULL and fills err when the shipped Punkt
 *     data cannot be loaded; the langdetect profiles are loaded by
 *     ifeval_preload or at the first language check (a failure there is
 *     reported by ifeval_scorer_error).
 *   - ifeval_prompt_parse returns -1 and fills err (file, line, message naming
 *     the field: unknown id, missing or wrongly typed kwarg, bad regex).
 *
 * Usage
 *   IfevalScorer *s = ifeval_scorer_new(IFEVAL_COMPAT_CURRENT, &err);
 *   IfevalPrompt p;
 *   if (ifeval_prompt_parse(s, rec, path, line, &p, &err) < 0) err_die(&err);
 *   unsigned char st[p.n], lo[p.n];
 *   ifeval_score(s, &p, resp, strlen(resp), st, lo, NULL, NULL);
 *   ifeval_prompt_release(&p); ifeval_scorer_free(s);
 */
#ifndef MISO_IFEVAL_H
#define MISO_IFEVAL_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "util.h"

enum {
    IFEVAL_COMPAT_CURRENT = 0,
    IFEVAL_COMPAT_LMEVAL2023 = 1,
};

/* The 25 registered instruction ids, in the order of the official registry. */
enum {
    IF_KEYWORDS_EXISTENCE, IF_KEYWORDS_FREQUENCY, IF_KEYWORDS_FORBIDDEN,
    IF_KEYWORDS_LETTER_FREQUENCY, IF_LANGUAGE, IF_NUMBER_SENTENCES,
    IF_NUMBER_PARAGRAPHS, IF_NUMBER_WORDS, IF_NTH_PARAGRAPH_FIRST_WORD,
    IF_PLACEHOLDERS, IF_POSTSCRIPT, IF_BULLET_LISTS, IF_CONSTRAINED_RESPONSE,
    IF_HIGHLIGHTS, IF_MULTIPLE_SECTIONS, IF_JSON_FORMAT, IF_TITLE,
    IF_TWO_RESPONSES, IF_REPEAT_PROMPT, IF_END_CHECKER, IF_CAPITAL_WORD_FREQUENCY,
    IF_ENGLISH_CAPITAL, IF_ENGLISH_LOWERCASE, IF_NO_COMMA, IF_QUOTATION,
    IFEVAL_N_IDS
};

typedef struct IfevalScorer IfevalScorer;

/* One instruction position with its validated, build_description-normalised kwargs. */
typedef struct {
    int id;            /* IF_* */
    char **words;      /* keywords / forbidden_words (sorted) */
    size_t n_words;
    char *str;         /* keyword, letter, language, marker, spliter, prompt_to_repeat,
                          end_phrase or first_word, normalised as the official build does */
    size_t str_len;
    long num;          /* the numeric threshold of the instruction */
    long nth;          /* nth_paragraph */
    int less_than;     /* relation: 1 "less than", 0 "at least" */
    void **re;         /* compiled PCRE2 patterns (pcre2_code *), one per word or 1 */
    size_t n_re;
    int literal;       /* keyword patterns are plain ASCII text: ASCII responses are
                          searched without PCRE2 (same answers, see ifeval.c) */
} IfevalInstruction;

typedef struct {
    char *key;         /* key as text ("1000", "1000-2"), NULL if absent; */
    size_t key_len;    /*   a string key may hold NULs (\u0000) */
    char *prompt;      /* as json.loads gives it (WTF-8): may hold NULs, so use */
    size_t prompt_len; /*   prompt_len; NUL-terminated as well */
    char **ids;        /* instruction_id_list as given */
    IfevalInstruction *inst;
    size_t n;          /* number of instruction positions */
    long line;         /* line in the input file */
} IfevalPrompt;

IfevalScorer *ifeval_scorer_new(int compat, Err *err);
void ifeval_scorer_free(IfevalScorer *s);
/* Load the shared langdetect profiles now (thread-safe; ~70 ms, so a program
 * may run it beside its input reading).  Otherwise the first language check
 * loads them.  Returns -1 and fills err if they cannot be loaded. */
int ifeval_preload(Err *err);
/* -1 (err filled) if a check could not load the langdetect profiles: the
 * results of that scorer are then not the official ones. */
int ifeval_scorer_error(const IfevalScorer *s, Err *err);

const char *ifeval_id_name(int id);
int ifeval_id_lookup(const char *name);   /* -1 if unknown */

/* Parse one input record {key, prompt, instruction_id_list, kwargs}.  Null
 * kwargs (the Hugging Face copy) are dropped; extra record fields are
 * ignored.  On error returns -1, fills err with file:line and *p is empty. */
int ifeval_prompt_parse(IfevalScorer *s, const cJSON *rec, const char *file, long line,
                        IfevalPrompt *p, Err *err);
/* The same from the JSON text of the record at text[*pos] (after optional
 * whitespace), read with Python's json.loads rules as the official
 * evaluation_main reads it: the prompt keeps \u0000 (as a NUL byte, see
 * prompt_len) and lone surrogate escapes (as WTF-8, see ifeval_pystr.h), NaN
 * and Infinity are accepted, a repeated member overrides; kwargs strings are
 * given in their scoring form (pystr_json_tree).  0 with *pos just after the
 * object, or -1 with err filled: malformed JSON ("malformed JSON at column
 * N", relative to the starting *pos) or a field error as above. */
int ifeval_prompt_parse_json(IfevalScorer *s, const char *text, size_t n, size_t *pos, const char *file,
                             long line, IfevalPrompt *p, Err *err);
void ifeval_prompt_release(IfevalPrompt *p);

/* check_following(v) of one instruction: 1 followed, 0 not.  If why is
 * non-NULL and the check fails, a reason is appended to it. */
int ifeval_check(IfevalScorer *s, const IfevalPrompt *p, size_t i, const char *v, size_t n,
                 StrBuf *why);

/* Strict and loose results of every position of p for response resp:
 * strict[i], loose[i] are 0/1.  why_strict/why_loose, if non-NULL, are arrays
 * of p->n StrBufs that receive the reason of each failed position. */
void ifeval_score(IfevalScorer *s, const IfevalPrompt *p, const char *resp, size_t n,
                  unsigned char *strict, unsigned char *loose,
                  StrBuf *why_strict, StrBuf *why_loose);

/* ---------------------------------------------------------------- output */

/* One eval_results_*.jsonl line exactly as the official json.dumps writes it
 * (keys sorted, ASCII escapes, ", " and ": " separators), '\n' included. */
void ifeval_result_line(StrBuf *out, const IfevalPrompt *p, const char *resp, size_t n,
                        const unsigned char *follow);
/* The strict and the loose line at once (the prompt and response are escaped once). */
void ifeval_result_lines(StrBuf *out_s, StrBuf *out_l, const IfevalPrompt *p, const char *resp, size_t n,
                         const unsigned char *strict, const unsigned char *loose);

/* Counts for the report and the summary. */
typedef struct {
    long n_prompts, prompts_ok;
    long n_inst, inst_ok;
    long id_n[IFEVAL_N_IDS], id_ok[IFEVAL_N_IDS];
} IfevalTally;

void ifeval_tally_add(IfevalTally *t, const IfevalPrompt *p, const unsigned char *follow);
/* The official print_report block: "prompt-level: ...", per category, per id. */
void ifeval_report(StrBuf *out, const IfevalTally *t);
/* The --summary JSON (lm-eval metric names, per id and per category). */
void ifeval_summary(StrBuf *out, const IfevalTally *strict, const IfevalTally *loose,
                    const char *input, const char *responses);

#endif
