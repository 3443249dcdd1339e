/*
 * crab.c - Crab record shapes and the wrapper parser.
 *
 * Why the parser is built the way it is: Crab's final SFT records keep no
 * constraint list, only the user turn that Forward_data_generate.py built
 * from x and c1..cn (reference/datasets.md §1 B).  Eight of the eleven
 * wrapper texts carry fixed sentences around {instruction} and {additional};
 * we turn each template into an anchored PCRE2 pattern (literal parts
 * quoted, the two slots captured) generated from the very template strings
 * crab_render uses, so parser and renderer cannot drift apart.  Wrappers 1
 * and 9 have no fixed text at all: there the constraint block can only be
 * found by its line markers ("- ", "# ", "* ", "> ", "1. "), so unmarked
 * blocks are refused.  Every accepted parse is checked by rendering it
 * again: the result must equal the input byte for byte, which rules out
 * any reading that merely "looks right".
 */
#include "crab.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- templates */

static const char *const wrappers[CRAB_NWRAPPERS + 1] = {
    NULL,
    "{instruction}\n{additional}",
    "{instruction}\n\nWhen answering, please ensure that the following constraints are also met.{additional}",
    "Please follow the instructions below to generate your response. Additionally, make sure to adhere to the "
    "specific constraints mentioned.\n\nInstructions: {instruction}\n\nAdditional Constraints: {additional}",
    "Please carefully read and follow the instructions below, along with the additional restrictions provided, "
    "to generate your response.\n\nInstructions: {instruction}\n\nAdditional Restrictions: {additional}",
    "Please ensure you read and follow the detailed instructions and additional constraints provided below to "
    "accurately address the query.\n\n- **Instructions**: {instruction}\n- **Additional Constraints**: "
    "{additional}\n\nYour compliance with these guidelines is essential for a valid response.",
    "To generate your response, please adhere to the following:\n1. **Instructions**: {instruction}\n2. "
    "**Additional Constraints**: {additional}\n\nIt's important to follow these guidelines closely to ensure "
    "your response is appropriate.",
    "We invite you to respond by carefully considering the instructions and constraints outlined below. Your "
    "thoughtful adherence to these guidelines will greatly enhance the quality of your response.\n\n- "
    "**Instructions**: {instruction}\n- **Additional Constraints**: {additional}\n\nThank you for your attention "
    "to detail!",
    "Hey there! We'd love for you to take a crack at this by following the steps and rules below:\n- Here's what "
    "you need to do: {instruction}\n- Just a couple of things to keep in mind: {additional}\n\nCan't wait to see "
    "what you come up with!",
    "{additional}\n{instruction}",
    "{additional}\n\nQuery:\n{instruction}",
    "{instruction}\n\nWhen answering, please ensure that the following constraints are also met.\n{additional}",
};

static const char *const prefix_names[CRAB_NPREFIX] = {
    "{item}", "- {item}", "# {item}", "* {item}", "> {item}", "{index}. {item}", "space",
};
static const char *const markers[] = {"", "- ", "# ", "* ", "> "};

const char *crab_wrapper_text(int w)
{
    return w >= 1 && w <= CRAB_NWRAPPERS ? wrappers[w] : NULL;
}

const char *crab_prefix_name(CrabPrefix p)
{
    return p < CRAB_NPREFIX ? prefix_names[p] : "?";
}

/* ---------------------------------------------------------------- render */

static void render_block(StrBuf *out, int w, CrabPrefix p, const CrabSpan *cons, size_t n)
{
    if (p == CRAB_PREFIX_SPACE) {
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_addc(out, ' ');
            sb_add(out, cons[i].s, cons[i].n);
        }
        return;
    }
    int indent = w >= 3 && w <= 8;
    if (w <= 8)
        sb_addc(out, '\n');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_addc(out, '\n');
        if (indent)
            sb_adds(out, "    ");
        if (p == CRAB_PREFIX_INDEX)
            sb_addf(out, "%zu. ", i + 1);
        else
            sb_adds(out, markers[p]);
        sb_add(out, cons[i].s, cons[i].n);
    }
}

void crab_render(StrBuf *out, int w, CrabPrefix p, CrabSpan x, const CrabSpan *cons, size_t n)
{
    const char *t = wrappers[w];
    while (*t) {
        if (!strncmp(t, "{instruction}", 13)) {
            sb_add(out, x.s, x.n);
            t += 13;
        } else if (!strncmp(t, "{additional}", 12)) {
            render_block(out, w, p, cons, n);
            t += 12;
        } else {
            const char *b = strchr(t, '{');
            size_t k = b ? (size_t)(b - t) : strlen(t);
            sb_add(out, t, k);
            t += k;
        }
    }
}

/* ---------------------------------------------------------------- parse */

/* Template -> anchored pattern: literals quoted with \Q..\E, {instruction}
 * greedy, {additional} lazy when something follows it (the block never
 * holds a blank line), greedy at the end. */
static pcre2_code *compile_wrapper(int w)
{
    StrBuf pat = SB_INIT;
    const char *t = wrappers[w];
    sb_adds(&pat, "\\A");
    while (*t) {
        if (!strncmp(t, "{instruction}", 13)) {
            sb_adds(&pat, "(?<x>.*)");
            t += 13;
        } else if (!strncmp(t, "{additional}", 12)) {
            t += 12;
            sb_adds(&pat, *t ? "(?<c>.*?)" : "(?<c>.*)");
        } else {
            const char *b = strchr(t, '{');
            size_t k = b ? (size_t)(b - t) : strlen(t);
            sb_adds(&pat, "\\Q");
            sb_add(&pat, t, k);
            sb_adds(&pat, "\\E");
            t += k;
        }
    }
    sb_adds(&pat, "\\z");
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.buf, pat.len, PCRE2_DOTALL, &ec, &eo, NULL);
    sb_release(&pat);
    if (!re) {
        fprintf(stderr, "%s: internal error: cannot compile wrapper %d\n", util_prog(), w);
        abort(); /* programmer error: the templates are constants */
    }
    return re;
}

static void add_con(CrabRecord *c, const char *s, size_t n)
{
    if (c->nCons == c->capCons) {
        size_t cap = c->capCons;
        c->cons = grow_array(c->cons, &cap, c->nCons + 1, sizeof *c->cons);
        c->types = xrealloc(c->types, size_mul(cap, sizeof *c->types));
        c->capCons = cap;
    }
    c->cons[c->nCons].s = s;
    c->cons[c->nCons].n = n;
    c->types[c->nCons] = NULL;
    c->nCons++;
}

/* Does line l (n bytes) carry prefix p (line i of the block)?  *skip gets the
 * prefix length. */
static int has_prefix(const char *l, size_t n, CrabPrefix p, size_t i, size_t *skip)
{
    if (p == CRAB_PREFIX_INDEX) {
        char num[32];
        int k = snprintf(num, sizeof num, "%zu. ", i + 1);
        if (n < (size_t)k || memcmp(l, num, (size_t)k))
            return 0;
        *skip = (size_t)k;
        return 1;
    }
    size_t k = strlen(markers[p]);
    if (n < k || memcmp(l, markers[p], k))
        return 0;
    *skip = k;
    return 1;
}

/* Split the block s[0..n) (lines, no leading newline) into constraints.
 * indent: each line must start with 4 spaces (wrappers 3-8, whose space
 * join would stay on the wrapper's line, so one unmarked line is one
 * constraint there).  need_marker: refuse an unmarked block.  Returns 0, or -1 with why set. */
static int split_lines(CrabRecord *c, const char *s, size_t n, int indent, int need_marker, const char **why)
{
    /* Collect line spans first. */
    c->nCons = 0;
    size_t pos = 0;
    for (;;) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        size_t e = nl ? (size_t)(nl - s) : n;
        const char *l = s + pos;
        size_t ln = e - pos;
        if (indent) {
            if (ln < 4 || memcmp(l, "    ", 4)) {
                *why = "a constraint line lacks the 4-space indent of its wrapper";
                return -1;
            }
            l += 4, ln -= 4;
        }
        add_con(c, l, ln);
        if (!nl)
            break;
        pos = e + 1;
    }
    CrabPrefix found = CRAB_PREFIX_PLAIN;
    for (int p = CRAB_PREFIX_DASH; p <= CRAB_PREFIX_INDEX; p++) {
        size_t i, skip;
        for (i = 0; i < c->nCons; i++)
            if (!has_prefix(c->cons[i].s, c->cons[i].n, (CrabPrefix)p, i, &skip))
                break;
        if (i == c->nCons) {
            found = (CrabPrefix)p;
            break;
        }
    }
    if (found == CRAB_PREFIX_PLAIN && need_marker) {
        *why = "no wrapper text and no line markers: cannot tell the constraints from the instruction";
        return -1;
    }
    if (found == CRAB_PREFIX_PLAIN && c->nCons == 1 && !indent) {
        *why = "the constraint block is one unmarked line: one constraint, or several joined by spaces";
        return -1;
    }
    for (size_t i = 0; i < c->nCons; i++) {
        size_t skip = 0;
        if (found != CRAB_PREFIX_PLAIN)
            has_prefix(c->cons[i].s, c->cons[i].n, found, i, &skip);
        c->cons[i].s += skip;
        c->cons[i].n -= skip;
        if (c->cons[i].n == 0) {
            *why = "empty constraint line";
            return -1;
        }
    }
    c->prefix = found;
    return 0;
}

/* Try one pattern wrapper; 1 parsed, 0 no match, -1 matched but refused. */
static int try_pattern(CrabRecord *c, int w, const char *text, size_t len, const char **why)
{
    pcre2_code *re = c->re[w];
    int rc = pcre2_match(re, (PCRE2_SPTR)text, len, 0, 0, c->md, NULL);
    if (rc < 0)
        return 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
    int gx = pcre2_substring_number_from_name(re, (PCRE2_SPTR) "x");
    int gc = pcre2_substring_number_from_name(re, (PCRE2_SPTR) "c");
    const char *x = text + ov[2 * gx], *b = text + ov[2 * gc];
    size_t xn = ov[2 * gx + 1] - ov[2 * gx], bn = ov[2 * gc + 1] - ov[2 * gc];
    c->instruction.s = x, c->instruction.n = xn;
    c->wrapper = w;
    if (w <= 8) {
        if (bn == 0 || b[0] != '\n') {
            *why = "constraints joined by spaces cannot be separated";
            return -1;
        }
        b++, bn--;
    }
    if (split_lines(c, b, bn, w >= 3 && w <= 8, 0, why) < 0)
        return -1;
    return 1;
}

/* Wrapper 1 (x "\n\n" marked lines) and 9 (marked lines "\n" x). */
static int try_bare(CrabRecord *c, const char *text, size_t len, const char **why)
{
    int n1 = 0, n9 = 0;
    CrabSpan x1 = {0, 0}, x9 = {0, 0};
    /* wrapper 1: the block is everything after the last blank line */
    const char *last = NULL;
    for (const char *p = text; (p = memmem(p, len - (size_t)(p - text), "\n\n", 2)); p++)
        last = p;
    if (last && last > text) {
        const char *b = last + 2;
        if (split_lines(c, b, len - (size_t)(b - text), 0, 1, why) == 0) {
            n1 = 1;
            x1.s = text, x1.n = (size_t)(last - text);
        }
    }
    CrabPrefix p1 = c->prefix;
    /* wrapper 9: the longest run of leading lines with the first line's
     * marker (each ended by "\n"), then x.  One pass over the lines. */
    CrabPrefix p9 = CRAB_NPREFIX;
    size_t skip, be = 0, nrun = 0;
    for (int p = CRAB_PREFIX_DASH; p <= CRAB_PREFIX_INDEX && p9 == CRAB_NPREFIX; p++)
        if (has_prefix(text, len, (CrabPrefix)p, 0, &skip))
            p9 = (CrabPrefix)p;
    for (size_t pos = 0; p9 != CRAB_NPREFIX && pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl || !has_prefix(text + pos, (size_t)(nl - text) - pos, p9, nrun, &skip))
            break;
        be = (size_t)(nl - text);
        nrun++;
        pos = be + 1;
    }
    if (nrun && be + 1 < len) {
        const char *dummy;
        if (split_lines(c, text, be, 0, 1, &dummy) == 0) {
            n9 = 1;
            x9.s = text + be + 1, x9.n = len - be - 1;
        }
    }
    if (n1 && n9) {
        *why = "both a leading and a trailing block of marked lines: wrapper 1 or 9";
        return -1;
    }
    if (n1) {
        c->prefix = p1;
        c->instruction = x1;
        c->wrapper = 1;
        /* re-split (the wrapper 9 attempt reused the array) */
        split_lines(c, x1.s + x1.n + 2, len - x1.n - 2, 0, 1, why);
        return 1;
    }
    if (n9) {
        c->instruction = x9;
        c->wrapper = 9;
        return 1;
    }
    if (!*why)
        *why = "no wrapper text and no line markers: cannot tell the constraints from the instruction";
    return -1;
}

int crab_parse(CrabRecord *c, const char *text, size_t len, const char *path, long line, Err *err)
{
    static const int order[] = {3, 4, 5, 6, 7, 8, 2, 10};
    const char *why = NULL;
    int rc = 0;
    c->wrapper = 0;
    for (size_t i = 0; i < sizeof order / sizeof *order && rc == 0; i++)
        rc = try_pattern(c, order[i], text, len, &why);
    if (rc == 0) {
        why = NULL;
        rc = try_bare(c, text, len, &why);
    }
    if (rc > 0 && c->instruction.n == 0) {
        rc = -1;
        why = "the instruction is empty";
    }
    if (rc > 0) {
        sb_reset(&c->check);
        crab_render(&c->check, c->wrapper, c->prefix, c->instruction, c->cons, c->nCons);
        if (c->check.len != len || memcmp(c->check.buf, text, len)) {
            rc = -1;
            why = "rendering the parsed parts does not give the text back";
        }
    }
    if (rc < 0) {
        /* name the wrapper that matched (wrapper 2 with a line block reads
         * the same as wrapper 11) so the user can look the record up */
        char where[40] = "";
        if (c->wrapper == 2 && why && strstr(why, "one unmarked line"))
            snprintf(where, sizeof where, " (wrapper 2 or 11)");
        else if (c->wrapper > 0)
            snprintf(where, sizeof where, " (wrapper %d)", c->wrapper);
        c->nCons = 0;
        err_set(err, path, line, "cannot take the constraints apart: %s%s", why ? why : "no wrapper matches", where);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- records */

void crab_init(CrabRecord *c)
{
    memset(c, 0, sizeof *c);
    conv_init(&c->conv);
    sb_init(&c->typebuf);
    sb_init(&c->check);
    for (int w = 2; w <= CRAB_NWRAPPERS; w++)
        if (w != 9)
            c->re[w] = compile_wrapper(w);
    c->md = pcre2_match_data_create(8, NULL);
}

void crab_release(CrabRecord *c)
{
    conv_release(&c->conv);
    sb_release(&c->typebuf);
    sb_release(&c->check);
    free(c->cons);
    free(c->types);
    free(c->typeoff);
    for (int w = 0; w <= CRAB_NWRAPPERS; w++)
        pcre2_code_free(c->re[w]);
    pcre2_match_data_free(c->md);
    memset(c, 0, sizeof *c);
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static CrabSpan trim(const char *s, size_t n)
{
    while (n && is_space(*s))
        s++, n--;
    while (n && is_space(s[n - 1]))
        n--;
    return (CrabSpan){s, n};
}

/* Constraints from an object {type: text} (types known) or an array of
 * strings.  what names the field in messages. */
static int read_constraints(CrabRecord *c, const cJSON *v, const char *what, const char *path, long line, Err *err)
{
    c->nCons = 0;
    sb_reset(&c->typebuf);
    size_t nt = 0;
    if (cJSON_IsObject(v)) {
        for (const cJSON *e = v->child; e; e = e->next) {
            if (!cJSON_IsString(e)) {
                err_set(err, path, line, "field '%s.%s' must be a string", what, e->string);
                return -1;
            }
            CrabSpan t = trim(e->valuestring, strlen(e->valuestring));
            if (!t.n)
                continue;
            add_con(c, t.s, t.n);
            CrabSpan k = trim(e->string, strlen(e->string));
            c->typeoff = grow_array(c->typeoff, &c->capTypeoff, nt + 1, sizeof *c->typeoff);
            c->typeoff[nt++] = c->typebuf.len;
            sb_add(&c->typebuf, k.s, k.n);
            sb_addc(&c->typebuf, '\0');
        }
        /* typebuf is final now: point the types into it */
        for (size_t i = 0; i < c->nCons; i++)
            c->types[i] = c->typebuf.buf + c->typeoff[i];
        return 0;
    }
    if (cJSON_IsArray(v)) {
        int i = 0;
        for (const cJSON *e = v->child; e; e = e->next, i++) {
            if (!cJSON_IsString(e)) {
                err_set(err, path, line, "field '%s[%d]' must be a string", what, i);
                return -1;
            }
            CrabSpan t = trim(e->valuestring, strlen(e->valuestring));
            if (t.n)
                add_con(c, t.s, t.n);
        }
        return 0;
    }
    err_set(err, path, line, "field '%s' must be an object or an array", what);
    return -1;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !memcmp(s + n - k, suf, k);
}

int crab_read(CrabRecord *c, const cJSON *rec, const char *path, long line, Err *err)
{
    c->nCons = 0;
    c->nConsumed = 0;
    c->wrapper = 0;
    c->prefix = CRAB_PREFIX_PLAIN;
    c->instruction.s = NULL, c->instruction.n = 0;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(rec, "source");
    c->source = cJSON_IsString(src) ? src->valuestring : NULL;
    if (c->source)
        c->consumed[c->nConsumed++] = "source";
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    const char *ids = cJSON_IsString(id) ? id->valuestring : "";
    if (ends_with(ids, "_reverse")) {
        c->kind = CRAB_REVERSE;
        return 0;
    }
    const cJSON *aug = cJSON_GetObjectItemCaseSensitive(rec, "Aug_instruction");
    const cJSON *cons = cJSON_GetObjectItemCaseSensitive(rec, "constraints");
    if (conv_read(&c->conv, rec, NULL, path, line, err) < 0)
        return -1;
    const ConvTurn *u = &c->conv.turns[conv_last_user(&c->conv)];
    if (aug) {
        c->kind = CRAB_AUG;
        c->consumed[c->nConsumed++] = "Aug_instruction";
        if (!cJSON_IsObject(aug)) {
            err_set(err, path, line, "field 'Aug_instruction' must be an object");
            return -1;
        }
        const cJSON *add = cJSON_GetObjectItemCaseSensitive(aug, "Additional_Instruction");
        if (!add) {
            err_set(err, path, line, "missing field 'Aug_instruction.Additional_Instruction'");
            return -1;
        }
        if (!cJSON_IsObject(add)) {
            err_set(err, path, line, "field 'Aug_instruction.Additional_Instruction' must be an object");
            return -1;
        }
        if (read_constraints(c, add, "Aug_instruction.Additional_Instruction", path, line, err) < 0)
            return -1;
        c->instruction.s = u->content, c->instruction.n = u->len;
    } else if (cons && c->conv.shape == CONV_ALPACA) {
        c->kind = CRAB_PLAIN;
        c->consumed[c->nConsumed++] = "constraints";
        if (read_constraints(c, cons, "constraints", path, line, err) < 0)
            return -1;
        c->instruction.s = u->content, c->instruction.n = u->len;
    } else if (ends_with(ids, "_forward")) {
        c->kind = CRAB_WRAPPED;
        if (crab_parse(c, u->content, u->len, path, line, err) < 0)
            return -1;
    } else {
        c->kind = CRAB_SFT;
        c->instruction.s = u->content, c->instruction.n = u->len;
    }
    return 0;
}
