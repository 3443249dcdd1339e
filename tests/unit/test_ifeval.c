/*
 * test_ifeval.c - lib/ifeval and lib/ifeval_pystr: the table of check cases
 * in tests/unit/ifeval.test (the official instructions_test.py cases plus the
 * quirks of the spec), loose variants, kwargs validation, the Python string
 * semantics and the exact output formats.
 */
#include <stdlib.h>
#include <string.h>

#include "ifeval.h"
#include "ifeval_pystr.h"
#include "rng.h"
#include "testhelp.h"

static IfevalScorer *sc;

/* Build a one-prompt record from id + kwargs JSON; NULL + err on failure. */
static int make_prompt(IfevalPrompt *p, const char *id, const char *kwargs, Err *err)
{
    StrBuf rec = SB_INIT;
    sb_addf(&rec, "{\"key\": 1, \"prompt\": \"p\", \"instruction_id_list\": [\"%s\"], \"kwargs\": [%s]}",
            id, kwargs);
    cJSON *j = cJSON_Parse(rec.buf);
    sb_release(&rec);
    if (!j) {
        err_set(err, "case", 1, "bad JSON");
        return -1;
    }
    int rc = ifeval_prompt_parse(sc, j, "case", 1, p, err);
    cJSON_Delete(j);
    return rc;
}

static char *read_line(FILE *f)
{
    static char buf[1 << 16];
    if (!fgets(buf, sizeof buf, f))
        return NULL;
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

static void run_table(const char *path)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "opens the case table %s", path);
    if (!f)
        return;
    char *line;
    int ncases = 0;
    while ((line = read_line(f))) {
        if (!*line || *line == '#')
            continue;
        char *title = xstrdup(line);
        char *id = xstrdup(read_line(f));
        char *kw = xstrdup(read_line(f));
        char *resp_json = xstrdup(read_line(f));
        char *want = xstrdup(read_line(f));
        cJSON *rj = cJSON_Parse(resp_json);
        IfevalPrompt p;
        Err err;
        if (!rj || !cJSON_IsString(rj) || make_prompt(&p, id, kw, &err) < 0) {
            CHECK(0, "%s (case does not parse)", title);
        } else {
            StrBuf why = SB_INIT;
            const char *r = rj->valuestring;
            int got = ifeval_check(sc, &p, 0, r, strlen(r), &why);
            int exp = !strcmp(want, "true");
            CHECK(got == exp, "%s", title);
            if (got != exp)
                printf("    %s %s: got %s (%s)\n", id, kw, got ? "true" : "false", why.buf);
            if (!got)
                CHECK(why.len > 0, "%s: a failed check explains why (\"%s\")", title, why.buf);
            sb_release(&why);
            ifeval_prompt_release(&p);
        }
        cJSON_Delete(rj);
        free(title);
        free(id);
        free(kw);
        free(resp_json);
        free(want);
        ncases++;
    }
    fclose(f);
    CHECK(ncases >= 100, "the case table has %d cases", ncases);
}

static void test_kwargs_errors(void)
{
    static const struct {
        const char *id, *kwargs, *msg;
    } bad[] = {
        {"keywords:nope", "{}", "unknown instruction id \"keywords:nope\""},
        {"length_constraints:number_words", "{\"num_words\": \"5\", \"relation\": \"at least\"}",
         "kwarg \"num_words\" of \"length_constraints:number_words\" (kwargs[0]) must be an integer, not a string"},
        {"length_constraints:number_words", "{\"num_words\": 5}", "missing kwarg \"relation\""},
        {"length_constraints:number_words", "{\"num_words\": 5, \"relation\": \"more than\"}",
         "must be \"less than\" or \"at least\""},
        {"keywords:existence", "{\"keywords\": \"cat\"}", "must be a list of strings"},
        {"punctuation:no_comma", "{\"num\": 1}", "unexpected kwarg \"num\""},
        {"keywords:letter_frequency", "{\"letter\": \"ab\", \"let_frequency\": 1, \"let_relation\": \"at least\"}",
         "must be one character"},
        {"length_constraints:number_words", "{\"num_words\": -1, \"relation\": \"at least\"}", "must not be negative"},
        {"keywords:existence", "{\"keywords\": [\"(\"]}", "bad regex"},
        {"keywords:forbidden_words", "{\"forbidden_words\": []}", "must not be empty"},
        {"keywords:frequency", "{\"keyword\": \"\", \"frequency\": 1, \"relation\": \"at least\"}",
         "must not be empty"},
        {"length_constraints:nth_paragraph_first_word",
         "{\"num_paragraphs\": 2, \"nth_paragraph\": 3, \"first_word\": \"a\"}", "must be in 1..2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        IfevalPrompt p;
        Err err = {0};
        int rc = make_prompt(&p, bad[i].id, bad[i].kwargs, &err);
        CHECK(rc < 0 && strstr(err.msg, bad[i].msg) && err.line == 1,
              "rejects %s %s with \"%s\"", bad[i].id, bad[i].kwargs, bad[i].msg);
        if (rc == 0)
            ifeval_prompt_release(&p);
        else if (!strstr(err.msg, bad[i].msg))
            printf("    got: %s\n", err.msg);
    }
    IfevalPrompt p;
    Err err;
    int rc = make_prompt(&p, "length_constraints:number_words",
                         "{\"num_words\": 5, \"relation\": \"at least\", \"keywords\": null, \"letter\": null}", &err);
    CHECK(rc == 0, "drops the null kwargs of the Hugging Face copy");
    if (rc == 0)
        ifeval_prompt_release(&p);
}

static void test_loose(void)
{
    IfevalPrompt p;
    Err err;
    unsigned char st[1], lo[1];
    make_prompt(&p, "length_constraints:nth_paragraph_first_word",
                "{\"num_paragraphs\": 1, \"nth_paragraph\": 1, \"first_word\": \"weekend\"}", &err);
    const char *r = "**Weekend** plans";
    ifeval_score(sc, &p, r, strlen(r), st, lo, NULL, NULL);
    CHECK(!st[0] && lo[0], "loose passes **Weekend** once the stars are removed, strict does not");
    ifeval_prompt_release(&p);

    make_prompt(&p, "startend:quotation", "{}", &err);
    r = "Sure, here it is:\n\"quoted answer\"";
    ifeval_score(sc, &p, r, strlen(r), st, lo, NULL, NULL);
    CHECK(!st[0] && lo[0], "loose passes a quoted answer once the first line is removed");
    r = "   \n\t ";
    StrBuf ws = SB_INIT, wl = SB_INIT;
    ifeval_score(sc, &p, r, strlen(r), st, lo, &ws, &wl);
    CHECK(!st[0] && !lo[0] && strstr(ws.buf, "empty"), "a blank response fails strict and loose");
    sb_release(&ws);
    sb_release(&wl);
    ifeval_prompt_release(&p);

    make_prompt(&p, "punctuation:no_comma", "{}", &err);
    r = "Intro, with comma\nbody without\nlast, line";
    ifeval_score(sc, &p, r, strlen(r), st, lo, NULL, NULL);
    CHECK(!st[0] && lo[0], "loose passes when removing the first and last lines removes the commas");
    r = "a, b";
    ifeval_score(sc, &p, r, strlen(r), st, lo, NULL, NULL);
    CHECK(!st[0] && !lo[0], "without a newline the removed-line variants are empty and do not count");
    ifeval_prompt_release(&p);
}

static void test_pystr(void)
{
    StrBuf sb = SB_INIT;
    static const struct {
        double x;
        const char *want;
    } fl[] = {{0.7707948243992606, "0.7707948243992606"}, {1.0, "1.0"}, {0.0, "0.0"}, {0.5, "0.5"},
              {0.68, "0.68"}, {1e-05, "1e-05"}, {0.0001, "0.0001"}, {1e16, "1e+16"}, {123.0, "123.0"},
              {2.0 / 3.0, "0.6666666666666666"}};
    for (size_t i = 0; i < sizeof fl / sizeof *fl; i++) {
        sb_reset(&sb);
        pystr_float_repr(&sb, fl[i].x);
        CHECK_STR(sb.buf, fl[i].want, "float repr of %.17g is %s", fl[i].x, fl[i].want);
    }
    sb_reset(&sb);
    const char *s = "a\"\\\n\t\x01\xc3\xa9\xf0\x9f\x98\x80\x7f";
    pystr_json_dump_str(&sb, s, strlen(s));
    CHECK_STR(sb.buf, "\"a\\\"\\\\\\n\\t\\u0001\\u00e9\\ud83d\\ude00\\u007f\"",
              "json.dumps escapes non-ASCII as \\uXXXX with surrogate pairs, and DEL as \\u007f (Python's ESCAPE_ASCII)");
    sb_reset(&sb);
    pystr_json_dump_str(&sb, "a\0b\xed\xa0\x80\xed\xbf\xbf", 9);
    CHECK_STR(sb.buf, "\"a\\u0000b\\ud800\\udfff\"",
              "json.dumps writes NUL as \\u0000 and WTF-8 lone surrogates as \\ud800, \\udfff");
    {
        PyJsonField f[2] = {{"response", 0, SB_INIT}, {"key", 0, SB_INIT}};
        const char *rec = "{\"key\": 7, \"response\": \"x\\u0000\\ud83d\\ude00\\udc00\\ud800y\", \"z\": [NaN]}";
        size_t pos = 0;
        int rc = pystr_json_object(rec, strlen(rec), &pos, f, 2);
        CHECK(rc == 0 && pos == strlen(rec) && f[0].type == PYJ_STRING && f[0].val.len == 13 &&
                  !memcmp(f[0].val.buf, "x\0\xf0\x9f\x98\x80\xed\xb0\x80\xed\xa0\x80y", 13) &&
                  f[1].type == PYJ_NUMBER && !strcmp(f[1].val.buf, "7"),
              "json.loads record: \\u0000 kept, a surrogate pair joined, lone surrogates kept as WTF-8");
        pystr_wtf8_for_scoring(f[0].val.buf, f[0].val.len);
        CHECK(!memcmp(f[0].val.buf, "x\x01\xf0\x9f\x98\x80\xee\x90\x80\xee\x80\x80y", 13),
              "scoring copy: NUL -> U+0001, lone U+DC00 -> U+E400, U+D800 -> U+E000, same length");
        pos = 0;
        CHECK(pystr_json_object("{\"a\": \"\\ud80\"}", 14, &pos, f, 2) < 0 && pos >= 7,
              "json.loads record: a short \\u escape is an error at its string");
        sb_release(&f[0].val);
        sb_release(&f[1].val);
    }
    sb_reset(&sb);
    s = "\xc4\xb0\xe2\x84\xaa\xce\x9f\xce\xa3";
    pystr_lower(s, strlen(s), &sb);
    CHECK_STR(sb.buf, "i\xcc\x87k\xce\xbf\xcf\x82", "lower(): U+0130 becomes i + U+0307, Kelvin k, final sigma");
    size_t b, e;
    s = "\x1c\xc2\xa0 x \xe2\x80\x8b";
    pystr_strip(s, strlen(s), &b, &e);
    CHECK(b == 4 && e == strlen(s), "strip() removes \\x1c and U+00A0 but not U+200B");
    CHECK(pystr_isupper("U.S.A.", 6) && pystr_isupper("A1", 2) && !pystr_isupper("123", 3),
          "isupper(): U.S.A. and A1 are upper, 123 is not");
    CHECK(!pystr_islower("\xc7\x85", 2) && !pystr_isupper("\xc7\x85", 2), "titlecase U+01C5 is neither upper nor lower");
    CHECK(pystr_json_loads_ok(" [1, -Infinity, \"\\ud800\"] ", 26) && pystr_json_loads_ok("\"s\"", 3),
          "json.loads accepts -Infinity, lone surrogates and a bare string");
    CHECK(!pystr_json_loads_ok("{'a': 1}", 8) && !pystr_json_loads_ok("[1] x", 5) &&
          !pystr_json_loads_ok("01", 2) && !pystr_json_loads_ok("\xef\xbb\xbf{}", 5),
          "json.loads rejects single quotes, trailing text, leading zeros and a BOM");
    sb_release(&sb);
}

static void test_outputs(void)
{
    IfevalPrompt p;
    Err err;
    make_prompt(&p, "punctuation:no_comma", "{}", &err);
    unsigned char f[1] = {1};
    StrBuf sb = SB_INIT;
    ifeval_result_line(&sb, &p, "caf\xc3\xa9", 5, f);
    CHECK_STR(sb.buf,
              "{\"follow_all_instructions\": true, \"follow_instruction_list\": [true], "
              "\"instruction_id_list\": [\"punctuation:no_comma\"], \"prompt\": \"p\", "
              "\"response\": \"caf\\u00e9\"}\n",
              "writes an eval_results line as Python's json.dumps with sorted keys");
    IfevalTally t = {0};
    ifeval_tally_add(&t, &p, f);
    f[0] = 0;
    ifeval_tally_add(&t, &p, f);
    sb_reset(&sb);
    ifeval_report(&sb, &t);
    CHECK_STR(sb.buf, "prompt-level: 0.5\ninstruction-level: 0.5\n\npunctuation 0.5\n\npunctuation:no_comma 0.5\n",
              "prints the official report block");
    sb_reset(&sb);
    ifeval_summary(&sb, &t, &t, "in", "out");
    CHECK(strstr(sb.buf, "\"per_instruction\": {\"punctuation:no_comma\": {\"n\": 2, \"strict\": 0.5, \"loose\": 0.5}}") &&
              strstr(sb.buf, "\"n_prompts\": 2, \"n_instructions\": 2"),
          "writes the summary with per-instruction counts");
    sb_release(&sb);
    ifeval_prompt_release(&p);
}

/* The ASCII fast paths (literal keywords, \w+ words) against the PCRE2
 * path: the same random ASCII text with a trailing NBSP (no word character,
 * no keyword letter, not ASCII) must give the same counts and reasons. */
static void test_ascii_fast_paths(void)
{
    static const char *const pieces[] = {"key", "KEY", "Key", "kEy", "keys", "monkey", "k", "ey", "_", "1",
                                         " ", " ", "-", ",", ".", "\n", "a", "a-b", "A-B", "ke y", "'"};
    static const char *const cases[][2] = {
        {"keywords:existence", "{\"keywords\": [\"key\", \"ke y\", \"a-b\"]}"},
        {"keywords:existence", "{\"keywords\": [\"monkey\"]}"},
        {"keywords:forbidden_words", "{\"forbidden_words\": [\"key\", \"-b\", \"y \"]}"},
        {"keywords:forbidden_words", "{\"forbidden_words\": [\"_\"]}"},
        {"keywords:frequency", "{\"keyword\": \"key\", \"frequency\": 0, \"relation\": \"less than\"}"},
        {"keywords:frequency", "{\"keyword\": \"eyk\", \"frequency\": 0, \"relation\": \"less than\"}"},
        {"keywords:frequency", "{\"keyword\": \" KEY \", \"frequency\": 0, \"relation\": \"less than\"}"},
        {"length_constraints:number_words", "{\"num_words\": 0, \"relation\": \"less than\"}"},
    };
    Rng g;
    rng_seed(&g, 7);
    int bad = 0, total = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        IfevalPrompt p;
        Err err;
        if (make_prompt(&p, cases[c][0], cases[c][1], &err) < 0) {
            CHECK(0, "fast-path case %zu parses (%s)", c, err.msg);
            continue;
        }
        for (int t = 0; t < 400; t++) {
            StrBuf a = SB_INIT, b = SB_INIT, wa = SB_INIT, wb = SB_INIT;
            int np = 1 + (int)rng_below(&g, 40);
            for (int k = 0; k < np; k++) {
                const char *pc = pieces[rng_below(&g, sizeof pieces / sizeof pieces[0])];
                sb_adds(&a, strcmp(pc, "\\n") ? pc : "\n");
            }
            sb_add(&b, a.buf, a.len);
            sb_adds(&b, "\xc2\xa0");
            int ra = ifeval_check(sc, &p, 0, a.buf, a.len, &wa);
            int rb = ifeval_check(sc, &p, 0, b.buf, b.len, &wb);
            total++;
            if (ra != rb || strcmp(wa.buf ? wa.buf : "", wb.buf ? wb.buf : "")) {
                if (!bad)
                    CHECK(0, "%s on \"%s\": fast path %d (%s), PCRE2 %d (%s)", cases[c][0], a.buf, ra,
                          wa.buf ? wa.buf : "", rb, wb.buf ? wb.buf : "");
                bad++;
            }
            sb_release(&a);
            sb_release(&b);
            sb_release(&wa);
            sb_release(&wb);
        }
        ifeval_prompt_release(&p);
    }
    CHECK(bad == 0, "ASCII fast paths agree with PCRE2 on %d random texts (%d differ)", total, bad);
}

int main(void)
{
    Err err;
    sc = ifeval_scorer_new(IFEVAL_COMPAT_CURRENT, &err);
    CHECK(sc != NULL, "loads the Punkt and langdetect data (%s)", sc ? "ok" : err.msg);
    if (!sc)
        return TEST_REPORT();
    run_table("tests/unit/ifeval.test");
    test_kwargs_errors();
    test_loose();
    test_pystr();
    test_outputs();
    test_ascii_fast_paths();
    ifeval_scorer_free(sc);
    return TEST_REPORT();
}
