/*
 * jsonl.h - streaming JSON Lines reader and writer (cJSON + zlib).
 *
 * The reader takes a path ("-" or NULL for standard input) and yields one
 * cJSON object per record.  gzip input is detected and inflated by zlib
 * transparently.  A file whose first non-blank byte is '[' is read as one
 * JSON array (Crab's and ShareGPT's release format): each element is then a
 * record, and its line is the line where the element starts.
 *
 * Every record knows where it came from: after jsonl_next() returns 1,
 * r->path and r->line name the record (r->path is "<stdin>" for stdin).
 *
 * Invariants and policy (the same for every miso program)
 *   - A record is one JSON object on one line, LF-terminated (the final LF may
 *     be missing).  Empty lines, CRLF endings, invalid UTF-8, malformed JSON,
 *     a top-level value that is not an object and lines longer than max_line
 *     bytes are errors, each with its own message.
 *   - Beyond what cJSON checks, a record is refused for an escape that is not
 *     JSON ("\x", "\u00.0": cJSON would decode garbage) and for a duplicate
 *     top-level key (cJSON keeps the first value, Python the last: the
 *     meaning would depend on the reader).  In array mode a trailing comma,
 *     a missing ']' and text after the array are errors.
 *   - After an error the reader is positioned at the next line, so a program
 *     with --skip-bad can report it and go on.  A read error or truncated gzip
 *     stream ends the input: the next call returns 0.
 *
 * Ownership
 *   - jsonl_next hands the caller a cJSON tree that the caller frees with
 *     cJSON_Delete.  The reader owns its buffers; jsonl_close releases them
 *     and closes the file (not stdin's descriptor).
 *
 * Errors
 *   - jsonl_open returns -1 and fills err (no line) when the file cannot be
 *     opened.  jsonl_next returns 1 (record), 0 (end of input) or -1 (bad
 *     record or read error, err filled with path and line).
 *
 * Writer
 *   - jsonl_write prints obj compactly on one line (keys in insertion order,
 *     so a program that builds its objects in a fixed order gets stable
 *     output), then '\n'.  Non-ASCII text is written as UTF-8, not escaped.
 *
 * Usage
 *   JsonlReader r; Err err; cJSON *rec; int rc;
 *   if (jsonl_open(&r, path, &err) < 0) err_die(&err);
 *   while ((rc = jsonl_next(&r, &rec, &err)) != 0) {
 *       if (rc < 0) err_die(&err);
 *       ... use rec ...; cJSON_Delete(rec);
 *   }
 *   jsonl_close(&r);
 */
#ifndef MISO_JSONL_H
#define MISO_JSONL_H

#include <stdio.h>
#include <zlib.h>
#include <cjson/cJSON.h>

#include "util.h"

#define JSONL_MAX_LINE_DEFAULT ((size_t)32 << 20) /* 32 MiB */

typedef struct {
    const char *path;   /* display name, "<stdin>" for standard input */
    long line;          /* line of the record last returned (1-based) */
    const char *raw;    /* JSON text of the record last returned (borrowed, */
    size_t raw_len;     /*   valid until the next call), for exact pass-through */
    size_t max_line;    /* longest accepted line in bytes */
    /* private */
    gzFile gz;
    int is_stdin;
    int eof;
    int array_mode;     /* 0 unknown, 1 JSONL, 2 JSON array */
    char *buf;          /* read buffer */
    size_t cap, beg, end;
    long next_line;     /* line number of the byte at buf[beg] */
    StrBuf rec;
    char *array_text;   /* whole text in array mode */
    size_t array_len, array_pos;
    long array_count;   /* elements read so far */
    int array_done;     /* the closing ']' was read, or reading stopped */
} JsonlReader;

int jsonl_open(JsonlReader *r, const char *path, Err *err);
int jsonl_next(JsonlReader *r, cJSON **out, Err *err);
void jsonl_close(JsonlReader *r);

/* Read the next raw line (without the LF) into *line and *len; 1, 0 at EOF, -1 on
 * error (err filled).  For programs that read plain text lines (miso-tok).
 * The pointer is valid until the next call. */
int jsonl_next_line(JsonlReader *r, const char **line, size_t *len, Err *err);

/* gzerror() without zlib's "<fd:N>: " prefix (the descriptor means nothing
 * to a user; callers name the file themselves). */
const char *jsonl_gz_error(gzFile gz, int *zerr);

/* Write obj as one compact line.  Returns 0, or -1 if the stream failed. */
int jsonl_write(FILE *f, const cJSON *obj);

/* Small typed getters: NULL/-1 when absent or of another type. */
const char *json_str(const cJSON *obj, const char *key);
int json_int(const cJSON *obj, const char *key, long *out);

#endif
