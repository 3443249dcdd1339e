/* test_jsonl.c - the JSONL reader's records, positions and error messages. */
#include "testhelp.h"
#include "jsonl.h"
#include "ofile.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/miso-test-jsonl-XXXXXX";

static const char *write_file(const char *name, const char *data, size_t n)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

/* Reads path and returns the first error message (or "" and the count). */
static void read_all(const char *path, int *nrec, StrBuf *firsterr)
{
    JsonlReader r;
    Err err;
    cJSON *rec;
    int rc;
    *nrec = 0;
    sb_reset(firsterr);
    if (jsonl_open(&r, path, &err) < 0) {
        err_format(&err, firsterr);
        return;
    }
    while ((rc = jsonl_next(&r, &rec, &err)) != 0) {
        if (rc < 0) {
            if (!firsterr->len)
                err_format(&err, firsterr);
            continue;
        }
        (*nrec)++;
        cJSON_Delete(rec);
    }
    jsonl_close(&r);
}

static const char *base(const char *msg)
{
    const char *s = strrchr(msg, '/');
    return s ? s + 1 : msg;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    StrBuf e = SB_INIT;
    int n;
    const char *p;

    p = write_file("ok.jsonl", "{\"a\":1}\n{\"b\":\"x\"}\n{\"c\":[1,2]}", 29);
    read_all(p, &n, &e);
    CHECK(n == 3 && e.len == 0, "reads three records, the last without a final LF");

    p = write_file("bad.jsonl", "{\"a\":1}\n{\"a\":1,}\n{\"a\":2}\n", 26);
    read_all(p, &n, &e);
    CHECK_STR(base(e.buf), "bad.jsonl:2: malformed JSON at column 8", "names the line and column of malformed JSON");
    CHECK(n == 2, "goes on after a bad record (for --skip-bad)");

    p = write_file("empty.jsonl", "{\"a\":1}\n\n", 9);
    read_all(p, &n, &e);
    CHECK_STR(base(e.buf), "empty.jsonl:2: empty line", "rejects an empty line");

    p = write_file("crlf.jsonl", "{\"a\":1}\r\n", 9);
    read_all(p, &n, &e);
    CHECK_STR(base(e.buf), "crlf.jsonl:1: CRLF line ending (expected LF only; convert with dos2unix)", "rejects CRLF line endings");

    p = write_file("utf8.jsonl", "{\"a\":1}\n{\"a\":\"\xff\"}\n", 18);
    read_all(p, &n, &e);
    CHECK_STR(base(e.buf), "utf8.jsonl:2: invalid UTF-8 at byte 7", "rejects invalid UTF-8 with its byte offset");

    p = write_file("arr.jsonl", "[1]\n", 4);
    read_all(p, &n, &e);
    CHECK_STR(base(e.buf), "arr.jsonl:1: expected a JSON object", "rejects a non-object record");

    p = write_file("trail.jsonl", "{\"a\":1} x\n", 10);
    read_all(p, &n, &e);
    CHECK_STR(base(e.buf), "trail.jsonl:1: malformed JSON: trailing characters at column 9", "rejects trailing garbage");

    const char *arr = "[\n  {\"id\": 1,\n   \"s\": \"a,]}\"},\n  {\"id\": 2}\n]\n";
    p = write_file("array.json", arr, strlen(arr));
    {
        JsonlReader r;
        Err err;
        cJSON *rec;
        long lines[2] = {0, 0};
        int k = 0;
        jsonl_open(&r, p, &err);
        while (jsonl_next(&r, &rec, &err) > 0) {
            if (k < 2)
                lines[k] = r.line;
            k++;
            cJSON_Delete(rec);
        }
        jsonl_close(&r);
        CHECK(k == 2 && lines[0] == 2 && lines[1] == 4, "reads a JSON array element by element with their lines (%d: %ld %ld)", k, lines[0], lines[1]);
    }

    p = write_file("tc.json", "[{\"a\":1},\n]\n", strlen("[{\"a\":1},\n]\n"));
    read_all(p, &n, &e);
    CHECK_STR(base(e.buf), "tc.json:2: malformed JSON: trailing comma in array", "rejects a trailing comma in an array");
    p = write_file("open.json", "[{\"a\":1},\n{\"a\":2}", strlen("[{\"a\":1},\n{\"a\":2}"));
    read_all(p, &n, &e);
    CHECK(n == 2 && !strcmp(base(e.buf), "open.json:2: malformed JSON: unterminated array"), "reports an array cut after its last element: %s", e.buf);
    p = write_file("after.json", "[{\"a\":1}]\n{}", strlen("[{\"a\":1}]\n{}"));
    read_all(p, &n, &e);
    CHECK_STR(base(e.buf), "after.json:2: malformed JSON: trailing characters after the array", "rejects text after the array");
    p = write_file("sep.json", "[{\"a\":1} {\"a\":2}]", strlen("[{\"a\":1} {\"a\":2}]"));
    read_all(p, &n, &e);
    CHECK_STR(base(e.buf), "sep.json:1: malformed JSON: expected ',' or ']' after an array element", "rejects array elements without a comma");
    p = write_file("esc.jsonl", "{\"a\":\"\\u00.0\"}\n", strlen("{\"a\":\"\\u00.0\"}\n"));
    read_all(p, &n, &e);
    CHECK(strstr(e.buf, "esc.jsonl:1: malformed JSON") != NULL, "rejects a \\u escape that is not four hex digits: %s", e.buf);
    p = write_file("esc2.jsonl", "{\"a\":\"\\x\"}\n", strlen("{\"a\":\"\\x\"}\n"));
    read_all(p, &n, &e);
    CHECK(strstr(e.buf, "esc2.jsonl:1: malformed JSON") != NULL, "rejects an escape JSON does not have: %s", e.buf);
    p = write_file("dup.jsonl", "{\"a\":1,\"a\":2}\n", strlen("{\"a\":1,\"a\":2}\n"));
    read_all(p, &n, &e);
    CHECK_STR(base(e.buf), "dup.jsonl:1: duplicate key 'a'", "rejects a duplicate top-level key");
    {
        const char *txt = "{\"n\": 9.0, \"s\": \"\\u00e9\"}\n[1]\n";
        JsonlReader r;
        Err err;
        cJSON *rec;
        p = write_file("raw.jsonl", txt, strlen(txt));
        jsonl_open(&r, p, &err);
        int rc = jsonl_next(&r, &rec, &err);
        CHECK(rc == 1 && r.raw_len == (size_t)(strchr(txt, '\n') - txt) && !memcmp(r.raw, txt, r.raw_len), "hands out the raw text of the record for exact pass-through");
        if (rc == 1)
            cJSON_Delete(rec);
        jsonl_close(&r);
    }

    /* gzip: write with zlib, then truncate. */
    {
        char path[512];
        snprintf(path, sizeof path, "%s/z.jsonl.gz", dir);
        gzFile gz = gzopen(path, "wb");
        for (int i = 0; i < 2000; i++)
            gzprintf(gz, "{\"i\":%d,\"pad\":\"%0100d\"}\n", i, i);
        gzclose(gz);
        read_all(path, &n, &e);
        CHECK(n == 2000 && e.len == 0, "reads gzip input transparently");
        FILE *f = fopen(path, "rb");
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fclose(f);
        if (truncate(path, sz / 2) != 0)
            return 1;
        read_all(path, &n, &e);
        CHECK(strstr(e.buf, "truncated or corrupt gzip input") != NULL && n < 2000, "reports a truncated gzip file: %s", e.buf);
    }

    /* long line */
    {
        char path[512];
        snprintf(path, sizeof path, "%s/long.jsonl", dir);
        FILE *f = fopen(path, "wb");
        fputs("{\"a\":1}\n{\"s\":\"", f);
        for (int i = 0; i < 3000; i++)
            fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", f);
        fputs("\"}\n{\"a\":3}\n", f);
        fclose(f);
        JsonlReader r;
        Err err;
        cJSON *rec;
        int rc, ok = 0, bad = 0;
        jsonl_open(&r, path, &err);
        r.max_line = 100000;
        while ((rc = jsonl_next(&r, &rec, &err)) != 0) {
            if (rc < 0) {
                bad++;
                CHECK(err.line == 2 && strstr(err.msg, "line too long") != NULL, "rejects an over-long line on line 2: %s", err.msg);
                continue;
            }
            ok++;
            cJSON_Delete(rec);
        }
        jsonl_close(&r);
        CHECK(ok == 2 && bad == 1, "skips an over-long line and reads the next record");
    }

    /* writer + atomic output */
    {
        char path[512];
        snprintf(path, sizeof path, "%s/out.jsonl", dir);
        OutFile o;
        Err err;
        FILE *f = ofile_open(&o, path, &err);
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "id", "x\xc3\xa9");
        cJSON_AddNumberToObject(obj, "n", 3);
        jsonl_write(f, obj);
        cJSON_Delete(obj);
        CHECK(access(path, F_OK) != 0, "the output file does not exist before commit");
        CHECK(ofile_commit(&o, &err) == 0, "commits the output file");
        FILE *g = fopen(path, "rb");
        char line[128] = "";
        if (g) {
            if (!fgets(line, sizeof line, g))
                line[0] = 0;
            fclose(g);
        }
        CHECK_STR(line, "{\"id\":\"x\xc3\xa9\",\"n\":3}\n", "writes one compact object per line in insertion order");
        snprintf(path, sizeof path, "%s/aborted.jsonl", dir);
        f = ofile_open(&o, path, &err);
        fputs("partial", f);
        ofile_abort(&o);
        CHECK(access(path, F_OK) != 0, "an aborted output leaves no file behind");
        struct stat st;
        f = ofile_open(&o, "/dev/null", &err);
        if (f)
            fputs("x", f);
        CHECK(f && ofile_commit(&o, &err) == 0 && stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode),
              "writing to /dev/null leaves it a character device (written in place, not renamed over)");
        snprintf(path, sizeof path, "%s", dir);
        CHECK(ofile_open(&o, path, &err) == NULL && strstr(err.msg, "is a directory"), "refuses a directory as output: %s", err.msg);
    }
    sb_release(&e);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return TEST_REPORT();
}
