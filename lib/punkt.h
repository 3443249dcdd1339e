/*
 * punkt.h - nltk's Punkt sentence tokenizer (PunktSentenceTokenizer) with the
 * pretrained English parameters, as IFEval's scorer uses it to count sentences
 * and as nltk.word_tokenize uses it to split text before word tokenizing.
 *
 * Semantics are those of nltk 3.8/3.9 PunktSentenceTokenizer(params).tokenize
 * with realign_boundaries=True: the PunktLanguageVars word-tokenizer and
 * period-context patterns (hand-written scans with the regexes' exact
 * semantics), first pass (abbreviations, ellipses, initials,
 * numbers), second pass (collocations, orthographic heuristic, sentence
 * starters), then boundary realignment over closing punctuation.
 *
 * Invariants
 *   - A loaded PunktModel is immutable; any number of threads may call
 *     punkt_sentences on one model at the same time.
 *   - Offsets are byte offsets into the caller's UTF-8 text; Span text is
 *     text[start..end) and spans are in increasing order, never overlapping.
 *   - Text should be valid UTF-8 (Python str semantics); each invalid byte is
 *     treated as the control character U+001A, so offsets stay valid.
 *
 * Ownership
 *   - punkt_load and punkt_load_table return a model the caller frees with
 *     punkt_free (a table model keeps its file mapped until then);
 *     punkt_english returns a shared cached model the caller never frees.
 *   - punkt_sentences mallocs *spans (caller frees with free(); NULL when 0).
 *
 * Errors
 *   - punkt_load/punkt_english return NULL and fill err (file, line, message)
 *     when a parameter file is missing or malformed.
 *
 * Usage
 *   Err err;
 *   const PunktModel *m = punkt_english(&err);
 *   if (!m) err_die(&err);
 *   Span *sp;
 *   size_t k = punkt_sentences(m, text, strlen(text), &sp);
 *   for (size_t i = 0; i < k; i++) printf("%.*s\n", (int)(sp[i].end - sp[i].start), text + sp[i].start);
 *   free(sp);
 */
#ifndef MISO_PUNKT_H
#define MISO_PUNKT_H

#include <stddef.h>

#include "util.h"

typedef struct PunktModel PunktModel;
typedef struct { size_t start, end; } Span;            /* byte offsets [start, end) */

/* dir holding abbrev_types.txt, collocations.tab, ortho_context.tab, sent_starters.txt */
PunktModel *punkt_load(const char *dir, Err *err);
/* The shipped English model, loaded once and cached; safe to call from any thread (a mutex guards the
 * first load).  It maps the precompiled util_datapath("ifeval/punkt_english.table") or, if that is
 * missing or malformed, parses util_datapath("ifeval/nltk_data/tokenizers/punkt_tab/english"). */
const PunktModel *punkt_english(Err *err);
/* Append the precompiled table of a loaded model (what datasets/ifeval/punkt_english.table holds:
 * the parameter maps in their in-memory layout, native byte order; test_punkt --write-table). */
void punkt_table(const PunktModel *m, StrBuf *out);
/* A model that maps a table written by punkt_table; NULL (err filled, no file/line) when the file
 * is missing or does not fit its header.  Free with punkt_free. */
PunktModel *punkt_load_table(const char *path, Err *err);
void punkt_free(PunktModel *m);

/* Sentences of text exactly as nltk's PunktSentenceTokenizer(english).tokenize(text) (nltk 3.8/3.9 semantics,
   realign_boundaries=True): returns the count, *spans malloc'd (caller frees). Span text is text[start..end). */
size_t punkt_sentences(const PunktModel *m, const char *text, size_t n, Span **spans);

#endif
