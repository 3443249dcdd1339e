/* test_sample.c - reading instruction records of every shape and writing
 * samples (key order, escaping, pass-through, field errors). */
#include <string.h>

#include "sample.h"
#include "testhelp.h"

static const char *write_one(Sample *s, StrBuf *line)
{
    static char buf[4096];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    sample_write(f, s, line);
    fclose(f);
    return buf;
}

static int read_err(const char *json, const char *want)
{
    Conv c;
    conv_init(&c);
    cJSON *rec = cJSON_Parse(json);
    Err err;
    int rc = conv_read(&c, rec, NULL, "in.jsonl", 5, &err);
    int ok = rc < 0 && err.line == 5 && !strcmp(err.msg, want);
    if (!ok)
        printf("    got: %s\n", rc < 0 ? err.msg : "(no error)");
    cJSON_Delete(rec);
    conv_release(&c);
    return ok;
}

int main(void)
{
    Conv c;
    conv_init(&c);
    Sample s;
    sample_init(&s);
    StrBuf line = SB_INIT;
    Err err;
    cJSON *rec = cJSON_Parse("{\"id\":7,\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\","
                             "\"content\":\"a \\\"q\\\"\\n\\u0001é\"},{\"role\":\"assistant\",\"content\":\"A\"}],"
                             "\"score\":9.0,\"x\":{\"y\":[1,2.5,true,null]},\"meta\":{\"k\":1}}");
    CHECK(conv_read(&c, rec, NULL, "f", 1, &err) == 0 && c.nTurns == 3 && c.shape == CONV_MESSAGES, "reads messages");
    sample_clear(&s);
    sample_set_id(&s, rec, &c, NULL);
    s.mode = SAMPLE_SFT;
    s.rec = rec;
    s.consumed = c.consumed;
    s.nConsumed = c.nConsumed;
    const ConvTurn *u = &c.turns[conv_last_user(&c)];
    sample_add_input(&s, u->content, u->len);
    sb_adds(&s.output, "A");
    sb_adds(&s.system, "S");
    s.has_system = 1;
    sample_meta_str(&s, "source", "t", 1);
    CHECK_STR(write_one(&s, &line),
              "{\"id\":\"7\",\"mode\":\"sft\",\"inputs\":[\"a \\\"q\\\"\\n\\u0001é\"],\"output\":\"A\",\"system\":\"S\","
              "\"meta\":{\"source\":\"t\",\"orig_meta\":{\"k\":1}},\"score\":9,\"x\":{\"y\":[1,2.5,true,null]}}\n",
              "writes keys in contract order, escapes only what JSON needs, passes unknown fields through");
    cJSON_Delete(rec);

    rec = cJSON_Parse("{\"conversations\":[{\"from\":\"human\",\"value\":\"Q\"},{\"from\":\"gpt\",\"value\":\"A\"}]}");
    CHECK(conv_read(&c, rec, NULL, "f", 1, &err) == 0 && c.shape == CONV_SHAREGPT && !strcmp(c.turns[0].role, "user"),
          "maps ShareGPT human/gpt to user/assistant");
    sample_clear(&s);
    sample_set_id(&s, rec, &c, NULL);
    CHECK(s.id.len == 17 && s.id.buf[0] == 'h', "gives a record without id a content hash id");
    StrBuf id1 = SB_INIT;
    sb_adds(&id1, s.id.buf);
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"conversations\":[{\"from\":\"human\",\"value\":\"Q\"},{\"from\":\"gpt\",\"value\":\"A\"}],\"z\":1}");
    conv_read(&c, rec, NULL, "f", 9, &err);
    sample_set_id(&s, rec, &c, NULL);
    CHECK_STR(s.id.buf, id1.buf, "the hash id depends on the turns only, not on the line or other fields");
    sb_release(&id1);
    cJSON_Delete(rec);

    rec = cJSON_Parse("{\"instruction\":\"Do\",\"input\":\"this\",\"output\":\"ok\",\"history\":[[\"q\",\"a\"]]}");
    CHECK(conv_read(&c, rec, NULL, "f", 1, &err) == 0 && c.nTurns == 4 && !strcmp(c.turns[2].content, "Do\nthis") &&
              conv_history(&c) == 2,
          "reads Alpaca with input and history (instruction + \"\\n\" + input)");
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"input\":\"Q\",\"reasoning_content\":\"R\",\"content\":\"A\"}");
    CHECK(conv_read(&c, rec, NULL, "f", 1, &err) == 0 && !strcmp(c.turns[0].content, "Q\n<think>\nR\n</think>"),
          "joins DeepSeek-R1 input and reasoning with the default think template");
    CHECK(conv_read(&c, rec, "<{reasoning}|{input}>", "f", 1, &err) == 0 && !strcmp(c.turns[0].content, "<R|Q>"),
          "applies a given think template");
    cJSON_Delete(rec);

    CHECK(read_err("{\"messages\":{}}", "field 'messages' must be an array"), "reports messages that is not an array");
    CHECK(read_err("{\"instruction\":\"x\"}", "missing field 'output'"), "reports a missing output");
    CHECK(read_err("{\"instruction\":\"x\",\"output\":3}", "field 'output' must be a string"), "reports a mistyped output");
    CHECK(read_err("{\"messages\":[{\"role\":\"user\",\"content\":1}]}", "field 'messages[0].content' must be a string"),
          "reports a mistyped message content");
    CHECK(read_err("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}", "field 'messages' must end with an assistant turn"),
          "reports a conversation without an answer");
    CHECK(read_err("{\"conversations\":[{\"from\":\"robot\",\"value\":\"q\"}]}", "unknown role 'robot' in 'conversations[0]'"),
          "reports an unknown ShareGPT role");
    CHECK(read_err("{\"input\":\"q\",\"content\":\"a\"}", "missing field 'reasoning_content'"),
          "reports a DeepSeek-R1 record without reasoning_content");
    CHECK(read_err("{\"text\":\"q\"}", "unrecognised record: expected a field 'messages', 'conversations', 'instruction' or 'input'"),
          "reports an unrecognised record");

    /* oracle: every escaped string reads back equal through cJSON */
    int round = 1;
    const char *alpha[] = {"a", "\"", "\\", "\n", "\x01", "\x1f", "é", "日", " ", "z", "\t", "/"};
    unsigned st = 1;
    for (int it = 0; it < 2000 && round; it++) {
        StrBuf in = SB_INIT, js = SB_INIT;
        int len = (int)(st % 40);
        for (int i = 0; i < len; i++) {
            st = st * 1103515245u + 12345u;
            sb_adds(&in, alpha[(st >> 16) % 12]);
        }
        st = st * 1103515245u + 12345u;
        json_add_string(&js, in.buf, in.len);
        cJSON *v = cJSON_Parse(js.buf);
        round = cJSON_IsString(v) && !strcmp(v->valuestring, in.buf);
        cJSON_Delete(v);
        sb_release(&in);
        sb_release(&js);
    }
    CHECK(round, "2000 random strings with quotes, backslashes, control bytes and UTF-8 read back equal through cJSON");

    StrBuf r = SB_INIT;
    err_reason("malformed JSON at column 4", &r);
    CHECK_STR(r.buf, "malformed JSON", "reduces a message with a column to its reason");
    err_reason("missing field 'output'", &r);
    CHECK_STR(r.buf, "missing field 'output'", "keeps a field message whole as its reason");
    err_reason("cannot take the constraints apart: constraints joined by spaces cannot be separated", &r);
    CHECK_STR(r.buf, "cannot take the constraints apart: constraints joined by spaces cannot be separated",
              "keeps the why of a wrapper refusal in its reason");
    err_reason("truncated or corrupt gzip input: <fd:3>: unexpected end of file", &r);
    CHECK_STR(r.buf, "truncated or corrupt gzip input", "drops the system text of a gzip error");
    sb_release(&r);
    SkipCount k = {0};
    skip_add(&k, "empty line");
    skip_add(&k, "malformed JSON at column 3");
    skip_add(&k, "malformed JSON at column 9");
    CHECK(k.total == 3 && k.n == 2 && k.counts[1] == 2, "counts skipped records per reason");
    skip_release(&k);

    sb_release(&line);
    sample_release(&s);
    conv_release(&c);
    return TEST_REPORT();
}
