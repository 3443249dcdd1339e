/*
 * openai.h - a client for OpenAI-compatible chat-completions servers (vLLM,
 * llama.cpp's server, OpenAI ...) on libcurl's multi interface: several
 * requests in flight, retries with exponential backoff, Retry-After honoured.
 *
 * Protocol: POST {url}/chat/completions with
 *   {"model", "messages": [{"role", "content"}...], "temperature"?, "top_p"?,
 *    "max_tokens"?, "seed"?}
 * and the answer's choices[0].message.content is the result.  The base URL
 * may be given with or without the "/v1" suffix ("http://h:8000" and
 * "http://h:8000/v1" both mean http://h:8000/v1/chat/completions); a URL that
 * already ends in "/chat/completions" is used as it is.  A query string
 * ("?api-version=..." for Azure) stays at the end of the completed URL.
 *
 * Retry policy (per request): curl failures that can be transient (connect
 * failures, timeouts, dropped connections, empty replies), HTTP 429 and HTTP
 * 5xx are retried up to cfg.retries more times.  The wait before attempt
 * k+1 is the server's Retry-After (seconds or an HTTP date) when given,
 * else backoff_ms * 2^(k-1) plus up to 25% jitter (seeded, so reruns wait
 * the same); every wait is capped at max_wait_ms.  Other 4xx answers and
 * answers that are not valid chat-completions JSON fail at once (a server
 * that returns garbage will return it again); an answer carrying an "error"
 * object or no choice is retried even with status 200.
 *
 * Secrets: the API key is copied into the Authorization header only.  It is
 * never part of an error message, and curl's verbose mode is never enabled.
 *
 * Invariants: at most cfg.parallel transfers run at once; requests waiting
 * for a retry hold their slot (oai_active counts them).  Results come back
 * in completion order, each request exactly once.
 *
 * Ownership: OaiClient owns copies of the request bodies and all curl
 * handles; the config strings are copied by oai_new.  OaiResult owns its
 * content buffer: oai_result_release frees it.
 *
 * Errors: oai_new returns NULL with err on a bad configuration.  A request's
 * failure is reported in its OaiResult (ok = 0, error = message such as
 * "HTTP 500 after 3 attempts" or "malformed JSON answer: ...").
 *
 * Usage
 *   OaiConfig cfg; oai_config_default(&cfg); cfg.url = ...; cfg.model = ...;
 *   OaiClient *c = oai_new(&cfg, &err);
 *   while (more || oai_active(c)) {
 *       while (more && oai_active(c) < cfg.parallel) oai_submit(c, tag, roles, contents, n);
 *       OaiResult r = {0}; if (oai_wait(c, &r)) { ... r.content.buf ...; oai_result_release(&r); }
 *   }
 *   oai_free(c);
 */
#ifndef MISO_OPENAI_H
#define MISO_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct {
    const char *url;          /* base URL (see above) */
    const char *model;        /* "model" field */
    const char *api_key;      /* NULL or "" = no Authorization header */
    int parallel;             /* transfers in flight, >= 1 (default 4) */
    int retries;              /* extra attempts (default 5) */
    long timeout_ms;          /* whole attempt (default 600000) */
    long connect_timeout_ms;  /* connection setup (default 10000) */
    double temperature;       /* < 0: not sent (default -1) */
    double top_p;             /* < 0: not sent (default -1) */
    int max_tokens;           /* <= 0: not sent (default 0) */
    long long seed;           /* < 0: not sent (default -1) */
    double backoff_ms;        /* first backoff wait (default 1000) */
    double max_wait_ms;       /* cap on any single wait (default 120000) */
} OaiConfig;

typedef struct {
    uint64_t tag;             /* as submitted */
    int ok;
    StrBuf content;           /* the answer (ok) */
    int cut;                  /* finish_reason "length": cut at max_tokens */
    int attempts;
    long http_status;         /* last HTTP status, 0 if none */
    double waited_s;          /* seconds spent waiting between attempts */
    char error[512];          /* why it failed (!ok) */
} OaiResult;

typedef struct OaiClient OaiClient;

void oai_config_default(OaiConfig *c);
OaiClient *oai_new(const OaiConfig *cfg, Err *err);
void oai_free(OaiClient *c);

/* The full endpoint URL for a base URL (appended to out). */
void oai_endpoint(const char *base, StrBuf *out);

/* Queue one chat request of n messages (copied); it starts at once when a
 * transfer slot is free. */
void oai_submit(OaiClient *c, uint64_t tag, const char *const *roles, const char *const *contents, size_t n);
/* Requests submitted and not yet returned by oai_wait. */
size_t oai_active(const OaiClient *c);
/* Drive the transfers until one request has finished for good; fill *res
 * and return 1.  0 when nothing is active. */
int oai_wait(OaiClient *c, OaiResult *res);
void oai_result_release(OaiResult *r);

/* Parse a chat-completions answer body: the content of choices[0].message
 * appended to out.  Returns 0, or 1 when finish_reason is "length" (the
 * answer was cut at max_tokens; it is still an answer, empty when the
 * content is null, as from a reasoning model that used every token); a
 * content given as a list of parts gives its "text" parts joined; -1 with a short
 * reason in why for a body that is not a chat completion (not retried), -2
 * for an "error" object or an empty "choices" list (even with HTTP 200:
 * some proxies answer upstream failures so; retried like a 5xx) unless the
 * error blames the request (a 4xx "code" other than 429, or a "type" such
 * as "invalid_request_error"): then -1.  A
 * \u0000 in the content becomes U+FFFD (C strings cannot hold NUL); other
 * bytes are passed on as they are (miso-gen repairs invalid UTF-8). */
int oai_parse_answer(const char *body, size_t n, StrBuf *out, char *why, size_t why_size);

#endif
