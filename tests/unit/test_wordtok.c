/*
 * test_wordtok.c - unit tests for lib/wordtok (nltk.word_tokenize); with
 * --dump, a helper for tests/sh/textref.sh: reads JSON strings, one a line,
 * on stdin and prints {"s": Punkt sentences, "w": word tokens} for each;
 * with --bench REPS, times both over the same input (bench/RESULTS.md).
 */
#include "wordtok.h"
#include "testhelp.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <time.h>

static const PunktModel *model(void)
{
    Err err;
    const PunktModel *m = punkt_english(&err);
    if (!m)
        err_die(&err);
    return m;
}

static int dump(void)
{
    const PunktModel *m = model();
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        cJSON *j = cJSON_ParseWithLength(line, (size_t)got);
        if (!cJSON_IsString(j))
            die("stdin: expected a JSON string a line");
        const char *t = j->valuestring;
        size_t n = strlen(t);
        cJSON *o = cJSON_CreateObject(), *s = cJSON_AddArrayToObject(o, "s"), *w = cJSON_AddArrayToObject(o, "w");
        Span *sp;
        size_t k = punkt_sentences(m, t, n, &sp);
        for (size_t i = 0; i < k; i++) {
            char *x = xstrndup(t + sp[i].start, sp[i].end - sp[i].start);
            cJSON_AddItemToArray(s, cJSON_CreateString(x));
            free(x);
        }
        free(sp);
        char **tok;
        k = wordtok_tokenize(m, t, n, &tok);
        for (size_t i = 0; i < k; i++)
            cJSON_AddItemToArray(w, cJSON_CreateString(tok[i]));
        wordtok_free(tok, k);
        char *out = cJSON_PrintUnformatted(o);
        puts(out);
        free(out);
        cJSON_Delete(o);
        cJSON_Delete(j);
    }
    free(line);
    return 0;
}

/* --bench REPS: CPU seconds per pass over the JSON-string lines of stdin for
 * punkt_sentences and wordtok_tokenize (models loaded before timing). */
static int bench(int reps)
{
    const PunktModel *m = model();
    char **texts = NULL, *line = NULL;
    size_t n = 0, cap = 0, lcap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, stdin)) >= 0) {
        cJSON *j = cJSON_ParseWithLength(line, (size_t)got);
        if (!cJSON_IsString(j))
            die("stdin: expected a JSON string a line");
        texts = grow_array(texts, &cap, n + 1, sizeof *texts);
        texts[n++] = xstrdup(j->valuestring);
        cJSON_Delete(j);
    }
    free(line);
    size_t sink = 0;
    clock_t t0 = clock();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i++) {
            Span *sp;
            sink += punkt_sentences(m, texts[i], strlen(texts[i]), &sp);
            free(sp);
        }
    clock_t t1 = clock();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i++) {
            char **t;
            size_t k = wordtok_tokenize(m, texts[i], strlen(texts[i]), &t);
            sink += k;
            wordtok_free(t, k);
        }
    clock_t t2 = clock();
    printf("texts %zu (checksum %zu)\npunkt %.4f\nword_tokenize %.4f\n", n, sink,
           (double)(t1 - t0) / CLOCKS_PER_SEC / reps, (double)(t2 - t1) / CLOCKS_PER_SEC / reps);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    return 0;
}

/* The tokens of s joined by "|". */
static char *toks(const char *s)
{
    char **t;
    size_t k = wordtok_tokenize(model(), s, strlen(s), &t);
    StrBuf sb = SB_INIT;
    for (size_t i = 0; i < k; i++)
        sb_addf(&sb, "%s%s", i ? "|" : "", t[i]);
    wordtok_free(t, k);
    return sb_detach(&sb, NULL);
}

#define TOKS(s, want, ...)                                                                         \
    do {                                                                                           \
        char *got_ = toks(s);                                                                      \
        CHECK_STR(got_, want, __VA_ARGS__);                                                        \
        free(got_);                                                                                \
    } while (0)

int main(int argc, char **argv)
{
    util_set_prog(argv[0]);
    if (argc > 1 && !strcmp(argv[1], "--dump"))
        return dump();
    if (argc > 2 && !strcmp(argv[1], "--bench"))
        return bench(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
    /* First use from several threads at once (rules compiled once, model
     * loaded once): every thread gets the serial answer. */
    static const char par_text[] = "\xc3\x89T\xc3\x89 DON'T. \xc3\x9c" "ber \"alles\" -- CANNOT!";
    char *par[8] = {0};
#pragma omp parallel for num_threads(8)
    for (int i = 0; i < 8; i++) {
        Err e;
        const PunktModel *pm = punkt_english(&e);
        char **t;
        size_t k = pm ? wordtok_tokenize(pm, par_text, strlen(par_text), &t) : 0;
        StrBuf sb = SB_INIT;
        for (size_t j = 0; j < k; j++)
            sb_addf(&sb, "%s%s", j ? "|" : "", t[j]);
        if (pm)
            wordtok_free(t, k);
        par[i] = sb_detach(&sb, NULL);
    }
    char *serial = toks(par_text);
    int same = 1;
    for (int i = 0; i < 8; i++) {
        same &= !strcmp(par[i], serial);
        free(par[i]);
    }
    CHECK(same, "gives the serial tokens when first used from 8 threads at once");
    CHECK_STR(serial, "\xc3\x89T\xc3\x89|DO|N'T|.|\xc3\x9c" "ber|``|alles|''|--|CAN|NOT|!",
              "tokenizes non-ASCII capitals, quotes, dashes and contractions");
    free(serial);
    /* Expected values are nltk 3.8's word_tokenize output. */
    TOKS("DON'T STOP.", "DO|N'T|STOP|.", "splits n't off and the final period");
    TOKS("I CANNOT, GONNA go.", "I|CAN|NOT|,|GON|NA|go|.", "splits cannot and gonna");
    TOKS("The U.S.A. is big.", "The|U.S.A.|is|big|.", "keeps U.S.A. whole");
    TOKS("HELLO-WORLD and/or", "HELLO-WORLD|and/or", "keeps hyphens and slashes inside tokens");
    TOKS("He said \"hi\" to me.", "He|said|``|hi|''|to|me|.", "turns double quotes into `` and ''");
    TOKS("Cost $3.88 (roughly 3,36 euros)", "Cost|$|3.88|(|roughly|3,36|euros|)",
         "splits $ and brackets but keeps numbers");
    TOKS("Wait -- what?! Yes; ok", "Wait|--|what|?|!|Yes|;|ok", "splits dashes and ?! and ;");
    TOKS("IT'S. NEXT", "IT|'S|.|NEXT", "splits the sentence-final period before the next sentence");
    TOKS("g\xc4\xb0mme g\xc4\xb1mme LEMME go", "g\xc4\xb0m|me|g\xc4\xb1m|me|LEM|ME|go",
         "folds U+0130 and U+0131 to i in (?i) rules as Python's re does (PCRE2 does not)");
    TOKS("gonna'tis 'TWA\xc5\xbf", "gon|na|'t|is|'T|WA\xc5\xbf",
         "applies 'tis after gonna made the space before it, and folds U+017F to s");
    TOKS("d'ye more'n wanna\xc2\xa0x wanna.", "d|'ye|more|'n|wan|na|x|wan|na|.",
         "splits d'ye, more'n and wanna before a Unicode space or the final period");
    TOKS("a,b:c ,1 x,\xd9\xa1 end,", "a|,|b|:|c|,1|x,\xd9\xa1|end|,",
         "keeps a comma before an ASCII or Arabic-Indic digit, splits it elsewhere and at the end");
    TOKS("Hi!!? (x) [y] {z} <w> ---", "Hi|!|!|?|(|x|)|[|y|]|{|z|}|<|w|>|--|-",
         "pads ?!, brackets and the first pair of a dash run");
    TOKS("She said \xe2\x80\x9cno\xe2\x80\x9d \xc2\xabnon\xc2\xbb \xe2\x80\x98" "a\xe2\x80\x99 ''b'' \"c\" ```d``",
         "She|said|\xe2\x80\x9c|no|\xe2\x80\x9d|\xc2\xab|non|\xc2\xbb|\xe2\x80\x98|a|\xe2\x80\x99|``|b|''|``|c|''|``|`|d|``",
         "handles curly, guillemet, doubled and backtick quotes");
    TOKS("It's the dogs' bone. They'll; WE'RE", "It|'s|the|dogs|'|bone|.|They|'ll|;|WE|'RE",
         "splits 's, a plural possessive ', 'll and 'RE");
    TOKS("Wait... what.\xe2\x80\x99)  ", "Wait|...|what|.|\xe2\x80\x99|)",
         "splits an ellipsis and a final period before closing marks and trailing spaces");
    TOKS("", "", "gives no tokens for empty text");
    TOKS("  \n ", "", "gives no tokens for blank text");
    TOKS("bad \xff byte", "bad|\xef\xbf\xbd|byte", "turns an invalid UTF-8 byte into U+FFFD");
    return TEST_REPORT();
}
