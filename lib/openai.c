/*
 * openai.c - chat-completions client on curl multi (policy in openai.h).
 *
 * Design: one curl multi handle; each request owns an easy handle while an
 * attempt runs and is otherwise a body waiting for its start time.  oai_wait
 * is a small event loop: start every request whose time has come, let curl
 * move bytes, collect finished transfers, and sleep in curl_multi_poll until
 * a socket is ready or the next retry is due.  Connections are reused across
 * requests through the multi handle's connection cache, which matters for
 * HTTPS endpoints (one TLS handshake per connection instead of per prompt).
 *
 * Workload: evaluation runs send hundreds to thousands of prompts whose
 * answers take seconds each; the client's own cost is negligible next to
 * that, so the code favours clarity (linear scans of at most `parallel`
 * requests) over data structures.
 */
#include "openai.h"

#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "rng.h"

enum { REQ_WAIT, REQ_RUN, REQ_DONE };

typedef struct {
    uint64_t tag;
    char *body;
    CURL *h;
    StrBuf resp;
    double retry_after;     /* seconds from the last answer's Retry-After, < 0 none */
    double start_at;        /* util_now() time of the next attempt */
    int state;
    OaiResult res;
    char curl_err[CURL_ERROR_SIZE];
} Req;

struct OaiClient {
    OaiConfig cfg;
    char *url, *model;
    struct curl_slist *headers;   /* holds the Authorization header */
    CURLM *multi;
    Req **reqs;
    size_t n, cap;
    int running;
    Rng rng;
};

void oai_config_default(OaiConfig *c)
{
    memset(c, 0, sizeof *c);
    c->parallel = 4;
    c->retries = 5;
    c->timeout_ms = 600000;
    c->connect_timeout_ms = 10000;
    c->temperature = -1;
    c->top_p = -1;
    c->seed = -1;
    c->backoff_ms = 1000;
    c->max_wait_ms = 120000;
}

void oai_endpoint(const char *base, StrBuf *out)
{
    /* the path is completed; a query (Azure's ?api-version=...) or fragment
     * stays at the end */
    const char *q = base + strcspn(base, "?#");
    size_t n = (size_t)(q - base);
    while (n && base[n - 1] == '/')
        n--;
    static const char CC[] = "/chat/completions";
    size_t cl = sizeof CC - 1;
    sb_add(out, base, n);
    if (!(n >= cl && !memcmp(base + n - cl, CC, cl))) {
        if (!(n >= 3 && !memcmp(base + n - 3, "/v1", 3)))
            sb_adds(out, "/v1");
        sb_adds(out, CC);
    }
    sb_adds(out, q);
}

OaiClient *oai_new(const OaiConfig *cfg, Err *err)
{
    static int inited;
    if (!cfg->url || !*cfg->url)
        return err_set(err, NULL, 0, "no server URL"), NULL;
    if (strncmp(cfg->url, "http://", 7) && strncmp(cfg->url, "https://", 8))
        return err_set(err, NULL, 0, "server URL '%s' must start with http:// or https://", cfg->url), NULL;
    if (!inited) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return err_set(err, NULL, 0, "cannot initialise libcurl"), NULL;
        inited = 1;
    }
    OaiClient *c = xcalloc(1, sizeof *c);
    c->cfg = *cfg;
    if (c->cfg.parallel < 1)
        c->cfg.parallel = 1;
    StrBuf u = SB_INIT;
    oai_endpoint(cfg->url, &u);
    c->url = sb_detach(&u, NULL);
    c->model = xstrdup(cfg->model ? cfg->model : "");
    c->cfg.url = c->url;
    c->cfg.model = c->model;
    c->cfg.api_key = NULL; /* kept only inside the header list */
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    c->headers = curl_slist_append(c->headers, "Expect:");
    if (cfg->api_key && *cfg->api_key) {
        StrBuf h = SB_INIT;
        sb_addf(&h, "Authorization: Bearer %s", cfg->api_key);
        c->headers = curl_slist_append(c->headers, h.buf);
        memset(h.buf, 0, h.len);
        sb_release(&h);
    }
    c->multi = curl_multi_init();
    if (!c->headers || !c->multi) {
        oai_free(c);
        return err_set(err, NULL, 0, "cannot initialise libcurl"), NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->cfg.parallel);
    rng_seed(&c->rng, MISO_DEFAULT_SEED);
    return c;
}

static void req_free(OaiClient *c, Req *r)
{
    if (r->h) {
        curl_multi_remove_handle(c->multi, r->h);
        curl_easy_cleanup(r->h);
    }
    free(r->body);
    sb_release(&r->resp);
    oai_result_release(&r->res);
    free(r);
}

void oai_free(OaiClient *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        req_free(c, c->reqs[i]);
    free(c->reqs);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->headers) {
        for (struct curl_slist *s = c->headers; s; s = s->next) /* wipe the key */
            memset(s->data, 0, strlen(s->data));
        curl_slist_free_all(c->headers);
    }
    free(c->url);
    free(c->model);
    free(c);
}

void oai_result_release(OaiResult *r) { sb_release(&r->content); }

size_t oai_active(const OaiClient *c) { return c->n; }

/* ---------------------------------------------------------------- requests */

void oai_submit(OaiClient *c, uint64_t tag, const char *const *roles, const char *const *contents, size_t n)
{
    cJSON *o = cJSON_CreateObject(), *msgs = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "model", c->model);
    for (size_t i = 0; i < n; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", roles[i]);
        cJSON_AddStringToObject(m, "content", contents[i]);
        cJSON_AddItemToArray(msgs, m);
    }
    cJSON_AddItemToObject(o, "messages", msgs);
    if (c->cfg.temperature >= 0)
        cJSON_AddNumberToObject(o, "temperature", c->cfg.temperature);
    if (c->cfg.top_p >= 0)
        cJSON_AddNumberToObject(o, "top_p", c->cfg.top_p);
    if (c->cfg.max_tokens > 0)
        cJSON_AddNumberToObject(o, "max_tokens", c->cfg.max_tokens);
    if (c->cfg.seed >= 0)
        cJSON_AddNumberToObject(o, "seed", (double)c->cfg.seed);
    Req *r = xcalloc(1, sizeof *r);
    r->tag = tag;
    r->body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!r->body)
        die("out of memory");
    sb_init(&r->resp);
    sb_init(&r->res.content);
    r->res.tag = tag;
    r->state = REQ_WAIT;
    r->start_at = 0;
    r->retry_after = -1;
    c->reqs = grow_array(c->reqs, &c->cap, c->n + 1, sizeof *c->reqs);
    c->reqs[c->n++] = r;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sb_add(ud, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    Req *r = ud;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(p, "retry-after:", 12)) {
        char v[128];
        size_t k = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, p + 12, k);
        v[k] = 0;
        char *s = v, *end;
        while (*s == ' ' || *s == '\t')
            s++;
        for (char *e = s + strlen(s); e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '); e--)
            e[-1] = 0;
        double secs = strtod(s, &end);
        if (end != s && !*end && secs >= 0)
            r->retry_after = secs;
        else {
            time_t t = curl_getdate(s, NULL);
            if (t != -1)
                r->retry_after = t > time(NULL) ? (double)(t - time(NULL)) : 0;
        }
    }
    return len;
}

static void start(OaiClient *c, Req *r)
{
    r->h = curl_easy_init();
    if (!r->h)
        die("cannot initialise libcurl");
    sb_reset(&r->resp);
    r->retry_after = -1;
    r->curl_err[0] = 0;
    r->res.attempts++;
    curl_easy_setopt(r->h, CURLOPT_URL, c->url);
    curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->h, CURLOPT_WRITEDATA, &r->resp);
    curl_easy_setopt(r->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->h, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(r->h, CURLOPT_TIMEOUT_MS, c->cfg.timeout_ms);
    curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms);
    curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->h, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->h, CURLOPT_USERAGENT, "miso-gen/" MISO_VERSION);
    curl_easy_setopt(r->h, CURLOPT_ACCEPT_ENCODING, "");
    curl_multi_add_handle(c->multi, r->h);
    r->state = REQ_RUN;
}

/* A short printable excerpt of a body for error messages. */
static void excerpt(const char *s, size_t n, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < size && i < 80; i++)
        out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n > 80 && k + 4 < size)
        out[k++] = '.', out[k++] = '.', out[k++] = '.';
    out[k] = 0;
}

int oai_parse_answer(const char *body, size_t n, StrBuf *out, char *why, size_t why_size)
{
    /* \u0000 would cut the C string cJSON hands back: it becomes U+FFFD
     * (the same length, "\uFFFD").  Every backslash in valid JSON starts an
     * escape, so a scan that skips the escaped character finds them all. */
    char *copy = NULL;
    for (size_t i = 0; i + 1 < n; i++) {
        if (body[i] != '\\')
            continue;
        if (body[i + 1] == 'u' && i + 6 <= n && !memcmp(body + i + 2, "0000", 4)) {
            if (!copy) {
                copy = xmalloc(n);
                memcpy(copy, body, n);
            }
            memcpy(copy + i + 2, "FFFD", 4);
        }
        i++;
    }
    cJSON *o = cJSON_ParseWithLength(copy ? copy : body, n);
    free(copy);
    char ex[100];
    int rc = -1;
    if (!o) {
        excerpt(body, n, ex, sizeof ex);
        snprintf(why, why_size, "malformed JSON answer: '%s'", ex);
        return -1;
    }
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "choices");
    const cJSON *c0 = cJSON_IsArray(ch) ? cJSON_GetArrayItem(ch, 0) : NULL;
    const cJSON *msg = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;
    const cJSON *content = msg ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;
    const cJSON *fr = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "finish_reason") : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    int cut = cJSON_IsString(fr) && !strcmp(fr->valuestring, "length");
    int parts = cJSON_IsArray(content) && cJSON_GetArraySize(content) > 0;
    for (const cJSON *pt = parts ? content->child : NULL; pt; pt = pt->next) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(pt, "type");
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(pt, "text");
        if (!cJSON_IsString(tx) || (cJSON_IsString(ty) && strcmp(ty->valuestring, "text")))
            parts = parts && cJSON_IsString(ty); /* other typed parts (reasoning...) are skipped */
    }
    if (cJSON_IsString(content)) {
        sb_adds(out, content->valuestring);
        rc = cut;
    } else if (parts) { /* content as a list of parts: the text parts, in order */
        for (const cJSON *pt = content->child; pt; pt = pt->next) {
            const cJSON *ty = cJSON_GetObjectItemCaseSensitive(pt, "type");
            const cJSON *tx = cJSON_GetObjectItemCaseSensitive(pt, "text");
            if (cJSON_IsString(tx) && (!cJSON_IsString(ty) || !strcmp(ty->valuestring, "text")))
                sb_adds(out, tx->valuestring);
        }
        rc = cut;
    } else if (cut && msg && (!content || cJSON_IsNull(content))) {
        rc = 1; /* the limit was reached before any content (a reasoning model): an empty, cut answer */
    } else if (e && !cJSON_IsNull(e)) {
        const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
        snprintf(why, why_size, "server error: %s", cJSON_IsString(m) ? m->valuestring : "(no message)");
        /* worth a retry unless the error says the request itself is wrong
         * (a 4xx code other than 429, or an invalid-request type) */
        const cJSON *code = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "code") : NULL;
        const cJSON *type = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "type") : NULL;
        double cv = cJSON_IsNumber(code) ? code->valuedouble
                    : cJSON_IsString(code) ? strtod(code->valuestring, NULL) : 0;
        int bad_request = (cv >= 400 && cv < 500 && cv != 429) ||
                          (cJSON_IsString(type) && (!strcmp(type->valuestring, "invalid_request_error") ||
                                                    !strcmp(type->valuestring, "authentication_error") ||
                                                    !strcmp(type->valuestring, "permission_error") ||
                                                    !strcmp(type->valuestring, "not_found_error")));
        rc = bad_request ? -1 : -2;
    } else if (cJSON_IsArray(ch) && !c0) {
        snprintf(why, why_size, "the server answered with an empty 'choices' list");
        rc = -2;
    } else if (!cJSON_IsObject(o) || !c0) {
        snprintf(why, why_size, "malformed JSON answer: no 'choices'");
    } else {
        snprintf(why, why_size, "malformed JSON answer: no string 'choices[0].message.content'");
    }
    cJSON_Delete(o);
    return rc;
}

static int retryable_curl(CURLcode code)
{
    switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_PEER_FAILED_VERIFICATION:
        return 0;
    default:
        return 1;
    }
}

static void finish(OaiClient *c, Req *r, CURLcode code)
{
    long status = 0;
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(c->multi, r->h);
    curl_easy_cleanup(r->h);
    r->h = NULL;
    r->res.http_status = status;
    char why[400];
    int retry = 0;
    if (code != CURLE_OK) {
        snprintf(why, sizeof why, "%s", r->curl_err[0] ? r->curl_err : curl_easy_strerror(code));
        retry = retryable_curl(code);
    } else if (status >= 200 && status < 300) {
        sb_reset(&r->res.content);
        int pr = oai_parse_answer(r->resp.buf, r->resp.len, &r->res.content, why, sizeof why);
        if (pr >= 0) {
            r->res.ok = 1;
            r->res.cut = pr == 1;
            r->state = REQ_DONE;
            return;
        }
        retry = pr == -2; /* an error object or no choice may pass next time */
    } else {
        char ex[100], tmp[200];
        StrBuf m = SB_INIT;
        if (oai_parse_answer(r->resp.buf, r->resp.len, &m, tmp, sizeof tmp) < 0 && !strncmp(tmp, "server error: ", 14))
            snprintf(ex, sizeof ex, "%.90s", tmp + 14);
        else
            excerpt(r->resp.buf, r->resp.len, ex, sizeof ex);
        sb_release(&m);
        snprintf(why, sizeof why, "HTTP %ld%s%s", status, ex[0] ? ": " : "", ex);
        retry = status == 429 || status >= 500;
    }
    if (retry && r->res.attempts <= c->cfg.retries) {
        double wait = r->retry_after >= 0 ? r->retry_after * 1000.0
                                          : c->cfg.backoff_ms * ldexp(1.0, r->res.attempts - 1) *
                                                (1.0 + 0.25 * rng_uniform(&c->rng));
        if (wait > c->cfg.max_wait_ms)
            wait = c->cfg.max_wait_ms;
        r->res.waited_s += wait / 1000.0;
        r->start_at = util_now() + wait / 1000.0;
        r->state = REQ_WAIT;
        return;
    }
    if (retry)
        snprintf(r->res.error, sizeof r->res.error, "%s (gave up after %d attempts)", why, r->res.attempts);
    else
        snprintf(r->res.error, sizeof r->res.error, "%s", why);
    r->res.ok = 0;
    r->state = REQ_DONE;
}

int oai_wait(OaiClient *c, OaiResult *res)
{
    for (;;) {
        if (!c->n)
            return 0;
        for (size_t i = 0; i < c->n; i++) {
            Req *r = c->reqs[i];
            if (r->state != REQ_DONE)
                continue;
            *res = r->res;
            sb_init(&r->res.content); /* ownership moved to the caller */
            req_free(c, r);
            memmove(c->reqs + i, c->reqs + i + 1, (c->n - i - 1) * sizeof *c->reqs);
            c->n--;
            return 1;
        }
        double now = util_now(), next = HUGE_VAL;
        for (size_t i = 0; i < c->n; i++) {
            Req *r = c->reqs[i];
            if (r->state != REQ_WAIT)
                continue;
            if (r->start_at <= now)
                start(c, r);
            else if (r->start_at < next)
                next = r->start_at;
        }
        curl_multi_perform(c->multi, &c->running);
        CURLMsg *m;
        int q, done = 0;
        while ((m = curl_multi_info_read(c->multi, &q))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            Req *r = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            finish(c, r, m->data.result);
            done = 1;
        }
        if (done)
            continue;
        int ms = 1000;
        if (next < HUGE_VAL) {
            double d = (next - util_now()) * 1000.0 + 1;
            ms = d < 0 ? 0 : d < ms ? (int)d : ms;
        }
        curl_multi_poll(c->multi, NULL, 0, ms, NULL);
    }
}
