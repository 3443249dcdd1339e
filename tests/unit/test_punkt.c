/*
 * test_punkt.c - unit tests for lib/punkt (nltk Punkt, English).  Expected
 * splits are nltk 3.8's PunktSentenceTokenizer output on the same parameters
 * (tests/sh/textref.sh compares whole corpora against nltk itself).
 * --write-table [FILE] regenerates datasets/ifeval/punkt_english.table.
 */
#include "punkt.h"
#include "testhelp.h"

#include <stdlib.h>
#include <unistd.h>

static const PunktModel *M;

/* The sentences of s joined by "|". */
static char *sents(const char *s)
{
    Span *sp;
    size_t k = punkt_sentences(M, s, strlen(s), &sp);
    StrBuf sb = SB_INIT;
    for (size_t i = 0; i < k; i++) {
        if (i)
            sb_addc(&sb, '|');
        sb_add(&sb, s + sp[i].start, sp[i].end - sp[i].start);
    }
    free(sp);
    return sb_detach(&sb, NULL);
}

#define SENTS(s, want, ...)                                                                        \
    do {                                                                                           \
        char *got_ = sents(s);                                                                     \
        CHECK_STR(got_, want, __VA_ARGS__);                                                        \
        free(got_);                                                                                \
    } while (0)

static const char *const TEXT_DIR = "ifeval/nltk_data/tokenizers/punkt_tab/english";
static const char *const TABLE = "ifeval/punkt_english.table";

/* The sentence offsets of s under model pm, as "start-end,..." */
static char *offsets(const PunktModel *pm, const char *s)
{
    Span *sp;
    size_t k = punkt_sentences(pm, s, strlen(s), &sp);
    StrBuf sb = SB_INIT;
    for (size_t i = 0; i < k; i++)
        sb_addf(&sb, "%zu-%zu,", sp[i].start, sp[i].end);
    free(sp);
    return sb_detach(&sb, NULL);
}

static void table_tests(void)
{
    Err err;
    PunktModel *text = punkt_load(util_datapath(TEXT_DIR), &err);
    if (!text)
        err_die(&err);
    StrBuf t = SB_INIT;
    punkt_table(text, &t);
    StrBuf shipped = SB_INIT;
    FILE *f = fopen(util_datapath(TABLE), "rb");
    if (f) {
        char buf[65536];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0)
            sb_add(&shipped, buf, got);
        fclose(f);
    }
    CHECK(shipped.len == t.len && !memcmp(shipped.buf, t.buf, t.len),
          "datasets/ifeval/punkt_english.table equals the table made from the parameter files "
          "(regenerate: build/tests/test_punkt --write-table)");
    PunktModel *tab = punkt_load_table(util_datapath(TABLE), &err);
    CHECK(tab != NULL, "maps the shipped Punkt table");
    static const char *const texts[] = {
        "Mr. Smith went to Washington. He arrived at 5 p.m. on Jan. 3. The U.S. Senate met.",
        "See e.g. the cases. In fact, i.e. those. A. B. Cee wrote it. No. 5 is next.",
        "It cost $3.50. Then... nothing. \"Really?\" she asked. (Yes.) Fine!",
        "The St. Louis Cardinals won. Dr. Who? vs. them. Prof. X. Y. Zed agreed.",
        "1. First.\n2. Second.\n\nNew paragraph. the lower case start. And more.",
    };
    int same = tab != NULL;
    for (size_t i = 0; tab && i < sizeof texts / sizeof *texts; i++) {
        char *a = offsets(text, texts[i]), *b = offsets(tab, texts[i]), *c = offsets(M, texts[i]);
        same &= !strcmp(a, b) && !strcmp(a, c);
        free(a);
        free(b);
        free(c);
    }
    CHECK(same, "the table model, the parsed model and punkt_english split alike");
    /* a truncated table is refused, not read past its end */
    char path[] = "/tmp/test_punkt_table_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) {
        size_t cut = t.len / 2;
        int wrote = write(fd, t.buf, cut) == (ssize_t)cut;
        close(fd);
        PunktModel *bad = wrote ? punkt_load_table(path, &err) : NULL;
        CHECK(wrote && bad == NULL && strstr(err.msg, "does not fit"), "rejects a truncated Punkt table");
        unlink(path);
    }
    punkt_free(tab);
    punkt_free(text);
    sb_release(&t);
    sb_release(&shipped);
}

int main(int argc, char **argv)
{
    util_set_prog("test_punkt");
    Err err;
    if (argc > 1 && !strcmp(argv[1], "--write-table")) {
        PunktModel *pm = punkt_load(util_datapath(TEXT_DIR), &err);
        if (!pm)
            err_die(&err);
        StrBuf t = SB_INIT;
        punkt_table(pm, &t);
        const char *out = argc > 2 ? argv[2] : util_datapath(TABLE);
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(t.buf, 1, t.len, f) != t.len || fclose(f) != 0)
            die("cannot write '%s'", out);
        fprintf(stderr, "wrote %zu bytes to %s\n", t.len, out);
        sb_release(&t);
        punkt_free(pm);
        return 0;
    }
    M = punkt_english(&err);
    CHECK(M != NULL, "loads the shipped English parameters");
    if (!M)
        return TEST_REPORT();
    CHECK(punkt_english(&err) == M, "caches the English model");
    SENTS("Fine... ok. e.g. this one.", "Fine... ok. e.g.|this one.", "keeps an ellipsis before lower case and splits after e.g.");
    SENTS("Hello world. This is a test.", "Hello world.|This is a test.", "splits two plain sentences");
    SENTS("The U.S. economy grew. Mr. Smith agreed.", "The U.S. economy grew.|Mr. Smith agreed.",
          "does not split after the abbreviations U.S. and Mr.");
    SENTS("(Sent1.) Sent2.", "(Sent1.)|Sent2.", "realigns a closing bracket to the previous sentence");
    SENTS("He said \"Stop.\" Then he left.", "He said \"Stop.\"|Then he left.", "realigns a closing quote");
    SENTS("Really?! Yes!!! No.", "Really?!|Yes!!!|No.", "splits after runs of ? and !");
    SENTS("* one\n* two\n* three", "* one\n* two\n* three", "merges bullet lines without final punctuation");
    SENTS("1. First.\n2. Second.", "1.|First.|2.|Second.", "splits numbered list markers as nltk does");
    SENTS("J. S. Bach wrote music.", "J. S. Bach wrote music.", "keeps initials inside the sentence");
    SENTS("", "", "gives no sentence for empty text");
    SENTS("   \n\n  ", "", "gives no sentence for blank text");
    SENTS("  Trailing spaces.  ", "  Trailing spaces.", "keeps leading white space and drops trailing white space as nltk does");
    SENTS("Caf\xc3\xa9 ferm\xc3\xa9. \xc3\x89t\xc3\xa9 chaud.", "Caf\xc3\xa9 ferm\xc3\xa9.|\xc3\x89t\xc3\xa9 chaud.",
          "handles UTF-8 letters with byte offsets");

    Span *sp;
    const char *t = "A b. C d.";
    size_t k = punkt_sentences(M, t, strlen(t), &sp);
    CHECK(k == 2 && sp[0].start == 0 && sp[0].end == 4 && sp[1].start == 5 && sp[1].end == 9,
          "returns byte spans [start, end)");
    free(sp);

    t = "Bad \xff byte. Next \xc3 one.";
    k = punkt_sentences(M, t, strlen(t), &sp);
    CHECK(k == 2 && sp[0].start == 0 && sp[0].end == 11 && sp[1].start == 12 && sp[1].end == strlen(t),
          "treats invalid UTF-8 bytes as single characters, keeping byte offsets");
    free(sp);

    PunktModel *bad = punkt_load("/nonexistent", &err);
    CHECK(bad == NULL && strstr(err.file, "abbrev_types.txt") && strstr(err.msg, "cannot open"),
          "names the missing parameter file");
    char dir[] = "/tmp/test_punkt_XXXXXX";
    if (mkdtemp(dir)) {
        char path[256];
        const char *names[] = {"abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab"};
        const char *body[] = {"e.g\n", "a\tb\n", "the\n", "word\t4\nbroken line\n"};
        for (int i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            FILE *f = fopen(path, "w");
            fputs(body[i], f);
            fclose(f);
        }
        bad = punkt_load(dir, &err);
        CHECK(bad == NULL && err.line == 2 && strstr(err.file, "ortho_context.tab"),
              "rejects an ortho_context line without a tab, with file and line");
        /* the last line without "\n" still counts; one bad byte names its line */
        const char *body2[] = {"i.e\ne.g", "a\tb\n", "the\n", "word\t4\nxavier\t2"};
        for (int i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            FILE *f = fopen(path, "w");
            fputs(body2[i], f);
            fclose(f);
        }
        PunktModel *good = punkt_load(dir, &err);
        CHECK(good != NULL, "loads parameter files whose last line has no newline");
        if (good) {
            const char *t2 = "See e.g. Xavier. Next one.";
            Span *sp2;
            size_t k2 = punkt_sentences(good, t2, strlen(t2), &sp2);
            CHECK(k2 == 2 && sp2[0].end == 16, "uses an abbreviation from the unterminated last line");
            free(sp2);
            punkt_free(good);
        }
        snprintf(path, sizeof path, "%s/%s", dir, names[0]);
        FILE *f = fopen(path, "w");
        fputs("e.g\n\xff\n", f);
        fclose(f);
        bad = punkt_load(dir, &err);
        CHECK(bad == NULL && err.line == 2 && strstr(err.file, "abbrev_types.txt") && strstr(err.msg, "UTF-8"),
              "rejects invalid UTF-8 in a parameter file, with file and line");
        for (int i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            remove(path);
        }
        rmdir(dir);
    }
    table_tests();
    return TEST_REPORT();
}
