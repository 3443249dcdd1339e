/* test_prompts.c - lib/prompts: the record shapes miso-gen reads, their
 * identities for resuming, and UTF-8 repair of model output. */
#include <string.h>

#include "prompts.h"
#include "testhelp.h"

static Prompt P;
static Err E;
static cJSON *REC;

static int rd(const char *json)
{
    cJSON_Delete(REC);
    REC = cJSON_Parse(json);
    return prompt_read(&P, REC, "in.jsonl", 3, &E);
}

static StrBuf ID = SB_INIT;

static const char *ident(void)
{
    sb_reset(&ID);
    prompt_ident(&P, &ID);
    return ID.buf;
}

int main(void)
{
    prompt_init(&P);
    CHECK(rd("{\"key\": 1000, \"prompt\": \"Write a poem.\", \"instruction_id_list\": []}") == 0 &&
              !strcmp(P.prompt, "Write a poem.") && P.n_inputs == 1 && P.n_msgs == 1 && !strcmp(P.roles[0], "user"),
          "reads an IFEval input_data record");
    CHECK_STR(ident(), "key=1000", "an IFEval prompt is identified by its key");
    CHECK(rd("{\"prompt\": \"x\", \"system\": \"S\"}") == 0 && P.n_msgs == 2 && !strcmp(P.roles[0], "system") &&
              !strcmp(P.system, "S"),
          "a system field becomes the system turn");
    CHECK_STR(ident(), "prompt=x", "without key or id the prompt text is the identity");
    CHECK(rd("{\"id\": \"m\", \"messages\": [{\"role\": \"system\", \"content\": \"sys\"}, {\"role\": \"user\", "
             "\"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, {\"role\": \"user\", \"content\": "
             "\"c\"}, {\"role\": \"assistant\", \"content\": \"ref\"}]}") == 0 &&
              P.n_msgs == 4 && !strcmp(P.prompt, "c") && !strcmp(P.system, "sys"),
          "a messages record is kept up to its last user turn");
    CHECK_STR(ident(), "id=\"m\"", "an id identifies a record without key");
    CHECK(rd("{\"mode\": \"succ\", \"inputs\": [\"Write \", \"a poem\"]}") == 0 && P.n_inputs == 1 &&
              !strcmp(P.prompt, "Write a poem"),
          "succ chunks are joined into one instruction");
    CHECK(rd("{\"mode\": \"para\", \"inputs\": [\"full\", \"c1\", \"c2\"]}") == 0 && P.n_inputs == 3 &&
              !strcmp(P.prompt, "full") && !strcmp(P.inputs[2], "c2"),
          "para inputs are kept for multi-input generation, the prompt is the first");
    CHECK(rd("{\"key\": 1}") < 0 && E.line == 3 && strstr(E.msg, "missing field 'prompt'"),
          "a record without a prompt is an error at its line");
    CHECK(rd("{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}]}") < 0 && strstr(E.msg, "no user turn"),
          "a conversation without a user turn is an error");
    CHECK(rd("{\"messages\": [{\"role\": \"bot\", \"content\": \"x\"}]}") < 0 && strstr(E.msg, "unknown role 'bot'"),
          "an unknown role is an error");

    cJSON *resp = cJSON_Parse("{\"key\": 1000, \"prompt\": \"Write a poem.\", \"response\": \"r\"}");
    StrBuf sb = SB_INIT;
    CHECK(prompt_ident_response(resp, &sb) == 0 && !strcmp(sb.buf, "key=1000"),
          "a written answer has the same identity as its prompt");
    cJSON_Delete(resp);
    resp = cJSON_Parse("{\"response\": \"r\"}");
    CHECK(prompt_ident_response(resp, &sb) < 0, "an answer without key or prompt has no identity");
    cJSON_Delete(resp);

    sb_reset(&sb);
    utf8_sanitize("a\xC3\xA9\xE2\x82", 5, &sb);
    CHECK_STR(sb.buf, "a\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD", "a cut multi-byte character becomes U+FFFD");
    sb_reset(&sb);
    utf8_sanitize("x\0y", 3, &sb);
    CHECK(sb.len == 5 && !memcmp(sb.buf, "x\xEF\xBF\xBDy", 5), "a NUL byte becomes U+FFFD");
    sb_release(&sb);
    cJSON_Delete(REC);
    sb_release(&ID);
    prompt_release(&P);
    return TEST_REPORT();
}
