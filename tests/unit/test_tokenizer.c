/* test_tokenizer.c - the tokenizer kinds on small hand-made vocabularies
 * whose right answers can be worked out by hand (the big ones are compared
 * with the JS references in tests/sh/tokenizer.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testhelp.h"
#include "tokenizer.h"

static char dir[64];

static const char *write_file(const char *name, const void *data, size_t n)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

static int ids_are(const IntVec *v, const int32_t *want, size_t n)
{
    if (v->n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v->v[i] != want[i])
            return 0;
    return 1;
}

static IntVec enc(const Tokenizer *t, const char *s, int special)
{
    IntVec v = {0};
    tok_encode(t, s, strlen(s), special, &v);
    return v;
}

static char *dec(const Tokenizer *t, const IntVec *v, int skip)
{
    static StrBuf sb = SB_INIT;
    Err e;
    sb_reset(&sb);
    if (tok_decode(t, v->v, v->n, skip, &sb, &e) < 0)
        return NULL;
    return sb.buf;
}

static void test_byte(void)
{
    Err e;
    Tokenizer *t = tok_load("byte", &e);
    CHECK(t && tok_vocab_size(t) == 264, "the byte tokenizer has 264 ids");
    CHECK(tok_bos(t) == 256 && tok_eos(t) == 257, "byte: BOS 256, EOS 257");
    CHECK(tok_token_id(t, "<|assistant|>") == 259 && tok_token_id(t, "<unk>") == 263, "byte: special ids by name");
    IntVec v = enc(t, "<|user|>\nhi\xff<|end|>", 1);
    const int32_t want[] = {258, 10, 104, 105, 255, 261};
    CHECK(ids_are(&v, want, 6), "byte: specials become their ids, other bytes are their values");
    CHECK_STR(dec(t, &v, 0), "<|user|>\nhi\xff<|end|>", "byte: decode gives the text back");
    CHECK_STR(dec(t, &v, 1), "\nhi\xff", "byte: skip_special drops the specials");
    intvec_release(&v);
    v = enc(t, "<s>", 0);
    CHECK(v.n == 3 && v.v[0] == '<', "byte: without allow_special, <s> is three bytes");
    int32_t badid = 264;
    StrBuf sb = SB_INIT;
    CHECK(tok_decode(t, &badid, 1, 0, &sb, &e) == -1 && strstr(e.msg, "out of range"),
          "decoding an id past the vocabulary fails with a message");
    sb_release(&sb);
    intvec_release(&v);
    CHECK(v.v == NULL && v.n == 0 && v.cap == 0, "intvec_release zeroes the vector");
    tok_free(t);
}

static void test_bytelevel(void)
{
    Err e;
    const char *json =
        "{\"added_tokens\": [{\"id\": 9, \"content\": \"<|x|>\", \"special\": true},"
        "                    {\"id\": 10, \"content\": \"<w>\", \"special\": false, \"lstrip\": true}],"
        " \"normalizer\": null,"
        " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},"
        " \"decoder\": {\"type\": \"ByteLevel\"},"
        " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"\\u0120\": 3, \"ab\": 4,"
        "            \"abc\": 5, \"\\u0120a\": 6, \"ca\": 7, \"\\u00c3\": 8, \"\\u00ef\": 11, \"\\u00bb\": 12,"
        "            \"\\u00bf\": 13, \"\\u00c2\": 14, \"\\u0127\": 15, \"\\u00e3\": 16, \"\\u0122\": 17},"
        "   \"merges\": [\"a b\", [\"ab\", \"c\"], \"\\u0120 a\"]}}";
    const char *p = write_file("bl.json", json, strlen(json));
    Tokenizer *t = tok_load(p, &e);
    CHECK(t != NULL, "a byte-level tokenizer.json with string and array merges loads");
    if (!t)
        return;
    CHECK(!strcmp(tok_kind(t), "bytelevel-bpe"), "ByteLevel pre-tokenizer makes a byte-level tokenizer");
    IntVec v = enc(t, "abc abc", 1);
    const int32_t w1[] = {5, 3, 5};
    CHECK(ids_are(&v, w1, 3), "merges apply by rank: \" abc\" -> \\u0120 + abc, not \\u0120a + b + c");
    CHECK_STR(dec(t, &v, 0), "abc abc", "byte-level decode maps \\u0120 back to a space");
    intvec_release(&v);
    v = enc(t, "ca", 1);
    const int32_t w2[] = {2, 0};
    CHECK(ids_are(&v, w2, 2), "without ignore_merges a vocab word is still built by merges");
    intvec_release(&v);
    v = enc(t, "a<|x|>b", 1);
    const int32_t w3[] = {0, 9, 1};
    CHECK(ids_are(&v, w3, 3), "a special added token is split out first");
    intvec_release(&v);
    v = enc(t, "a<|x|>b", 0);
    CHECK(v.n == 2 && v.v[0] == 0 && v.v[1] == 1, "with allow_special 0 a special token is plain text (here: bytes the vocab lacks)");
    intvec_release(&v);
    v = enc(t, "a  <w>b", 0);
    const int32_t w4[] = {0, 10, 1};
    CHECK(ids_are(&v, w4, 3), "a non-special added token is split even without allow_special; lstrip eats spaces");
    intvec_release(&v);
    /* lstrip takes Unicode White_Space, as HF's \s does: U+3000 and U+0085
     * (which JS's trim, and so transformers.js, keeps) go; U+FEFF (which JS
     * trims) stays (U+200B, white space to neither, is in strip.jsonl) */
    v = enc(t, "a\xe3\x80\x80\xc2\x85 <w>b", 0);
    CHECK(ids_are(&v, w4, 3), "lstrip eats U+3000 and U+0085 (Unicode White_Space)");
    intvec_release(&v);
    v = enc(t, "a\xe3\x80\x80\xc2\x85" "b", 0); /* the same bytes are visible without the token */
    const int32_t w6[] = {0, 16, 17, 17, 14, 15, 1};
    CHECK(ids_are(&v, w6, 7), "U+3000 and U+0085 have byte-level ids of their own in this vocabulary");
    intvec_release(&v);
    v = enc(t, "a\xef\xbb\xbf<w>b", 0);
    const int32_t w5[] = {0, 11, 12, 13, 10, 1};
    CHECK(ids_are(&v, w5, 6), "lstrip keeps U+FEFF (not White_Space; HF keeps it, JS trim would not)");
    intvec_release(&v);
    tok_free(t);

    /* the same with ignore_merges, and merges in array form only */
    const char *json2 =
        "{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
        "   {\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\p{L}+|\\\\s+\"}, \"behavior\": \"Isolated\"},"
        "   {\"type\": \"ByteLevel\", \"use_regex\": false}]},"
        " \"model\": {\"type\": \"BPE\", \"ignore_merges\": true, \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"ca\": 3,"
        "   \"ab\": 4, \"\\u00c3\": 5, \"\\u00a9\": 6, \"\\u00ef\": 7, \"\\u00bf\": 8, \"\\u00bd\": 9},"
        "   \"merges\": [[\"a\", \"b\"]]}}";
    p = write_file("bl2.json", json2, strlen(json2));
    t = tok_load(p, &e);
    CHECK(t != NULL, "a Sequence(Split, ByteLevel) tokenizer.json loads");
    if (!t)
        return;
    v = enc(t, "ca", 1);
    CHECK(v.n == 1 && v.v[0] == 3, "ignore_merges emits a pre-token that is a vocab entry whole");
    intvec_release(&v);
    v = enc(t, "\xff", 1);
    IntVec r = enc(t, "\xef\xbf\xbd", 1);
    CHECK(v.n == 3 && ids_are(&v, r.v, r.n), "an invalid byte is encoded as U+FFFD (as Node's TextDecoder reads it)");
    intvec_release(&v);
    intvec_release(&r);
    v = enc(t, "\xe2\x82", 1);
    CHECK(v.n == 3, "a truncated 3-byte sequence is one U+FFFD (maximal subpart)");
    intvec_release(&v);
    tok_free(t);
}

static void test_spm(void)
{
    Err e;
    const char *json =
        "{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true},"
        "   {\"id\": 1, \"content\": \"<s>\", \"special\": true}, {\"id\": 2, \"content\": \"</s>\", \"special\": true}],"
        " \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\\u2581\"},"
        "   {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\\u2581\"}]},"
        " \"pre_tokenizer\": null,"
        " \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"unk_token\": \"<unk>\", \"vocab\": {\"<unk>\": 0,"
        "   \"<s>\": 1, \"</s>\": 2, \"<0x0A>\": 3, \"<0xC3>\": 4, \"<0xA9>\": 5, \"\\u2581\": 6, \"h\": 7, \"i\": 8,"
        "   \"\\u2581h\": 9, \"\\u2581hi\": 10, \"hi\": 11},"
        "   \"merges\": [\"\\u2581 h\", \"h i\", \"\\u2581h i\"]}}";
    const char *p = write_file("spm.json", json, strlen(json));
    Tokenizer *t = tok_load(p, &e);
    CHECK(t != NULL, "a SentencePiece-style tokenizer.json loads");
    if (!t)
        return;
    CHECK(!strcmp(tok_kind(t), "sentencepiece-bpe"), "Prepend/Replace normalizer makes a sentencepiece kind");
    CHECK(tok_bos(t) == 1 && tok_eos(t) == 2, "BOS <s> and EOS </s> found without a tokenizer_config.json");
    IntVec v = enc(t, "hi\n\xc3\xa9 hi", 1);
    const int32_t w[] = {10, 3, 4, 5, 10};
    CHECK(ids_are(&v, w, 5), "\"\\u2581hi\" by rank, newline and e-acute by byte fallback");
    CHECK_STR(dec(t, &v, 0), "hi\n\xc3\xa9 hi", "decode drops the prepended \\u2581 and joins fallback bytes");
    intvec_release(&v);
    {
        /* streaming: decoding id by id with tok_decode_tail rebuilds the text */
        IntVec a = enc(t, "hi hi\nhi", 1);
        StrBuf sb = SB_INIT;
        Err e2;
        int okall = 1;
        for (size_t k = 0; k < a.n; k++)
            okall &= tok_decode_tail(t, a.v, k + 1, k, 0, &sb, &e2) == 0;
        CHECK(okall && !strcmp(sb.buf, "hi hi\nhi"), "tok_decode_tail id by id keeps word spaces");
        sb_release(&sb);
        intvec_release(&a);
    }
    v = enc(t, "hi</s>hi", 1);
    const int32_t w2[] = {10, 2, 10};
    CHECK(ids_are(&v, w2, 3), "each segment after a special token gets its own \\u2581");
    CHECK_STR(dec(t, &v, 0), "hi</s>hi", "and decode removes it again");
    intvec_release(&v);
    tok_free(t);

    /* A piece with "▁" after another character ("i▁") may join two words:
     * the text is then not cut into words before each "▁" (encode_spm) */
    const char *json3 =
        "{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\\u2581\"},"
        "   {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\\u2581\"}]},"
        " \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"<unk>\": 0, \"\\u2581\": 1, \"h\": 2,"
        "   \"i\": 3, \"i\\u2581\": 4, \"\\u2581h\": 5},"
        "   \"merges\": [\"i \\u2581\", \"\\u2581 h\"]}}";
    p = write_file("spm3.json", json3, strlen(json3));
    t = tok_load(p, &e);
    CHECK(t != NULL, "a SentencePiece vocabulary with a piece \"i\\u2581\" loads");
    if (!t)
        return;
    v = enc(t, "hi hi", 1);
    const int32_t w3[] = {5, 4, 2, 3};
    CHECK(ids_are(&v, w3, 4), "\"i \\u2581\" merges across the word boundary (rank 0) before \"\\u2581 h\"");
    intvec_release(&v);
    tok_free(t);
}

static void test_metaspace(void)
{
    Err e;
    const char *json =
        "{\"added_tokens\": [{\"id\": 2, \"content\": \"</s>\", \"special\": true}],"
        " \"normalizer\": null,"
        " \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\": \"first\","
        "   \"split\": false},"
        " \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"<unk>\": 0, \"<s>\": 1,"
        "   \"</s>\": 2, \"\\u2581\": 6, \"h\": 7, \"i\": 8, \"\\u2581h\": 9, \"\\u2581hi\": 10, \"hi\": 11},"
        "   \"merges\": [\"\\u2581 h\", \"h i\", \"\\u2581h i\"]}}";
    const char *p = write_file("meta.json", json, strlen(json));
    Tokenizer *t = tok_load(p, &e);
    CHECK(t != NULL, "a Metaspace (prepend_scheme first) tokenizer.json loads");
    if (!t)
        return;
    IntVec v = enc(t, "hi hi", 1);
    const int32_t w1[] = {10, 10};
    CHECK(ids_are(&v, w1, 2), "Metaspace prepends one \u2581 at the start");
    intvec_release(&v);
    v = enc(t, " hi", 1);
    const int32_t w2[] = {10};
    CHECK(ids_are(&v, w2, 1), "Metaspace adds no \u2581 before a text that starts with a space (as HF)");
    intvec_release(&v);
    v = enc(t, "hi</s>hi", 1);
    const int32_t w3[] = {10, 2, 11};
    CHECK(ids_are(&v, w3, 3), "prepend_scheme first: nothing prepended after a special token");
    intvec_release(&v);
    v = enc(t, "hi</s> hi", 1);
    CHECK_STR(dec(t, &v, 0), "hi</s> hi", "prepend_scheme first: decode keeps a real space after a special token");
    intvec_release(&v);
    tok_free(t);
}

static void put_tok(StrBuf *sb, float score, const char *s)
{
    int32_t len = (int32_t)strlen(s);
    sb_add(sb, &score, 4);
    sb_add(sb, &len, 4);
    sb_add(sb, s, (size_t)len);
}

static void test_llama2c(void)
{
    Err e;
    StrBuf sb = SB_INIT;
    int32_t maxlen = 8;
    sb_add(&sb, &maxlen, 4);
    put_tok(&sb, 0, "<unk>");
    put_tok(&sb, 0, "\n<s>\n");
    put_tok(&sb, 0, "\n</s>\n");
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        put_tok(&sb, 0, hex);
    }
    put_tok(&sb, -5, " ");   /* 259 */
    put_tok(&sb, -5, "h");   /* 260 */
    put_tok(&sb, -5, "i");   /* 261 */
    put_tok(&sb, -1, " h");  /* 262 */
    put_tok(&sb, -0.5f, "hi"); /* 263: higher score than " h", so it merges first */
    put_tok(&sb, -0.1f, " hi"); /* 264 */
    const char *p = write_file("tok.bin", sb.buf, sb.len);
    Tokenizer *t = tok_load(p, &e);
    CHECK(t != NULL, "a llama2.c tokenizer.bin loads");
    if (t) {
        CHECK(tok_vocab_size(t) == 265 && tok_bos(t) == 1 && tok_eos(t) == 2, "tokenizer.bin: 265 tokens, BOS 1, EOS 2");
        IntVec v = enc(t, "hi", 0);
        CHECK(v.n == 1 && v.v[0] == 264, "the best-score pair merges first (\"hi\" before \" h\"), then \" hi\"");
        CHECK_STR(dec(t, &v, 0), "hi", "decode drops the dummy-prefix space at the start");
        intvec_release(&v);
        v = enc(t, "h\xc3\xa9", 0);
        const int32_t w[] = {262, 0xC3 + 3, 0xA9 + 3};
        CHECK(ids_are(&v, w, 3), "a code point missing from the vocab falls back to byte ids (byte + 3)");
        CHECK_STR(dec(t, &v, 0), "h\xc3\xa9", "byte-fallback ids decode to their bytes");
        intvec_release(&v);
        tok_free(t);
    }
    sb_setlen(&sb, sb.len - 3);
    p = write_file("trunc.bin", sb.buf, sb.len);
    t = tok_load(p, &e);
    CHECK(t == NULL && strstr(e.msg, "bad token length") != NULL, "a truncated tokenizer.bin is refused: %s", e.msg);
    sb_release(&sb);
}

/* lib/tok_nfc.c (internal to the tokenizer) */
int tok_nfc(const char *s, size_t n, StrBuf *out);

static const char *nfc(const char *s)
{
    static StrBuf sb = SB_INIT;
    sb_reset(&sb);
    tok_nfc(s, strlen(s), &sb);
    return sb.buf;
}

static void test_nfc(void)
{
    CHECK_STR(nfc("plain ASCII and caf\u00e9"), "plain ASCII and caf\u00e9", "NFC leaves composed text alone");
    CHECK_STR(nfc("e\u0301"), "\u00e9", "NFC composes e + combining acute");
    CHECK_STR(nfc("\u1100\u1161\u11a8"), "\uac01", "NFC composes Hangul L V T by arithmetic");
    CHECK_STR(nfc("a\u0301\u0328"), "\u0105\u0301", "NFC reorders marks by combining class before composing");
    CHECK_STR(nfc("\u212b \u2126"), "\u00c5 \u03a9", "NFC maps singletons (Angstrom, Ohm)");
    CHECK_STR(nfc("\u0958"), "\u0915\u093c", "composition exclusions stay decomposed");
    CHECK_STR(nfc("\u0301a"), "\u0301a", "a leading combining mark does not compose with what follows");
    CHECK_STR(nfc("e\u0334\u0301"), "\u00e9\u0334", "a mark of another class does not block composition");
}

static void test_errors(void)
{
    Err e;
    const char *p = write_file("bad.json", "{\"model\": {", 11);
    CHECK(tok_load(p, &e) == NULL && strstr(e.msg, "malformed JSON"), "malformed tokenizer.json is reported");
    const char *m = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}";
    p = write_file("miss.json", m, strlen(m));
    CHECK(tok_load(p, &e) == NULL && strstr(e.msg, "missing from the vocab"), "a merge whose result is not in the vocab is refused");
    m = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b c\"]}}";
    p = write_file("m3.json", m, strlen(m));
    CHECK(tok_load(p, &e) == NULL && strstr(e.msg, "merge 0"), "a merge of three parts is refused");
    CHECK(tok_load("/nonexistent/tok", &e) == NULL && e.file && !strcmp(e.file, "/nonexistent/tok"),
          "a missing path is reported with that path");
    CHECK(tok_load(dir, &e) == NULL && strstr(e.msg, "no tokenizer.json"), "a folder without a tokenizer is reported");
}

/* A model directory saved for the byte tokenizer (config.json says
 * "miso_tokenizer": "byte") is a tokenizer path, so `miso-pack --tokenizer
 * MODEL_DIR` works for the tiny preset as for an HF model. */
static void test_model_dir_byte(void)
{
    char dir[] = "/tmp/miso-test-tokdir-XXXXXX";
    if (!mkdtemp(dir))
        return;
    char path[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"model_type\": \"llama\", \"miso_tokenizer\": \"byte\"}", f);
    fclose(f);
    Err err;
    Tokenizer *t = tok_load(dir, &err);
    CHECK(t && tok_vocab_size(t) == 264, "loads the byte tokenizer from a model directory whose config.json names it");
    tok_free(t);
    f = fopen(path, "w");
    fputs("{\"model_type\": \"llama\"}", f);
    fclose(f);
    t = tok_load(dir, &err);
    CHECK(!t && strstr(err.msg, "no tokenizer.json"), "refuses a model directory without a tokenizer: %s", t ? "" : err.msg);
    tok_free(t);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/miso-tok-test.%d", (int)getpid());
    char cmd[128];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    if (system(cmd) != 0)
        return 1;
    test_byte();
    test_bytelevel();
    test_spm();
    test_metaspace();
    test_llama2c();
    test_nfc();
    test_errors();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    test_model_dir_byte();
    return TEST_REPORT();
}
