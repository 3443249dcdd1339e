/*
 * test_punkt.c - unit tests for lib/punkt (nltk Punkt, English).  Expected
 * splits are nltk 3.8's PunktSentenceTokenizer output on the same parameters
 * (tests/sh/textref.sh compares whole corpora against nltk itself).
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

int main(void)
{
    util_set_prog("test_punkt");
    Err err;
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
        for (int i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            remove(path);
        }
        rmdir(dir);
    }
    return TEST_REPORT();
}
