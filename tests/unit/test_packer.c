/* test_packer.c - lib/packer: token layout, positions, loss masks, succ
 * splitting, truncation, pre-tokenised records and errors, with the built-in
 * byte tokenizer (ids are bytes, so expected ids are written by hand). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "packer.h"
#include "testhelp.h"
#include "tokenizer.h"

enum { BOS = 256, USR = 258, AST = 259, SYS = 260, END = 261 };

static Packer *P;
static Err E;

static int pack(const char *json, PackSample *s)
{
    cJSON *rec = cJSON_Parse(json);
    if (!rec) {
        printf("bad test json: %s\n", json);
        return -9;
    }
    int rc = packer_next(P, rec, "t.jsonl", 7, s, &E);
    cJSON_Delete(rec);
    return rc;
}

/* ids of the byte template's prompt for user text u (no system) */
static int prompt_ids(const char *u, int32_t *out)
{
    int n = 0;
    out[n++] = BOS;
    out[n++] = USR;
    out[n++] = '\n';
    for (const char *c = u; *c; c++)
        out[n++] = (unsigned char)*c;
    out[n++] = END;
    out[n++] = '\n';
    return n;
}

static int ids_eq(const int32_t *a, const int32_t *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int positions_from(const int32_t *pos, int n, int start)
{
    for (int i = 0; i < n; i++)
        if (pos[i] != start + i)
            return 0;
    return 1;
}

static int expect_error(const char *json, const char *needle, const char *what)
{
    PackSample s;
    int rc = pack(json, &s);
    int ok = rc < 0 && strstr(E.msg, needle) && E.line == 7 && E.file && !strcmp(E.file, "t.jsonl");
    CHECK(ok, "%s", what);
    if (!ok)
        printf("    rc %d, message '%s'\n", rc, rc < 0 ? E.msg : "");
    return ok;
}

int main(void)
{
    Err err;
    Tokenizer *tok = tok_load("byte", &err);
    CHECK(tok != NULL, "loads the byte tokenizer");
    if (!tok)
        return TEST_REPORT();
    P = packer_new(tok, CHAT_PLAIN, 0, 0);
    PackSample s;
    int32_t want[256];

    /* ---- sft: one input, ordinary SFT */
    CHECK(pack("{\"id\":\"s1\",\"mode\":\"sft\",\"inputs\":[\"Hi\"],\"output\":\"ok\"}", &s) == 1, "packs an sft record");
    int n = prompt_ids("Hi", want);
    CHECK(s.n_inputs == 1 && s.in_len[0] == n && ids_eq(s.in_ids[0], want, n),
          "sft input is <s><|user|>\\nHi<|end|>\\n as ids");
    int32_t out_want[] = {AST, '\n', 'o', 'k', END};
    uint8_t mask_want[] = {0, 0, 1, 1, 1};
    CHECK(s.out_len == 5 && ids_eq(s.out_ids, out_want, 5), "output is generation prompt + response + end of turn");
    CHECK(!memcmp(s.loss_mask, mask_want, 5), "loss only on the response and the end-of-turn token");
    CHECK(positions_from(s.in_pos[0], n, 0) && positions_from(s.out_pos, 5, n), "sft positions run 0.. end to end");
    CHECK(s.id_len == 2 && !memcmp(s.id, "s1", 2), "keeps the sample id");
    CHECK(packer_sample_len(&s) == n + 5, "sample length is the last output position + 1");

    /* ---- system turn */
    CHECK(pack("{\"inputs\":[\"Hi\"],\"system\":\"Be\",\"output\":\"ok\"}", &s) == 1 && s.mode == PACK_SFT,
          "a record without mode and one input is sft");
    int32_t sys_want[] = {BOS, SYS, '\n', 'B', 'e', END, '\n', USR, '\n', 'H', 'i', END, '\n'};
    CHECK(s.in_len[0] == 13 && ids_eq(s.in_ids[0], sys_want, 13), "the system turn is rendered before the user turn");

    /* ---- para */
    CHECK(pack("{\"id\":7,\"mode\":\"para\",\"inputs\":[\"Long one\",\"ab\",\"x\"],\"output\":\"yes\"}", &s) == 1,
          "packs a para record");
    int l0 = prompt_ids("Long one", want);
    CHECK(s.n_inputs == 3 && s.in_len[0] == l0 && s.in_len[1] == 7 && s.in_len[2] == 6, "para: three inputs rendered");
    CHECK(positions_from(s.in_pos[0], s.in_len[0], 0) && positions_from(s.in_pos[1], s.in_len[1], 0) &&
              positions_from(s.in_pos[2], s.in_len[2], 0),
          "para: every input counts positions from 0");
    CHECK(positions_from(s.out_pos, s.out_len, l0), "para: the output starts at max_i len_i");
    CHECK(s.id_len == 1 && s.id[0] == '7', "an integer id is kept as its digits");

    /* ---- succ: chunks concatenated == tokens of the one rendered prompt */
    CHECK(pack("{\"mode\":\"succ\",\"inputs\":[\"Write a \",\"poem\",\" in 3 lines.\"],\"output\":\"ok\"}", &s) == 1,
          "packs a succ record");
    int32_t cat[256];
    int nc = 0;
    for (int i = 0; i < s.n_inputs; i++)
        for (int t = 0; t < s.in_len[i]; t++)
            cat[nc++] = s.in_ids[i][t];
    n = prompt_ids("Write a poem in 3 lines.", want);
    CHECK(nc == n && ids_eq(cat, want, n), "succ: the chunks concatenated are the single rendered prompt's tokens");
    CHECK(s.in_len[0] == 3 + 8 && s.in_len[1] == 4 && s.in_len[2] == 12 + 2,
          "succ: cut at the chunk boundaries (prefix with chunk 1, suffix with the last)");
    int pos_ok = 1, expect = 0;
    for (int i = 0; i < s.n_inputs; i++)
        for (int t = 0; t < s.in_len[i]; t++)
            pos_ok &= s.in_pos[i][t] == expect++;
    CHECK(pos_ok && positions_from(s.out_pos, s.out_len, n), "succ: positions end to end, output after the last");

    /* ---- chat template that trims: llama3 text (byte tokenizer has no
     * special ids for it, but the layout must still hold) */
    Packer *q = packer_new(tok, CHAT_LLAMA3, 0, 0);
    cJSON *rec = cJSON_Parse("{\"mode\":\"succ\",\"inputs\":[\"  Say \",\"hi  \"],\"output\":\"ok\"}");
    int rc = packer_next(q, rec, "t", 1, &s, &E);
    cJSON_Delete(rec);
    StrBuf sb = SB_INIT;
    chat_render_prompt(CHAT_LLAMA3, tok, NULL, "  Say hi  ", &sb);
    IntVec whole = {0};
    tok_encode(tok, sb.buf, sb.len, 1, &whole);
    nc = 0;
    for (int i = 0; rc == 1 && i < s.n_inputs; i++)
        for (int t = 0; t < s.in_len[i]; t++)
            cat[nc++] = s.in_ids[i][t];
    CHECK(rc == 1 && (size_t)nc == whole.n && ids_eq(cat, whole.v, nc) && s.in_len[1] >= 2,
          "succ with a trimming template (llama3): chunks still concatenate to the whole prompt");
    intvec_release(&whole);
    sb_release(&sb);
    packer_free(q);

    /* ---- empty generation prompt (mistral): the last prompt token moves to the output */
    Packer *mi = packer_new(tok, CHAT_MISTRAL, 0, 0);
    rec = cJSON_Parse("{\"mode\":\"para\",\"inputs\":[\"Hi\",\"Yo!\"],\"output\":\"ok\"}");
    rc = packer_next(mi, rec, "t", 1, &s, &E);
    cJSON_Delete(rec);
    int32_t mo[] = {']', 'o', 'k', 257};
    uint8_t mm[] = {0, 1, 1, 1};
    CHECK(rc == 1 && s.out_len == 4 && ids_eq(s.out_ids, mo, 4) && !memcmp(s.loss_mask, mm, 4),
          "mistral: the shared last prompt token leads the output, so the first response token is supervised");
    CHECK(rc == 1 && s.in_len[1] == 18 && s.in_ids[1][17] == 'T' && positions_from(s.out_pos, 4, 18),
          "mistral: the moved token keeps the position it had in the longest input");
    packer_free(mi);

    /* ---- multi-turn messages */
    CHECK(pack("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"},"
               "{\"role\":\"user\",\"content\":\"c\"},{\"role\":\"assistant\",\"content\":\"d\"}]}",
               &s) == 1,
          "packs a multi-turn messages record");
    n = prompt_ids("a", want);
    int32_t mt_out[] = {AST, '\n', 'b', END, '\n', USR, '\n', 'c', END, '\n', AST, '\n', 'd', END};
    uint8_t mt_mask[] = {0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
    CHECK(s.in_len[0] == n && ids_eq(s.in_ids[0], want, n), "multi-turn: the input ends with the first user turn");
    CHECK(s.out_len == 14 && ids_eq(s.out_ids, mt_out, 14), "multi-turn: the output holds the rest of the dialogue");
    CHECK(s.out_len == 14 && !memcmp(s.loss_mask, mt_mask, 14),
          "multi-turn: loss on every assistant reply and its end of turn only");

    /* ---- pre-tokenised */
    CHECK(pack("{\"mode\":\"para\",\"input_ids\":[[1,2,3],[4,5]],\"output_ids\":[9,8,7],"
               "\"output_loss_mask\":[0,0,1],\"weights\":[0.25,0.75]}",
               &s) == 1,
          "packs a pre-tokenised para record");
    int32_t o3[] = {9, 8, 7};
    CHECK(s.in_len[0] == 3 && s.in_len[1] == 2 && ids_eq(s.out_ids, o3, 3) && s.loss_mask[2] == 1 &&
              s.loss_mask[1] == 0,
          "pre-tokenised ids and mask are taken as given");
    CHECK(positions_from(s.in_pos[1], 2, 0) && positions_from(s.out_pos, 3, 3), "pre-tokenised para positions");
    CHECK(s.weights && s.weights[0] == 0.25f && s.weights[1] == 0.75f, "keeps the weights");
    CHECK(pack("{\"mode\":\"succ\",\"input_ids\":[[1,2,3],[4,5]],\"output_ids\":[9,8]}", &s) == 1 &&
              positions_from(s.in_pos[1], 2, 3) && positions_from(s.out_pos, 2, 5) && s.loss_mask[0] == 0 &&
              s.loss_mask[1] == 1,
          "pre-tokenised succ: positions end to end; without a mask all but the first output token are targets");

    /* ---- JSONL export */
    FILE *f = tmpfile();
    StrBuf scratch = SB_INIT;
    pack("{\"id\":\"j\",\"mode\":\"para\",\"input_ids\":[[1,2],[3]],\"output_ids\":[4,5,6],"
         "\"output_loss_mask\":[0,1,1]}",
         &s);
    packer_write_jsonl(f, &s, &scratch);
    rewind(f);
    char line[1024] = "";
    CHECK(fgets(line, sizeof line, f) != NULL, "writes a JSONL line");
    CHECK_STR(line,
              "{\"id\":\"j\",\"mode\":\"para\",\"input_ids\":[1,2,3,4,5,6],\"position_ids\":[0,1,0,2,3,4],"
              "\"segment_ids\":[1,1,2,3,3,3],\"labels\":[-100,-100,-100,-100,5,6]}\n",
              "JSONL export: labels -100 where no loss, segments 1..n then the output");
    fclose(f);
    sb_release(&scratch);

    /* ---- the packed file round trip (what miso-train reads) */
    {
        char path[] = "/tmp/test_packer.XXXXXX";
        int fd = mkstemp(path);
        FILE *pf = fd >= 0 ? fdopen(fd, "wb") : NULL;
        PackWriter w;
        int wrote = pf && pack_writer_init(&w, pf, 264, &err) == 0 &&
                    pack("{\"id\":\"rt\",\"mode\":\"para\",\"inputs\":[\"ab\",\"c\"],\"output\":\"d\","
                         "\"weights\":[0.5,0.5]}", &s) == 1 &&
                    pack_write(&w, &s, &err) == 0;
        int32_t first_out = wrote ? s.out_ids[2] : -1;
        if (pf)
            fclose(pf);
        PackData d;
        PackSample r;
        int loaded = wrote && pack_load(&d, path, &err) == 0;
        if (loaded)
            pack_sample(&d, 0, &r);
        CHECK(loaded && d.n == 1 && r.mode == PACK_PARA && r.n_inputs == 2 && r.in_len[0] == 7 && r.out_len == 4 &&
                  r.out_ids[2] == first_out && r.out_pos[0] == 7 && r.loss_mask[2] == 1 && r.weights &&
                  r.weights[1] == 0.5f && r.id_len == 2 && !memcmp(r.id, "rt", 2),
              "a packed sample reads back with pack_load unchanged");
        if (loaded)
            pack_release(&d);
        unlink(path);
    }

    /* ---- truncation policy */
    packer_free(P);
    Packer *t = packer_new(tok, CHAT_PLAIN, 12, 0);
    P = t;
    CHECK(pack("{\"inputs\":[\"Hi\"],\"output\":\"okay\"}", &s) == 1, "an over-long sample is kept");
    CHECK(s.in_len[0] == 7 && s.out_len == 5 && packer_sample_len(&s) == 12,
          "--max-len cuts the end of the output, inputs stay whole");
    CHECK(packer_stats(t)->truncated == 1 && packer_stats(t)->truncated_tokens == 2, "counts the truncation");
    rc = pack("{\"inputs\":[\"Hello there\"],\"output\":\"okay\"}", &s);
    CHECK(rc == 0 && strstr(E.msg, "dropped") && packer_stats(t)->dropped == 1,
          "a sample whose inputs leave no supervised token is dropped, with a reason, and counted");
    CHECK(pack("{\"inputs\":[\"Hi\"],\"output\":\"o\"}", &s) == 1 && s.out_len == 4 && packer_stats(t)->truncated == 1,
          "a sample that fits is not truncated");
    packer_free(t);

    /* ---- errors */
    P = packer_new(tok, CHAT_PLAIN, 0, 0);
    expect_error("{\"mode\":\"sft\",\"inputs\":[\"a\"]}", "missing field 'output'", "rejects a record without output");
    expect_error("{\"mode\":\"sft\",\"output\":\"x\"}", "missing field 'inputs'", "rejects a record without inputs");
    expect_error("{\"inputs\":[\"a\"],\"output\":\"\"}", "field 'output' is empty", "rejects an empty output");
    expect_error("{\"inputs\":[\"a\",\"b\"],\"output\":\"x\"}", "missing field 'mode'",
                 "rejects several inputs without a mode");
    expect_error("{\"mode\":\"zip\",\"inputs\":[\"a\"],\"output\":\"x\"}", "unknown mode 'zip'", "rejects an unknown mode");
    expect_error("{\"mode\":\"sft\",\"inputs\":[\"a\",\"b\"],\"output\":\"x\"}", "sft record has 2 inputs",
                 "rejects an sft record with two inputs");
    expect_error("{\"input_ids\":[[1,300]],\"output_ids\":[1,2]}", "id 300 outside the vocabulary (264)",
                 "rejects an input id outside the vocabulary");
    expect_error("{\"input_ids\":[[1]],\"output_ids\":[1,264]}", "output_ids[1]: id 264 outside the vocabulary",
                 "rejects an output id outside the vocabulary");
    expect_error("{\"input_ids\":[[1]],\"output_ids\":[]}", "output_ids is empty", "rejects empty output_ids");
    expect_error("{\"input_ids\":[[1]],\"output_ids\":[1,2],\"output_loss_mask\":[1,1]}", "output_loss_mask[0] must be 0",
                 "rejects a loss mask on the first output token");
    expect_error("{\"input_ids\":[[1]],\"output_ids\":[1,2],\"output_loss_mask\":[0]}", "output_loss_mask",
                 "rejects a loss mask of the wrong length");
    expect_error("{\"mode\":\"para\",\"inputs\":[\"a\",\"b\"],\"output\":\"x\",\"weights\":[0.5,0.6]}", "sums to",
                 "rejects weights that do not sum to 1");
    expect_error("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", "no assistant turn",
                 "rejects a conversation without an assistant turn");
    packer_free(P);
    Packer *np = packer_new(NULL, CHAT_PLAIN, 0, 0);
    P = np;
    expect_error("{\"inputs\":[\"a\"],\"output\":\"x\"}", "no tokenizer", "rejects text records without a tokenizer");
    packer_free(np);
    tok_free(tok);
    return TEST_REPORT();
}
