/*
 * prompts.c - prompt records for miso-gen (shapes in prompts.h).  Everything
 * is borrowed from the cJSON record, so reading a prompt allocates only the
 * message arrays (reused record after record) and a joined succ instruction.
 */
#include "prompts.h"

#include <stdlib.h>
#include <string.h>

#include "jsonl.h"

void prompt_init(Prompt *p)
{
    memset(p, 0, sizeof *p);
    sb_init(&p->joined);
}

void prompt_release(Prompt *p)
{
    free(p->roles);
    free(p->contents);
    sb_release(&p->joined);
    prompt_init(p);
}

static void add_msg(Prompt *p, const char *role, const char *content)
{
    if (p->n_msgs == p->cap_msgs) {
        size_t c = p->cap_msgs;
        p->roles = grow_array(p->roles, &c, p->n_msgs + 1, sizeof *p->roles);
        p->contents = grow_array(p->contents, &p->cap_msgs, p->n_msgs + 1, sizeof *p->contents);
    }
    p->roles[p->n_msgs] = role;
    p->contents[p->n_msgs++] = content;
}

static int read_messages(Prompt *p, const cJSON *msgs, const char *path, long line, Err *err)
{
    if (!cJSON_IsArray(msgs))
        return err_set(err, path, line, "field 'messages' must be an array"), -1;
    size_t i = 0;
    for (const cJSON *m = msgs->child; m; m = m->next, i++) {
        const char *role = json_str(m, "role"), *content = json_str(m, "content");
        if (!role || !content)
            return err_set(err, path, line, "messages[%zu] needs string fields 'role' and 'content'", i), -1;
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))
            return err_set(err, path, line, "messages[%zu]: unknown role '%s'", i, role), -1;
        if (!strcmp(role, "system") && !p->system)
            p->system = content;
        add_msg(p, role, content);
    }
    while (p->n_msgs && strcmp(p->roles[p->n_msgs - 1], "user"))
        p->n_msgs--;
    if (!p->n_msgs)
        return err_set(err, path, line, "field 'messages' has no user turn"), -1;
    p->prompt = p->contents[p->n_msgs - 1];
    p->inputs[0] = p->prompt;
    p->n_inputs = 1;
    return 0;
}

static int read_inputs(Prompt *p, const cJSON *rec, const cJSON *inputs, const char *path, long line, Err *err)
{
    if (!cJSON_IsArray(inputs) || !inputs->child)
        return err_set(err, path, line, "field 'inputs' must be a non-empty array of strings"), -1;
    int n = cJSON_GetArraySize(inputs);
    if (n > PROMPT_MAX_INPUTS)
        return err_set(err, path, line, "field 'inputs' has %d entries (at most %d)", n, PROMPT_MAX_INPUTS), -1;
    const char *mode = json_str(rec, "mode");
    int succ = mode && !strcmp(mode, "succ");
    size_t i = 0;
    for (const cJSON *e = inputs->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e))
            return err_set(err, path, line, "inputs[%zu] must be a string", i), -1;
        if (succ)
            sb_adds(&p->joined, e->valuestring);
        else
            p->inputs[p->n_inputs++] = e->valuestring;
    }
    if (succ) {
        p->inputs[0] = p->joined.buf;
        p->n_inputs = 1;
    }
    p->prompt = p->inputs[0];
    return 0;
}

int prompt_read(Prompt *p, const cJSON *rec, const char *path, long line, Err *err)
{
    p->key_name = NULL;
    p->key = NULL;
    p->prompt = p->system = NULL;
    p->n_inputs = p->n_msgs = 0;
    sb_reset(&p->joined);
    if (!cJSON_IsObject(rec))
        return err_set(err, path, line, "record is not an object"), -1;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(rec, "key")))
        p->key_name = "key", p->key = v;
    else if ((v = cJSON_GetObjectItemCaseSensitive(rec, "id")))
        p->key_name = "id", p->key = v;
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(rec, "system");
    if (sys && !cJSON_IsNull(sys) && !cJSON_IsString(sys))
        return err_set(err, path, line, "field 'system' must be a string"), -1;
    int rc;
    if ((v = cJSON_GetObjectItemCaseSensitive(rec, "messages")))
        rc = read_messages(p, v, path, line, err);
    else if ((v = cJSON_GetObjectItemCaseSensitive(rec, "inputs")))
        rc = read_inputs(p, rec, v, path, line, err);
    else if ((v = cJSON_GetObjectItemCaseSensitive(rec, "prompt"))) {
        if (!cJSON_IsString(v))
            return err_set(err, path, line, "field 'prompt' must be a string"), -1;
        p->prompt = p->inputs[0] = v->valuestring;
        p->n_inputs = 1;
        rc = 0;
    } else
        return err_set(err, path, line, "missing field 'prompt' (or 'messages' or 'inputs')"), -1;
    if (rc < 0)
        return -1;
    if (!p->system && cJSON_IsString(sys) && sys->valuestring[0])
        p->system = sys->valuestring;
    if (!p->n_msgs) { /* the conversation for a chat API */
        if (p->system)
            add_msg(p, "system", p->system);
        add_msg(p, "user", p->prompt);
    }
    return 0;
}

static void ident(const char *key_name, const cJSON *key, const char *prompt, StrBuf *out)
{
    if (key) {
        char *s = cJSON_PrintUnformatted(key);
        sb_addf(out, "%s=%s", key_name, s ? s : "");
        free(s);
    } else {
        sb_adds(out, "prompt=");
        sb_adds(out, prompt);
    }
}

void prompt_ident(const Prompt *p, StrBuf *out) { ident(p->key_name, p->key, p->prompt, out); }

int prompt_ident_response(const cJSON *rec, StrBuf *out)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(rec, "key");
    const char *name = "key";
    if (!k) {
        k = cJSON_GetObjectItemCaseSensitive(rec, "id");
        name = "id";
    }
    const char *prompt = json_str(rec, "prompt");
    if (!k && !prompt)
        return -1;
    ident(name, k, prompt, out);
    return 0;
}

void utf8_sanitize(const char *s, size_t n, StrBuf *out)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (k == 0 || cp == 0) { /* NUL would cut the JSON string */
            sb_adds(out, "\xEF\xBF\xBD");
            i++;
        } else {
            sb_add(out, s + i, k);
            i += k;
        }
    }
}
