/*
 * test_flatten.c - lib/flatten and the shipped IFEval-Flatten file.
 *
 * The detectors below are written for this test, independently of the
 * attribution rules in lib/flatten.c: for every flattened record of
 * datasets/ifeval/ifeval_flatten.jsonl the detector of its own constraint
 * must match the prompt and the detectors of the source prompt's other
 * constraints must not.  Set FLATTEN_VERBOSE=1 to list every failing record.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "flatten.h"
#include "jsonl.h"
#include "testhelp.h"
#include "util.h"

/* ---------------------------------------------------------------- detectors */

static void lit(StrBuf *sb, const char *s)
{
    for (; *s; s++) {
        if (strchr("\\^$.|?*+()[]{}-#", *s))
            sb_addc(sb, '\\');
        sb_addc(sb, *s);
    }
}

static const char *const words[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                    "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
                                    "sixteen", "seventeen", "eighteen", "nineteen", "twenty"};

/* a number n or n-1 (digits or word) */
static void num(StrBuf *sb, long n)
{
    sb_addf(sb, "(?:\\b%ld\\b|\\b%ld\\b", n, n - 1);
    if (n >= 0 && n <= 20)
        sb_addf(sb, "|\\b%s\\b", words[n]);
    if (n - 1 >= 0 && n - 1 <= 20)
        sb_addf(sb, "|\\b%s\\b", words[n - 1]);
    if (n == 1 || n == 2)
        sb_adds(sb, "|\\bonce\\b");
    if (n == 2 || n == 3)
        sb_adds(sb, "|\\btwice\\b");
    sb_adds(sb, ")");
}

static long knum(const cJSON *kw, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(kw, k);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : -99;
}

static const char *kstr(const cJSON *kw, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(kw, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int re_match(const char *pat, const char *s)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_UTF, &ec, &eo, NULL);
    if (!re) {
        printf("    bad test pattern: %s\n", pat);
        return -1;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0;
}

static const char *const langs[][2] = {
    {"hi", "Hindi"}, {"kn", "Kannada"}, {"mr", "Marathi"}, {"vi", "Vietnamese"}, {"ko", "Korean"},
    {"sw", "Swahili"}, {"de", "German"}, {"pa", "Punjabi"}, {"fa", "Persian|Farsi"}, {"ru", "Russian"},
    {"bg", "Bulgarian"}, {"pt", "Portuguese"}, {"gu", "Gujarati"}, {"te", "Telugu"}, {"it", "Italian"},
    {"ar", "Arabic"}, {"ta", "Tamil"}, {"fi", "Finnish"}, {"ur", "Urdu"}, {"th", "Thai"}, {"ne", "Nepali"},
    {"bn", "Bengali|Bangla"},
};

/* Does prompt p state constraint (id, kw)?  mode 1: "is it stated" (own
 * constraint, strict enough to be meaningful); mode 0: "is any trace of it
 * left" (removed constraints, deliberately broad). */
static int states(const char *id, const cJSON *kw, const char *p, int mode)
{
    StrBuf sb = SB_INIT;
    int r = -1;
    if (!strcmp(id, "punctuation:no_comma"))
        sb_adds(&sb, "\\bcommas?\\b");
    else if (!strcmp(id, "length_constraints:number_words")) {
        sb_adds(&sb, "\\bwords?\\b[^.?!\\n]{0,60}");
        num(&sb, knum(kw, "num_words"));
        sb_adds(&sb, "|");
        num(&sb, knum(kw, "num_words"));
        sb_adds(&sb, "[^.?!\\n]{0,30}\\bwords?\\b");
    } else if (!strcmp(id, "length_constraints:number_sentences")) {
        sb_adds(&sb, "\\bsentences?\\b[^.?!\\n]{0,60}");
        num(&sb, knum(kw, "num_sentences"));
        sb_adds(&sb, "|");
        num(&sb, knum(kw, "num_sentences"));
        sb_adds(&sb, "[^.?!\\n]{0,40}\\b(?:sentences?|lines?)\\b");
    } else if (!strcmp(id, "length_constraints:number_paragraphs"))
        sb_adds(&sb, mode ? "\\*\\*\\*|divider|asterisk" : "(?<!\\*)\\*\\*\\*(?!\\*)|markdown divider|\\bparagraphs\\b");
    else if (!strcmp(id, "length_constraints:nth_paragraph_first_word")) {
        sb_adds(&sb, "\\b");
        lit(&sb, kstr(kw, "first_word"));
        sb_adds(&sb, "\\b");
    } else if (!strcmp(id, "detectable_content:number_placeholders"))
        sb_adds(&sb, "placeholder|square bracket");
    else if (!strcmp(id, "detectable_content:postscript"))
        sb_adds(&sb, "postscript|p\\.\\s?p\\.\\s?s|\\bp\\.\\s?s\\.");
    else if (!strcmp(id, "detectable_format:number_bullet_lists"))
        sb_adds(&sb, "bullet");
    else if (!strcmp(id, "detectable_format:constrained_response"))
        sb_adds(&sb, "my answer is");
    else if (!strcmp(id, "detectable_format:number_highlighted_sections"))
        sb_adds(&sb, "highlight|\\bitali");
    else if (!strcmp(id, "detectable_format:multiple_sections")) {
        sb_adds(&sb, "(?-i:");
        lit(&sb, kstr(kw, "section_spliter"));
        sb_adds(&sb, ")\\s*(?:X|\\d)");
    } else if (!strcmp(id, "detectable_format:json_format"))
        sb_adds(&sb, "\\bjson\\b");
    else if (!strcmp(id, "detectable_format:title"))
        sb_adds(&sb, "\\btitle|<<");
    else if (!strcmp(id, "combination:two_responses"))
        sb_adds(&sb, "\\*{6}|\\btwo (?:\\w+ )?(?:responses|answers|versions)|\\b(?:six|6) asterisk");
    else if (!strcmp(id, "combination:repeat_prompt"))
        sb_adds(&sb, "\\brepeat");
    else if (!strcmp(id, "startend:end_checker"))
        lit(&sb, kstr(kw, "end_phrase"));
    else if (!strcmp(id, "change_case:capital_word_frequency"))
        sb_adds(&sb, "capital|\\bcaps\\b");
    else if (!strcmp(id, "change_case:english_capital"))
        sb_adds(&sb, "capital|upper ?case|\\bcaps\\b");
    else if (!strcmp(id, "change_case:english_lowercase"))
        sb_adds(&sb, "lower ?case|\\bcapital");
    else if (!strcmp(id, "startend:quotation"))
        sb_adds(&sb, "quotation|double quote");
    else if (!strcmp(id, "language:response_language")) {
        for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
            if (!strcmp(langs[i][0], kstr(kw, "language")))
                sb_addf(&sb, "\\b(?:%s)\\b", langs[i][1]);
    } else if (!strcmp(id, "keywords:letter_frequency")) {
        const char *l = kstr(kw, "letter");
        if (!strcmp(l, "#"))
            sb_adds(&sb, "hashtag|#");
        else if (!strcmp(l, "!"))
            sb_adds(&sb, "exclamation");
        else {
            sb_adds(&sb, "\\bletter\\s*['\"]?");
            lit(&sb, l);
            sb_adds(&sb, "\\b");
        }
    } else if (!strcmp(id, "keywords:frequency")) {
        /* the keyword with a count nearby */
        sb_adds(&sb, "\\b");
        lit(&sb, kstr(kw, "keyword"));
        sb_adds(&sb, "\\b['\"]?[^.?!\\n]{0,50}(?:times|once|twice|at least|less than|more than|at most|");
        num(&sb, knum(kw, "frequency"));
        sb_adds(&sb, ")|(?:avoid|not|never)\\w*[^.?!\\n]{0,30}\\b");
        lit(&sb, kstr(kw, "keyword"));
    } else if (!strcmp(id, "keywords:existence") || !strcmp(id, "keywords:forbidden_words")) {
        int forb = id[10] == 'f';
        const cJSON *ks = cJSON_GetObjectItemCaseSensitive(kw, forb ? "forbidden_words" : "keywords"), *k;
        /* own: every word is named; removed: no word is named next to a cue */
        r = mode ? 1 : 0;
        cJSON_ArrayForEach(k, ks) {
            sb_reset(&sb);
            if (!mode)
                sb_adds(&sb, forb ? "(?:not|n't|avoid|without|never|refrain|exclud|forbid)[^.?!\\n]{0,60}\\b"
                                  : "(?:keyword|word|includ|mention|contain)[^.?!\\n]{0,60}\\b");
            else
                sb_adds(&sb, "\\b");
            lit(&sb, k->valuestring);
            sb_adds(&sb, "\\b");
            int m = re_match(sb.buf, p);
            if (mode && !m)
                r = 0;
            if (!mode && m)
                r = 1;
        }
        sb_release(&sb);
        return r;
    }
    if (sb.len)
        r = re_match(sb.buf, p);
    sb_release(&sb);
    return r;
}

/* Wordings two ids share, so a removed one cannot be told from the kept one. */
static int overlap(const char *own, const char *other)
{
    static const char *const pairs[][2] = {
        {"change_case:capital_word_frequency", "change_case:english_lowercase"},
        {"change_case:capital_word_frequency", "change_case:english_capital"},
        {"keywords:frequency", "keywords:existence"},
        {"keywords:frequency", "keywords:forbidden_words"},
    };
    if (!strcmp(own, other))
        return 1;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if ((!strcmp(own, pairs[i][0]) && !strcmp(other, pairs[i][1])) ||
            (!strcmp(own, pairs[i][1]) && !strcmp(other, pairs[i][0])))
            return 1;
    return 0;
}

/* ---------------------------------------------------------------- tests */

static cJSON *parse(const char *s) { return cJSON_Parse(s); }

static void unit_rules(void)
{
    const char *why = NULL;
    cJSON *r = parse("{\"key\":1,\"prompt\":\"Write a poem about the sea. Do not use any commas. "
                     "Your answer must contain a title, wrapped in double angular brackets, i.e. <<title>>.\","
                     "\"instruction_id_list\":[\"punctuation:no_comma\",\"detectable_format:title\"],\"kwargs\":[{},{}]}");
    char *s = flatten_rules(r, 0, &why);
    CHECK_STR(s, "Write a poem about the sea. Do not use any commas.", "removes the sentence of the other constraint");
    free(s);
    s = flatten_rules(r, 1, &why);
    CHECK_STR(s, "Write a poem about the sea. Your answer must contain a title, wrapped in double angular brackets, i.e. <<title>>.",
              "keeps an abbreviation (i.e.) inside the kept sentence");
    free(s);
    cJSON_Delete(r);

    r = parse("{\"key\":2,\"prompt\":\"Write a story. Your response should be in English, all capital letters, "
              "contain no commas, and be fewer than 16 sentences.\",\"instruction_id_list\":[\"change_case:english_capital\","
              "\"punctuation:no_comma\",\"length_constraints:number_sentences\"],\"kwargs\":[{},{},"
              "{\"relation\":\"less than\",\"num_sentences\":16}]}");
    s = flatten_rules(r, 1, &why);
    CHECK_STR(s, "Write a story. Your response should contain no commas.", "cuts clauses and carries the subject over");
    free(s);
    s = flatten_rules(r, 2, &why);
    CHECK_STR(s, "Write a story. Your response should be fewer than 16 sentences.", "drops the leading 'and' of a kept clause");
    free(s);
    s = flatten_rules(r, 0, &why);
    CHECK_STR(s, "Write a story. Your response should be in English, all capital letters.", "keeps the first clause's subject");
    free(s);
    cJSON_Delete(r);

    r = parse("{\"key\":5,\"prompt\":\"Write a poem. Your response should contain at least 30 sentences. "
              "Also, it must contain at least 8 placeholders represented by square brackets, such as [address].\","
              "\"instruction_id_list\":[\"length_constraints:number_sentences\",\"detectable_content:number_placeholders\"],"
              "\"kwargs\":[{\"relation\":\"at least\",\"num_sentences\":30},{\"num_placeholders\":8}]}");
    s = flatten_rules(r, 1, &why);
    CHECK_STR(s, "Write a poem. Your response must contain at least 8 placeholders represented by square brackets, such as [address].",
              "after a removed sentence drops 'Also,' and gives 'it' the removed sentence's subject");
    free(s);
    cJSON_Delete(r);
    r = parse("{\"key\":6,\"prompt\":\"Write a resume. Include the keywords \\\"Python\\\" and \\\"Java\\\" and wrap the "
              "response with double quotation marks.\",\"instruction_id_list\":[\"keywords:existence\",\"startend:quotation\"],"
              "\"kwargs\":[{\"keywords\":[\"Python\",\"Java\"]},{}]}");
    s = flatten_rules(r, 0, &why);
    CHECK_STR(s, "Write a resume. Include the keywords \"Python\" and \"Java\".",
              "gives the full stop back after a closing quote when the removed clause carried it");
    free(s);
    cJSON_Delete(r);

    r = parse("{\"key\":3,\"prompt\":\"Write a song about rain. Do not use commas.\\nFirst repeat the request word for word "
              "without change, then give your answer\",\"instruction_id_list\":[\"combination:repeat_prompt\","
              "\"punctuation:no_comma\"],\"kwargs\":[{\"prompt_to_repeat\":\"Write a song about rain. Do not use commas.\"},{}]}");
    FlattenOptions o = {NULL, NULL, 0};
    Err err;
    cJSON *out = flatten_record(r, &o, "t", 1, &err);
    CHECK(out && cJSON_GetArraySize(out) == 2, "makes one record per constraint");
    if (out) {
        cJSON *a = cJSON_GetArrayItem(out, 0), *b = cJSON_GetArrayItem(out, 1);
        CHECK_STR(json_str(a, "prompt"), "Write a song about rain.\nFirst repeat the request word for word without change, then give your answer",
                  "keeps the repeat wrapper around the stripped request");
        cJSON *kw = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "kwargs"), 0);
        CHECK_STR(json_str(kw, "prompt_to_repeat"), "Write a song about rain.", "sets prompt_to_repeat to the new request");
        CHECK_STR(json_str(b, "prompt"), "Write a song about rain. Do not use commas.", "drops the repeat wrapper for the other constraint");
        CHECK_STR(json_str(b, "key"), "3-1", "names the record <key>-<index>");
        CHECK_STR(json_str(b, "derivation"), "rules", "says the record came from the rules");
    }
    cJSON_Delete(out);
    cJSON_Delete(r);

    r = parse("{\"key\":4,\"prompt\":\"Write a 300+ word essay without commas.\",\"instruction_id_list\":"
              "[\"punctuation:no_comma\",\"length_constraints:number_words\"],\"kwargs\":[{},{\"relation\":\"at least\",\"num_words\":300}]}");
    s = flatten_rules(r, 0, &why);
    CHECK(s == NULL && why && strstr(why, "task"), "leaves a constraint folded into the task to the overrides");
    free(s);
    out = flatten_record(r, &o, "in.jsonl", 7, &err);
    CHECK(!out && !strcmp(err.msg, "key 4 index 0 (punctuation:no_comma): rules cannot settle it (the task sentence carries another constraint); add an override") && err.line == 7,
          "reports an unsettled record with key, index and line");
    cJSON_Delete(out);
    cJSON_Delete(r);

    r = parse("{\"key\":5,\"prompt\":\"Hello.\",\"instruction_id_list\":[\"punctuation:no_comma\"],\"kwargs\":[{}]}");
    out = flatten_record(r, &o, "t", 1, &err);
    CHECK(out && cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetArrayItem(out, 0), "key")) &&
              !strcmp(json_str(cJSON_GetArrayItem(out, 0), "derivation"), "single"),
          "passes a single-constraint prompt through with its numeric key");
    cJSON_Delete(out);
    cJSON_Delete(r);
    r = parse("{\"key\":6,\"prompt\":\"x\",\"instruction_id_list\":[\"a\",\"b\"],\"kwargs\":[{}]}");
    out = flatten_record(r, &o, "f", 3, &err);
    CHECK(!out && err.line == 3 && strstr(err.msg, "differ in length"), "rejects kwargs of the wrong length");
    cJSON_Delete(r);
}

/* The first three words of the request (the prompt_to_repeat of a repeat
 * prompt), whitespace-normalised, appear in the flattened prompt. */
static void squash(const char *in, StrBuf *out)
{
    int sp = 0;
    for (; *in; in++) {
        if (*in == ' ' || *in == '\n' || *in == '\t') {
            sp = out->len > 0;
            continue;
        }
        if (sp)
            sb_addc(out, ' ');
        sp = 0;
        sb_addc(out, *in);
    }
}

static int keeps_opening(const cJSON *src, const char *prompt)
{
    const char *req = json_str(src, "prompt");
    const cJSON *ids = cJSON_GetObjectItem(src, "instruction_id_list"), *kws = cJSON_GetObjectItem(src, "kwargs");
    for (int i = 0; i < cJSON_GetArraySize(ids); i++)
        if (!strcmp(cJSON_GetArrayItem(ids, i)->valuestring, "combination:repeat_prompt"))
            req = json_str(cJSON_GetArrayItem(kws, i), "prompt_to_repeat");
    StrBuf a = SB_INIT, b = SB_INIT;
    squash(req, &a);
    squash(prompt, &b);
    size_t w = 0, cut = a.len;
    for (size_t i = 0; i < a.len; i++)
        if (a.buf[i] == ' ' && ++w == 3) {
            cut = i;
            break;
        }
    sb_setlen(&a, cut);
    int ok = strstr(b.buf, a.buf) != NULL;
    sb_release(&a);
    sb_release(&b);
    return ok;
}

static void shipped_file(void)
{
    const char *path = "datasets/ifeval/ifeval_flatten.jsonl";
    int verbose = getenv("FLATTEN_VERBOSE") != NULL;
    /* the sources, by key */
    cJSON *src[4096] = {0};
    long srckey[4096];
    int nsrc = 0;
    JsonlReader r;
    Err err;
    cJSON *rec;
    int rc;
    if (jsonl_open(&r, "datasets/ifeval/input_data.jsonl", &err) < 0) {
        CHECK(0, "opens datasets/ifeval/input_data.jsonl");
        return;
    }
    while ((rc = jsonl_next(&r, &rec, &err)) > 0 && nsrc < 4096) {
        long k;
        json_int(rec, "key", &k);
        srckey[nsrc] = k;
        src[nsrc++] = rec;
    }
    jsonl_close(&r);
    if (jsonl_open(&r, path, &err) < 0) {
        CHECK(0, "opens %s", path);
        return;
    }
    int n = 0, lost_task = 0, nsingle = 0, bad_shape = 0, own_missing = 0, other_left = 0, bad_repeat = 0, bad_deriv = 0;
    while ((rc = jsonl_next(&r, &rec, &err)) > 0) {
        n++;
        long sk, idx;
        const cJSON *ids = cJSON_GetObjectItem(rec, "instruction_id_list"), *kws = cJSON_GetObjectItem(rec, "kwargs");
        const char *prompt = json_str(rec, "prompt"), *deriv = json_str(rec, "derivation");
        if (json_int(rec, "source_key", &sk) < 0 || json_int(rec, "index", &idx) < 0 || !prompt ||
            cJSON_GetArraySize(ids) != 1 || cJSON_GetArraySize(kws) != 1 || !cJSON_GetObjectItem(rec, "key") ||
            !cJSON_IsArray(cJSON_GetObjectItem(rec, "removed"))) {
            bad_shape++;
            cJSON_Delete(rec);
            continue;
        }
        const cJSON *s = NULL;
        for (int i = 0; i < nsrc; i++)
            if (srckey[i] == sk)
                s = src[i];
        const cJSON *sids = cJSON_GetObjectItem(s, "instruction_id_list"), *skws = cJSON_GetObjectItem(s, "kwargs");
        const char *id = cJSON_GetArrayItem(ids, 0)->valuestring;
        const cJSON *kw = cJSON_GetArrayItem(kws, 0);
        if (!s || strcmp(id, cJSON_GetArrayItem(sids, (int)idx)->valuestring)) {
            bad_shape++;
            cJSON_Delete(rec);
            continue;
        }
        if (cJSON_GetArraySize(sids) == 1) {
            nsingle++;
            if (strcmp(deriv, "single") || strcmp(prompt, json_str(s, "prompt")))
                bad_deriv++;
            cJSON_Delete(rec);
            continue;
        }
        if (strcmp(deriv, "rules") && strcmp(deriv, "override"))
            bad_deriv++;
        if (!strcmp(deriv, "rules") && !keeps_opening(s, prompt)) {
            lost_task++;
            if (verbose)
                printf("    task lost %ld-%ld: %s\n", sk, idx, prompt);
        }
        if (strcmp(id, "combination:repeat_prompt")) {
            if (!cJSON_Compare(kw, cJSON_GetArrayItem(skws, (int)idx), 1))
                bad_shape++;
            if (states(id, kw, prompt, 1) != 1) {
                own_missing++;
                if (verbose)
                    printf("    own missing %ld-%ld %s [%s]: %s\n", sk, idx, id, deriv, prompt);
            }
        } else {
            const char *ptr = json_str(kw, "prompt_to_repeat");
            if (!ptr || !strstr(prompt, ptr) || strlen(prompt) <= strlen(ptr) + 20) {
                bad_repeat++;
                if (verbose)
                    printf("    repeat text %ld-%ld: %s\n", sk, idx, prompt);
            }
        }
        for (int i = 0; i < cJSON_GetArraySize(sids); i++) {
            const char *oid = cJSON_GetArrayItem(sids, i)->valuestring;
            if (i == idx || overlap(id, oid))
                continue;
            /* the own keyword list may itself name the other's wording
             * (forbidding the word "JSON" next to a JSON constraint) */
            if (!strncmp(id, "keywords:", 9)) {
                char *words = cJSON_PrintUnformatted(kw);
                int named = states(oid, cJSON_GetArrayItem(skws, i), words, 0) == 1;
                free(words);
                if (named)
                    continue;
            }
            if (states(oid, cJSON_GetArrayItem(skws, i), prompt, 0) != 0) {
                other_left++;
                if (verbose)
                    printf("    left %ld-%ld %s (own %s) [%s]: %s\n", sk, idx, oid, id, deriv, prompt);
            }
        }
        cJSON_Delete(rec);
    }
    jsonl_close(&r);
    CHECK(n == 834, "ships 834 IFEval-Flatten records (got %d)", n);
    CHECK(nsingle == 305, "passes the 305 single-constraint prompts through (got %d)", nsingle);
    CHECK(bad_shape == 0, "every record has one id and its source kwargs, key, source_key, index, removed (%d bad)", bad_shape);
    CHECK(bad_deriv == 0, "every record says how it was derived (%d bad)", bad_deriv);
    CHECK(own_missing == 0, "every flattened prompt still states its own constraint (%d do not)", own_missing);
    CHECK(other_left == 0, "no flattened prompt states a removed constraint (%d do)", other_left);
    CHECK(lost_task == 0, "every rules-derived prompt keeps the opening words of the task (%d do not)", lost_task);
    CHECK(bad_repeat == 0, "repeat_prompt kwargs equal the text the prompt asks to repeat (%d differ)", bad_repeat);
    for (int i = 0; i < nsrc; i++)
        cJSON_Delete(src[i]);
}

int main(void)
{
    unit_rules();
    shipped_file();
    return TEST_REPORT();
}
