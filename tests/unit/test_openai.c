/* test_openai.c - lib/openai without a network: endpoint URLs, parsing of
 * chat-completions answers, and a refused connection retried then reported
 * (the HTTP behaviour is tested against a real server in tests/sh/gen.sh). */
#include <string.h>

#include "openai.h"
#include "testhelp.h"

static void endpoint(const char *base, const char *want, const char *what)
{
    StrBuf sb = SB_INIT;
    oai_endpoint(base, &sb);
    CHECK_STR(sb.buf, want, "%s", what);
    sb_release(&sb);
}

int main(void)
{
    endpoint("http://h:8000", "http://h:8000/v1/chat/completions", "adds /v1/chat/completions to a bare URL");
    endpoint("http://h:8000/v1", "http://h:8000/v1/chat/completions", "accepts a URL ending in /v1");
    endpoint("http://h:8000/v1/", "http://h:8000/v1/chat/completions", "ignores trailing slashes");
    endpoint("https://x/api/chat/completions", "https://x/api/chat/completions", "keeps a full endpoint URL");
    endpoint("https://r.example/openai/deployments/d/chat/completions?api-version=2024-02-01",
             "https://r.example/openai/deployments/d/chat/completions?api-version=2024-02-01",
             "keeps the query of a full endpoint URL (Azure's api-version)");
    endpoint("http://h:8000/v1/?x=1", "http://h:8000/v1/chat/completions?x=1", "completes the path before a query");
    endpoint("http://h:8000//", "http://h:8000/v1/chat/completions", "ignores several trailing slashes");

    StrBuf out = SB_INIT;
    char why[256];
    const char *good = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hé\\n\"}}]}";
    CHECK(oai_parse_answer(good, strlen(good), &out, why, sizeof why) == 0 && !strcmp(out.buf, "Hé\n"),
          "takes choices[0].message.content");
    const char *trunc = "{\"choices\":[{\"message\":{\"content\":\"abc";
    CHECK(oai_parse_answer(trunc, strlen(trunc), &out, why, sizeof why) < 0 &&
              !strncmp(why, "malformed JSON answer: '{\"choices\"", 34),
          "a truncated body is malformed JSON, with an excerpt");
    const char *nochoice = "{\"id\":\"x\"}";
    CHECK(oai_parse_answer(nochoice, strlen(nochoice), &out, why, sizeof why) < 0 && strstr(why, "no 'choices'"),
          "an answer without choices is reported");
    const char *nullc = "{\"choices\":[{\"message\":{\"content\":null}}]}";
    CHECK(oai_parse_answer(nullc, strlen(nullc), &out, why, sizeof why) < 0 && strstr(why, "content"),
          "a null content is reported");
    const char *err = "{\"error\":{\"message\":\"model not found\"}}";
    CHECK(oai_parse_answer(err, strlen(err), &out, why, sizeof why) < 0 && !strcmp(why, "server error: model not found"),
          "an error object gives the server's message");
    CHECK(oai_parse_answer(err, strlen(err), &out, why, sizeof why) == -2, "an error object is worth a retry (-2)");
    const char *e404 = "{\"error\":{\"message\":\"no such model\",\"code\":404}}";
    const char *einv = "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\",\"code\":null}}";
    const char *e429 = "{\"error\":{\"message\":\"slow down\",\"code\":\"429\"}}";
    CHECK(oai_parse_answer(e404, strlen(e404), &out, why, sizeof why) == -1 &&
              oai_parse_answer(einv, strlen(einv), &out, why, sizeof why) == -1 &&
              oai_parse_answer(e429, strlen(e429), &out, why, sizeof why) == -2,
          "an error blaming the request (code 404, invalid_request_error) is final; code 429 is retried");
    const char *empty = "{\"choices\":[]}";
    CHECK(oai_parse_answer(empty, strlen(empty), &out, why, sizeof why) == -2 && strstr(why, "empty 'choices'"),
          "an empty choices list is reported as such and is worth a retry");
    const char *len = "{\"choices\":[{\"finish_reason\":\"length\",\"message\":{\"content\":\"cut\"}}]}";
    sb_reset(&out);
    CHECK(oai_parse_answer(len, strlen(len), &out, why, sizeof why) == 1 && !strcmp(out.buf, "cut"),
          "finish_reason length is an answer flagged as cut (1)");
    const char *lennull = "{\"choices\":[{\"finish_reason\":\"length\",\"message\":{\"content\":null,"
                          "\"reasoning_content\":\"hmm\"}}]}";
    sb_reset(&out);
    CHECK(oai_parse_answer(lennull, strlen(lennull), &out, why, sizeof why) == 1 && out.len == 0,
          "a null content cut by the length limit is an empty, cut answer");
    const char *parts = "{\"choices\":[{\"message\":{\"content\":[{\"type\":\"thinking\",\"thinking\":\"x\"},"
                        "{\"type\":\"text\",\"text\":\"Hel\"},{\"type\":\"text\",\"text\":\"lo\"}]}}]}";
    sb_reset(&out);
    CHECK(oai_parse_answer(parts, strlen(parts), &out, why, sizeof why) == 0 && !strcmp(out.buf, "Hello"),
          "a content list of parts gives its text parts joined");
    const char *badparts = "{\"choices\":[{\"message\":{\"content\":[1, 2]}}]}";
    CHECK(oai_parse_answer(badparts, strlen(badparts), &out, why, sizeof why) == -1 && strstr(why, "content"),
          "a content list without text parts is malformed");
    const char *nul = "{\"choices\":[{\"message\":{\"content\":\"a\\u0000b\\\\u0000c\"}}]}";
    sb_reset(&out);
    CHECK(oai_parse_answer(nul, strlen(nul), &out, why, sizeof why) == 0 && !strcmp(out.buf, "a\xef\xbf\xbd" "b\\u0000c"),
          "\\u0000 becomes U+FFFD, an escaped backslash before u0000 stays text");
    const char *bin = "\x01\x02garbage";
    CHECK(oai_parse_answer(bin, strlen(bin), &out, why, sizeof why) < 0 && !strchr(why, '\x01'),
          "the excerpt of a binary answer is printable");
    sb_release(&out);

    OaiConfig cfg;
    Err e;
    oai_config_default(&cfg);
    cfg.url = "ftp://x";
    CHECK(oai_new(&cfg, &e) == NULL && strstr(e.msg, "http://"), "rejects a URL that is not http(s)");
    cfg.url = "http://127.0.0.1:9"; /* discard port: nothing listens */
    cfg.model = "m";
    cfg.api_key = "sk-unit-SECRET";
    cfg.retries = 2;
    cfg.backoff_ms = 20;
    cfg.connect_timeout_ms = 1000;
    OaiClient *c = oai_new(&cfg, &e);
    CHECK(c != NULL, "creates a client");
    if (c) {
        const char *roles[] = {"user"}, *contents[] = {"hi"};
        oai_submit(c, 42, roles, contents, 1);
        CHECK(oai_active(c) == 1, "a submitted request is active");
        OaiResult r;
        int got = oai_wait(c, &r);
        CHECK(got == 1 && r.tag == 42 && !r.ok && r.attempts == 3 && strstr(r.error, "gave up after 3 attempts"),
              "a refused connection is retried, then reported with the attempts");
        CHECK(got == 1 && !strstr(r.error, "SECRET"), "the error does not contain the key");
        CHECK(got == 1 && r.waited_s >= 0.06 && r.waited_s < 0.2, "backoff doubles from the first wait (%.3f s)",
              r.waited_s);
        if (got)
            oai_result_release(&r);
        CHECK(oai_active(c) == 0 && oai_wait(c, &r) == 0, "nothing is left afterwards");
        oai_free(c);
    }
    return TEST_REPORT();
}
