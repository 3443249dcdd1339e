/*
 * jsonl.c - JSONL reading and writing.
 *
 * Why a hand-rolled line splitter instead of gzgets: gzgets copies byte by
 * byte until '\n' and cannot tell a long line from a truncated one cheaply.
 * We gzread 1 MiB blocks and find line ends with memchr, which keeps the
 * reader far below cJSON's parse time (the cost that dominates).
 */
#include "jsonl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK ((size_t)1 << 20)

int jsonl_open(JsonlReader *r, const char *path, Err *err)
{
    memset(r, 0, sizeof *r);
    r->max_line = JSONL_MAX_LINE_DEFAULT;
    r->next_line = 1;
    sb_init(&r->rec);
    int fd;
    if (!path || !strcmp(path, "-")) {
        r->path = "<stdin>";
        r->is_stdin = 1;
        fd = dup(0);
    } else {
        r->path = path;
        fd = open(path, O_RDONLY);
    }
    if (fd < 0) {
        err_set(err, NULL, 0, "cannot open '%s': %s", r->path, strerror(errno));
        return -1;
    }
    r->gz = gzdopen(fd, "rb");
    if (!r->gz) {
        close(fd);
        err_set(err, NULL, 0, "cannot open '%s': out of memory", r->path);
        return -1;
    }
    gzbuffer(r->gz, 256 * 1024);
    r->cap = BLOCK;
    r->buf = xmalloc(r->cap);
    return 0;
}

void jsonl_close(JsonlReader *r)
{
    if (r->gz)
        gzclose(r->gz);
    free(r->buf);
    free(r->array_text);
    sb_release(&r->rec);
    memset(r, 0, sizeof *r);
}

const char *jsonl_gz_error(gzFile gz, int *zerr)
{
    const char *m = gzerror(gz, zerr);
    if (m && !strncmp(m, "<fd:", 4)) {
        const char *p = strstr(m, ">: ");
        if (p)
            m = p + 3;
    }
    return m ? m : "unknown error";
}

/* Refill: move the unread tail to the front and read more.  Returns bytes
 * read, 0 at EOF, -1 on error. */
static int fill(JsonlReader *r, Err *err)
{
    if (r->eof)
        return 0;
    if (r->beg > 0) {
        memmove(r->buf, r->buf + r->beg, r->end - r->beg);
        r->end -= r->beg;
        r->beg = 0;
    }
    if (r->end == r->cap) {
        r->cap = size_mul(r->cap, 2);
        r->buf = xrealloc(r->buf, r->cap);
    }
    int n = gzread(r->gz, r->buf + r->end, (unsigned)(r->cap - r->end > BLOCK ? BLOCK : r->cap - r->end));
    if (n < 0) {
        int zerr;
        const char *msg = jsonl_gz_error(r->gz, &zerr);
        r->eof = 1;
        if (zerr == Z_ERRNO)
            msg = strerror(errno);
        err_set(err, r->path, r->next_line, "read error: %s", msg);
        return -1;
    }
    if (n == 0) {
        int zerr;
        const char *msg = jsonl_gz_error(r->gz, &zerr);
        r->eof = 1;
        if (zerr != Z_OK && zerr != Z_STREAM_END) {
            err_set(err, r->path, r->next_line, "truncated or corrupt gzip input: %s", msg);
            return -1;
        }
        return 0;
    }
    r->end += (size_t)n;
    return n;
}

int jsonl_next_line(JsonlReader *r, const char **line, size_t *len, Err *err)
{
    for (;;) {
        char *nl = memchr(r->buf + r->beg, '\n', r->end - r->beg);
        if (nl) {
            size_t n = (size_t)(nl - (r->buf + r->beg));
            *line = r->buf + r->beg;
            *len = n;
            r->line = r->next_line++;
            r->beg += n + 1;
            if (n > r->max_line) {
                err_set(err, r->path, r->line, "line too long (%zu bytes, limit %zu)", n, r->max_line);
                return -1;
            }
            return 1;
        }
        size_t pending = r->end - r->beg;
        if (pending > r->max_line) {
            /* Skip the rest of this over-long line without buffering it. */
            long at = r->next_line;
            size_t total = pending;
            r->beg = r->end = 0;
            for (;;) {
                int k = fill(r, err);
                if (k < 0)
                    return -1;
                if (k == 0)
                    break;
                char *p = memchr(r->buf, '\n', r->end);
                if (p) {
                    total += (size_t)(p - r->buf);
                    r->beg = (size_t)(p - r->buf) + 1;
                    break;
                }
                total += r->end;
                r->beg = r->end = 0;
            }
            r->line = at;
            r->next_line = at + 1;
            err_set(err, r->path, at, "line too long (more than %zu bytes, limit %zu)", total, r->max_line);
            return -1;
        }
        int k = fill(r, err);
        if (k < 0)
            return -1;
        if (k == 0) {
            if (r->end == r->beg)
                return 0;
            /* last line without LF */
            *line = r->buf + r->beg;
            *len = r->end - r->beg;
            r->line = r->next_line++;
            r->beg = r->end;
            return 1;
        }
    }
}

/* Every backslash in the text is inside a string (cJSON checked the rest),
 * so each one found must start a JSON escape. */
static int escapes_ok(const char *t, size_t n)
{
    for (const char *p = t, *end = t + n; (p = memchr(p, '\\', (size_t)(end - p))) != NULL;) {
        if (p + 1 >= end)
            return 0;
        char c = p[1];
        if (c == 'u') {
            for (int k = 2; k <= 5; k++)
                if (p + k >= end || !isxdigit((unsigned char)p[k]))
                    return 0;
            p += 6;
        } else if (c && strchr("\"\\/bfnrt", c)) {
            p += 2;
        } else {
            return 0;
        }
    }
    return 1;
}

/* The first top-level key that appears twice, or NULL.  Records have a
 * handful of members, so the quadratic scan is cheaper than hashing. */
static const char *duplicate_key(const cJSON *obj)
{
    for (const cJSON *e = obj->child; e; e = e->next)
        for (const cJSON *f = e->next; f && e->string; f = f->next)
            if (f->string && !strcmp(e->string, f->string))
                return e->string;
    return NULL;
}

static int parse_object(JsonlReader *r, const char *s, size_t n, long line, cJSON **out, Err *err)
{
    size_t bad;
    if (!utf8_valid(s, n, &bad)) {
        err_set(err, r->path, line, "invalid UTF-8 at byte %zu", bad + 1);
        return -1;
    }
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!v) {
        const char *ep = cJSON_GetErrorPtr();
        long col = (ep && ep >= s && ep <= s + n) ? (long)(ep - s) + 1 : 0;
        if (col > 0 && (size_t)col > n)
            err_set(err, r->path, line, "malformed JSON: unexpected end of record");
        else if (col > 0)
            err_set(err, r->path, line, "malformed JSON at column %ld", col);
        else
            err_set(err, r->path, line, "malformed JSON");
        return -1;
    }
    while (end && end < s + n && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (end && end < s + n) {
        cJSON_Delete(v);
        err_set(err, r->path, line, "malformed JSON: trailing characters at column %ld", (long)(end - s) + 1);
        return -1;
    }
    if (!cJSON_IsObject(v)) {
        cJSON_Delete(v);
        err_set(err, r->path, line, "expected a JSON object");
        return -1;
    }
    if (!escapes_ok(s, n)) {
        cJSON_Delete(v);
        err_set(err, r->path, line, "malformed JSON: invalid escape in a string");
        return -1;
    }
    const char *dup = duplicate_key(v);
    if (dup) {
        err_set(err, r->path, line, "duplicate key '%s'", dup);
        cJSON_Delete(v);
        return -1;
    }
    r->raw = s;
    r->raw_len = n;
    *out = v;
    return 1;
}

/* Array mode: the whole input is one JSON array.  We scan it once to find
 * where each top-level element starts and ends (tracking strings, escapes
 * and nesting), so each element is parsed on its own and knows its line. */
static int load_array(JsonlReader *r, Err *err)
{
    for (;;) {
        int k = fill(r, err);
        if (k < 0)
            return -1;
        if (k == 0)
            break;
    }
    r->array_text = r->buf;
    r->array_len = r->end;
    r->buf = NULL;
    r->cap = r->beg = r->end = 0;
    size_t bad;
    if (!utf8_valid(r->array_text, r->array_len, &bad)) {
        long line = 1;
        for (size_t i = 0; i < bad; i++)
            line += r->array_text[i] == '\n';
        err_set(err, r->path, line, "invalid UTF-8 at byte %zu of the line", bad + 1);
        r->eof = 1;
        r->array_pos = r->array_len;
        r->array_done = 1;
        return -1;
    }
    r->array_pos = (size_t)(memchr(r->array_text, '[', r->array_len) - (void *)r->array_text) + 1;
    r->next_line = 1;
    for (size_t i = 0; i < r->array_pos; i++)
        r->next_line += r->array_text[i] == '\n';
    return 0;
}

static void skip_blanks(JsonlReader *r, size_t *i)
{
    const char *t = r->array_text;
    while (*i < r->array_len && (t[*i] == ' ' || t[*i] == '\t' || t[*i] == '\r' || t[*i] == '\n')) {
        r->next_line += t[*i] == '\n';
        (*i)++;
    }
}

/* Stop array reading with an error at the current line. */
static int array_error(JsonlReader *r, Err *err, const char *msg)
{
    r->array_pos = r->array_len;
    r->array_done = 1;
    err_set(err, r->path, r->next_line, "%s", msg);
    return -1;
}

static int next_array(JsonlReader *r, cJSON **out, Err *err)
{
    const char *t = r->array_text;
    size_t i = r->array_pos, n = r->array_len;
    skip_blanks(r, &i);
    if (i >= n)
        return array_error(r, err, "malformed JSON: unterminated array");
    if (t[i] == ']') {
        i++;
        skip_blanks(r, &i);
        r->array_pos = n;
        r->array_done = 1;
        if (i < n)
            return array_error(r, err, "malformed JSON: trailing characters after the array");
        return 0;
    }
    if (r->array_count > 0) {
        if (t[i] != ',')
            return array_error(r, err, "malformed JSON: expected ',' or ']' after an array element");
        i++;
        skip_blanks(r, &i);
        if (i >= n)
            return array_error(r, err, "malformed JSON: unterminated array");
        if (t[i] == ']' || t[i] == ',')
            return array_error(r, err, "malformed JSON: trailing comma in array");
    }
    r->array_count++;
    size_t start = i;
    long line = r->next_line;
    int depth = 0, instr = 0;
    for (; i < n; i++) {
        char c = t[i];
        if (c == '\n')
            r->next_line++;
        if (instr) {
            if (c == '\\')
                i++;
            else if (c == '"')
                instr = 0;
            continue;
        }
        if (c == '"')
            instr = 1;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']') {
            if (depth == 0)
                break;
            if (--depth == 0) {
                i++;
                break;
            }
        } else if (c == ',' && depth == 0)
            break;
    }
    r->array_pos = i;
    r->line = line;
    if (i > n)
        i = n;
    return parse_object(r, t + start, i - start, line, out, err);
}

int jsonl_next(JsonlReader *r, cJSON **out, Err *err)
{
    *out = NULL;
    if (r->array_mode == 0) {
        /* Peek at the first non-blank byte. */
        for (;;) {
            size_t i = r->beg;
            while (i < r->end && (r->buf[i] == ' ' || r->buf[i] == '\t' || r->buf[i] == '\n' || r->buf[i] == '\r'))
                i++;
            if (i < r->end) {
                r->array_mode = r->buf[i] == '[' ? 2 : 1;
                break;
            }
            int k = fill(r, err);
            if (k < 0)
                return -1;
            if (k == 0) {
                r->array_mode = 1;
                break;
            }
        }
        if (r->array_mode == 2 && load_array(r, err) < 0)
            return -1;
    }
    if (r->array_mode == 2) {
        if (r->array_done)
            return 0;
        return next_array(r, out, err);
    }
    const char *s;
    size_t n;
    int rc = jsonl_next_line(r, &s, &n, err);
    if (rc <= 0)
        return rc;
    if (n == 0) {
        err_set(err, r->path, r->line, "empty line");
        return -1;
    }
    if (s[n - 1] == '\r') {
        err_set(err, r->path, r->line, "CRLF line ending (expected LF only; convert with dos2unix)");
        return -1;
    }
    return parse_object(r, s, n, r->line, out, err);
}

int jsonl_write(FILE *f, const cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);
    if (!s) {
        fprintf(stderr, "%s: out of memory printing JSON\n", util_prog());
        abort();
    }
    size_t n = strlen(s);
    s[n] = '\n';
    size_t w = fwrite(s, 1, n + 1, f);
    free(s);
    return w == n + 1 ? 0 : -1;
}

const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int json_int(const cJSON *obj, const char *key, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v))
        return -1;
    *out = (long)v->valuedouble;
    return 0;
}
