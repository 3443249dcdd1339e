/*
 * test_langdetect.c - unit tests for lib/langdetect; with --dump, a helper
 * for tests/sh/textref.sh: reads JSON strings, one a line, on stdin and
 * prints langdetect.detect_langs(text) with seed 0 for each as "lang:%.17g ..."
 * ("-" for an exception, "unknown" for no language above 0.1); with
 * --bench REPS, times langdetect_detect over the same input (bench/RESULTS.md);
 * --write-table [FILE] regenerates datasets/langdetect/langdetect.table.
 */
#include "langdetect.h"
#include "testhelp.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <time.h>

static int dump(void)
{
    Err err;
    const LangDetector *d = langdetect_default(&err);
    if (!d)
        err_die(&err);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        cJSON *j = cJSON_ParseWithLength(line, (size_t)got);
        if (!cJSON_IsString(j))
            die("stdin: expected a JSON string a line");
        const char *langs[10];
        double probs[10];
        int k = langdetect_probabilities(d, j->valuestring, strlen(j->valuestring), 0, langs, probs, 10);
        if (k < 0)
            printf("-");
        else if (k == 0)
            printf("unknown");
        for (int i = 0; i < k; i++)
            printf("%s%s:%.17g", i ? " " : "", langs[i], probs[i]);
        printf("\n");
        cJSON_Delete(j);
    }
    free(line);
    return 0;
}

/* --bench REPS: CPU seconds per pass of langdetect_detect (seed 0) over the
 * JSON-string lines of stdin (profiles loaded before timing). */
static int bench(int reps)
{
    Err err;
    clock_t l0 = clock();
    LangDetector *fresh = langdetect_load(util_datapath("langdetect/profiles"), &err);
    double load = (double)(clock() - l0) / CLOCKS_PER_SEC;
    if (!fresh)
        err_die(&err);
    langdetect_free(fresh);
    const LangDetector *d = langdetect_default(&err);
    if (!d)
        err_die(&err);
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
            const char *l = langdetect_detect(d, texts[i], strlen(texts[i]), 0);
            sink += l ? (unsigned char)l[0] : 0;
        }
    clock_t t1 = clock();
    printf("texts %zu (checksum %zu)\nprofile load %.4f\nlangdetect %.4f\n", n, sink, load,
           (double)(t1 - t0) / CLOCKS_PER_SEC / reps);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    return 0;
}

static const char *det(const LangDetector *d, const char *s) { return langdetect_detect(d, s, strlen(s), 0); }

int main(int argc, char **argv)
{
    util_set_prog(argv[0]);
    if (argc > 1 && !strcmp(argv[1], "--dump"))
        return dump();
    if (argc > 1 && !strcmp(argv[1], "--write-table")) { /* regenerate the shipped table */
        Err e;
        LangDetector *ld = langdetect_load(util_datapath("langdetect/profiles"), &e);
        if (!ld)
            err_die(&e);
        StrBuf t = SB_INIT;
        langdetect_table(ld, &t);
        const char *out = argc > 2 ? argv[2] : util_datapath("langdetect/langdetect.table");
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(t.buf, 1, t.len, f) != t.len || fclose(f))
            die("cannot write '%s':", out);
        sb_release(&t);
        langdetect_free(ld);
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "--bench"))
        return bench(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
    Err err;
    /* First use from several threads at once: one load, the same answers. */
    const char *par[8] = {0};
#pragma omp parallel for num_threads(8)
    for (int i = 0; i < 8; i++) {
        Err e;
        const LangDetector *pd = langdetect_default(&e);
        par[i] = pd ? langdetect_detect(pd, "Ärger über Öl. Straße!", strlen("Ärger über Öl. Straße!"), 0) : NULL;
    }
    int same = par[0] != NULL;
    for (int i = 1; i < 8; i++)
        same &= par[i] == par[0];
    CHECK(same, "gives the same answer when first used from 8 threads at once");
    CHECK_STR(par[0], "de", "detects German with umlauts and sharp s (Python: de)");
    const LangDetector *d = langdetect_default(&err);
    CHECK(d != NULL, "loads the shipped profiles");
    if (!d)
        return TEST_REPORT();
    CHECK_STR(det(d, "This is a simple English sentence about the weather today."), "en", "detects English");
    CHECK_STR(det(d, "Ceci est une phrase simple en français sur le temps qu'il fait aujourd'hui."), "fr",
              "detects French");
    CHECK_STR(det(d, "Dies ist ein einfacher deutscher Satz über das Wetter von heute."), "de", "detects German");
    CHECK_STR(det(d, "Это простое предложение на русском языке о погоде."), "ru", "detects Russian");
    CHECK_STR(det(d, "これは日本語の文です。今日の天気について書いています。"), "ja", "detects Japanese");
    CHECK_STR(det(d, "यह हिंदी में एक सरल वाक्य है।"), "hi", "detects Hindi");
    CHECK(det(d, "") == NULL, "raises (NULL) on empty text");
    CHECK(det(d, "12345 !!! ???") == NULL, "raises (NULL) on text without letters");
    /* Inside an all-caps word only the first letter yields n-grams; Python gives "vi" here. */
    CHECK_STR(det(d, "HELLO"), "vi", "skips n-grams inside a capitalised word as Python does");
    CHECK_STR(det(d, "HELLO WORLD THIS IS"), "en", "detects all-caps English from word-initial grams");
    CHECK(det(d, "https://example.com/a/b?c=d foo@example.com") == NULL, "ignores URLs and e-mail addresses");
    const char *a = det(d, "Bonjour tout le monde"), *b = det(d, "Bonjour tout le monde");
    CHECK(a && b && !strcmp(a, b), "is deterministic for a fixed seed");
    CHECK(langdetect_load("/nonexistent/profiles", &err) == NULL && strstr(err.msg, "cannot open"),
          "reports a missing profile folder");

    /* The shipped precompiled table is what the JSON profiles give, byte for
     * byte, and detects with the same probabilities to the last bit. */
    LangDetector *fromjson = langdetect_load(util_datapath("langdetect/profiles"), &err);
    CHECK(fromjson != NULL, "loads the JSON profiles");
    if (fromjson) {
        StrBuf t = SB_INIT;
        langdetect_table(fromjson, &t);
        size_t len = 0;
        char *shipped = NULL;
        FILE *f = fopen(util_datapath("langdetect/langdetect.table"), "rb");
        if (f) {
            shipped = xmalloc(t.len + 1);
            len = fread(shipped, 1, t.len + 1, f);
            fclose(f);
        }
        CHECK(shipped && len == t.len && !memcmp(shipped, t.buf, t.len),
              "datasets/langdetect/langdetect.table equals the table made from the JSON profiles "
              "(regenerate: build/tests/test_langdetect --write-table)");
        free(shipped);
        sb_release(&t);
        static const char *texts[] = {
            "This is a simple English sentence about the weather today.",
            "Ceci est une phrase simple en français.", "Это простое предложение.", "HELLO",
            "これは日本語の文です。", "Ein kurzer Satz. Un altro testo italiano misto.",
        };
        int same = 1;
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            const char *l1[10], *l2[10];
            double p1[10], p2[10];
            int k1 = langdetect_probabilities(d, texts[i], strlen(texts[i]), 0, l1, p1, 10);
            int k2 = langdetect_probabilities(fromjson, texts[i], strlen(texts[i]), 0, l2, p2, 10);
            same &= k1 == k2;
            for (int k = 0; same && k < k1; k++)
                same &= !strcmp(l1[k], l2[k]) && !memcmp(&p1[k], &p2[k], sizeof p1[k]);
        }
        CHECK(same, "the default (table) detector and the JSON-loaded one give bit-identical probabilities");
        langdetect_free(fromjson);
    }
    return TEST_REPORT();
}
