/*
 * punkt.c - nltk's PunktSentenceTokenizer (tokenize only, no training).
 * See punkt.h.  The comments name the nltk 3.8 methods each part mirrors.
 *
 * Cost: the patterns of PunktLanguageVars (word tokenizer, period context,
 * boundary realignment) and PunktToken's number test are hand-written scans
 * (each argued equal to the regex where it stands; PCRE2 is kept for the
 * Unicode digit and initial classes of non-ASCII tokens), and the English
 * parameters are mmap'd from a precompiled table.  On the 541-response
 * ifeval-score run (callgrind): punkt_sentences 15.2 M -> 5.6 M instructions,
 * model load 10.7 M -> 0.12 M; checked against nltk 3.8 by
 * tests/sh/textref.sh (corpus, fuzz, adversarial short texts).
 */
#include "punkt.h"
#include "nlpre.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_ABBREV, M_COLLOC, M_STARTERS, M_ORTHO };

/* Ortho context flags (punkt.py _ORTHO_*). */
enum {
    ORTHO_BEG_UC = 1 << 1,
    ORTHO_MID_UC = 1 << 2,
    ORTHO_UNK_UC = 1 << 3,
    ORTHO_BEG_LC = 1 << 4,
    ORTHO_MID_LC = 1 << 5,
    ORTHO_UNK_LC = 1 << 6,
    ORTHO_UC = ORTHO_BEG_UC | ORTHO_MID_UC | ORTHO_UNK_UC,
    ORTHO_LC = ORTHO_BEG_LC | ORTHO_MID_LC | ORTHO_UNK_LC,
};

/* A string set / map: open addressing, sized once before filling (the
 * parameter files' line counts bound the entries) so it never rehashes.
 * Keys are (offset, length) into a pool: the parameter file text when parsed,
 * the table's key bytes when mapped (see "precompiled table" below), so both
 * ways share one layout. */
typedef struct {
    uint32_t off1; /* key offset in the pool + 1; 0 = empty slot */
    uint32_t len;
    int32_t val;
} Slot;

typedef struct {
    Slot *slot;       /* owned unless the model is mapped */
    const char *pool; /* borrowed: PunktModel.text[] or the mapping */
    size_t cap, n;    /* cap a power of two, n < cap */
    size_t npool;
} StrMap;

/* Key hash, eight bytes a step (the keys are short: ortho-context types
 * average 8 bytes); any mixing will do, lookups use the same function. */
static uint64_t key_hash(const char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, s + i, n - i);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
    }
    h ^= h >> 32;
    return h * 0xc4ceb9fe1a85ec53ULL;
}

/* Room for up to nmax keys. */
static void map_reserve(StrMap *m, size_t nmax)
{
    size_t cap = 16;
    while (cap < nmax + nmax / 2 + 1) /* load <= 2/3 */
        cap *= 2;
    m->slot = xcalloc(cap, sizeof *m->slot);
    m->cap = cap;
    m->n = 0;
}

/* Insert or overwrite (the last line of a key wins, as a Python dict fills);
 * h = key_hash(k, kn); the map must have room (map_reserve). */
static void map_put(StrMap *m, const char *k, size_t kn, uint64_t h, int v)
{
    size_t j = h & (m->cap - 1);
    while (m->slot[j].off1) {
        if (m->slot[j].len == kn && !memcmp(m->pool + m->slot[j].off1 - 1, k, kn)) {
            m->slot[j].val = v;
            return;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slot[j] = (Slot){(uint32_t)(k - m->pool) + 1, (uint32_t)kn, v};
    m->n++;
}

/* Value for k, or -1 when absent. */
static int map_get(const StrMap *m, const char *k, size_t kn)
{
    if (!m->cap)
        return -1;
    size_t j = (size_t)key_hash(k, kn) & (m->cap - 1);
    /* at most cap probes, and keys inside the pool: a mapped table is only
     * checked for its overall shape when loaded */
    for (size_t probes = 0; probes < m->cap && m->slot[j].off1; probes++) {
        const Slot *sl = &m->slot[j];
        if (sl->len == kn && sl->off1 - 1 <= m->npool && kn <= m->npool - (sl->off1 - 1) &&
            !memcmp(m->pool + sl->off1 - 1, k, kn))
            return sl->val;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}



struct PunktModel {
    StrMap map[4];        /* abbrev, colloc, starters, ortho (M_* order) */
    char *text[4];        /* the four parameter files, read whole (parsed model) */
    void *mapped;         /* the mmap'd table (mapped model), else NULL */
    size_t mapped_len;
    NlpRegex *re_number;  /* PunktToken._RE_NUMERIC */
    NlpRegex *re_initial; /* PunktToken._RE_INITIAL */
};

static const char *const initial_pat = "[\\p{L}\\p{Nl}\\p{No}_]\\.$";
static const char *const number_pat = "^-?[.,]?\\p{Nd}[\\p{Nd},.\\-]*\\.?$";

/* Lines in t[0..n) (a last line without "\n" counts). */
static size_t count_lines(const char *t, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += t[i] == '\n';
    return k + (n > 0 && t[n - 1] != '\n');
}

typedef int (*LineFn)(PunktModel *, StrMap *, const char *, size_t, const char *, long, Err *);

/* Read a text file whole (kept in *keep: the map's keys point into it, one
 * allocation per file instead of one per entry), size map for its lines and
 * call fn for each line (without "\n").  The UTF-8 check runs once over the
 * whole file (per line only to name the bad line). */
static int read_lines(const char *path, Err *err, LineFn fn, PunktModel *m, StrMap *map, char **keep)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, path, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    StrBuf t = SB_INIT;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0)
        sb_grow(&t, (size_t)st.st_size);
    for (;;) {
        if (t.cap - t.len <= 1)
            sb_grow(&t, 65536);
        size_t got = fread(t.buf + t.len, 1, t.cap - t.len - 1, f);
        if (!got)
            break;
        t.len += got;
    }
    if (ferror(f)) {
        err_set(err, path, 0, "read error: %s", strerror(errno));
        fclose(f);
        sb_release(&t);
        return -1;
    }
    fclose(f);
    t.buf[t.len] = 0;
    *keep = t.buf;
    const char *s = *keep, *end = s + t.len;
    map->pool = s;
    map->npool = t.len;
    int valid = utf8_valid(s, t.len, NULL);
    map_reserve(map, count_lines(s, t.len));
    long lineno = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        lineno++;
        if (!valid && !utf8_valid(s, n, NULL)) {
            err_set(err, path, lineno, "invalid UTF-8");
            return -1;
        }
        if (fn(m, map, s, n, path, lineno, err) < 0)
            return -1;
        s += n + (nl != NULL);
    }
    return 0;
}

static int add_key(PunktModel *m, StrMap *map, const char *s, size_t n, const char *p, long l, Err *e)
{
    (void)m, (void)p, (void)l, (void)e;
    map_put(map, s, n, key_hash(s, n), 1);
    return 0;
}

static int add_colloc(PunktModel *m, StrMap *map, const char *s, size_t n, const char *p, long l, Err *e)
{
    (void)m;
    const char *tab = memchr(s, '\t', n);
    if (!tab || memchr(tab + 1, '\t', n - (size_t)(tab + 1 - s))) {
        err_set(e, p, l, "expected two tab-separated words");
        return -1;
    }
    map_put(map, s, n, key_hash(s, n), 1);
    return 0;
}

static int add_ortho(PunktModel *m, StrMap *map, const char *s, size_t n, const char *p, long l, Err *e)
{
    (void)m;
    const char *tab = memchr(s, '\t', n);
    size_t i = tab ? (size_t)(tab - s) : n;
    if (i == n) {
        err_set(e, p, l, "expected 'type<TAB>flags'");
        return -1;
    }
    if (i + 1 == n) {
        err_set(e, p, l, "missing flags");
        return -1;
    }
    long v = 0;
    for (size_t q = i + 1; q < n; q++) {
        if (s[q] < '0' || s[q] > '9' || v > 100000) {
            err_set(e, p, l, "bad flags '%.*s'", (int)(n - i - 1), s + i + 1);
            return -1;
        }
        v = v * 10 + (s[q] - '0');
    }
    map_put(map, s, i, key_hash(s, i), (int)v);
    return 0;
}

static int compile_patterns(PunktModel *m, Err *err)
{
    if (!(m->re_number = nlpre_compile(number_pat, 0, err)) || !(m->re_initial = nlpre_compile(initial_pat, NLPRE_ANCHORED, err)))
        return -1;
    return 0;
}

PunktModel *punkt_load(const char *dir, Err *err)
{
    PunktModel *m = xcalloc(1, sizeof *m);
    StrBuf p = SB_INIT;
    static const struct {
        const char *name;
        LineFn fn;
    } files[] = {
        {"abbrev_types.txt", add_key},
        {"collocations.tab", add_colloc},
        {"sent_starters.txt", add_key},
        {"ortho_context.tab", add_ortho},
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        sb_reset(&p);
        sb_addf(&p, "%s/%s", dir, files[i].name);
        /* err->file must outlive the call: point it at a static name on failure. */
        if (read_lines(p.buf, err, files[i].fn, m, &m->map[i], &m->text[i]) < 0) {
            static char where[4096];
            snprintf(where, sizeof where, "%s", p.buf);
            err->file = where;
            sb_release(&p);
            punkt_free(m);
            return NULL;
        }
    }
    sb_release(&p);
    if (compile_patterns(m, err) < 0) {
        punkt_free(m);
        return NULL;
    }
    return m;
}

/* ---- precompiled table -------------------------------------------------
 *
 * datasets/ifeval/punkt_english.table holds the four maps exactly as
 * punkt_load builds them from the parameter files (slots in place, keys
 * packed), in native byte order, so punkt_english maps it instead of parsing
 * 20,366 ortho-context lines (~6 M instructions; the mapping costs a few
 * thousand).  test_punkt regenerates it from the text files and compares
 * byte for byte, so a stale table fails the tests; a missing or malformed one
 * makes punkt_english fall back to the text files.
 *
 * Layout (uint32 words): magic, the 4 x (cap, n, npool) header, then per map
 * cap slots (off1, len, val) followed by npool key bytes padded to 4. */

#define TABLE_MAGIC 0x314b5450u /* "PTK1" read little-endian */

void punkt_table(const PunktModel *m, StrBuf *out)
{
    uint32_t head[13];
    StrBuf keys[4];
    Slot *slots[4];
    head[0] = TABLE_MAGIC;
    for (int i = 0; i < 4; i++) {
        const StrMap *mp = &m->map[i];
        keys[i] = (StrBuf)SB_INIT;
        slots[i] = xcalloc(mp->cap ? mp->cap : 1, sizeof(Slot));
        for (size_t j = 0; j < mp->cap; j++) {
            Slot sl = mp->slot[j];
            if (sl.off1) {
                const char *k = mp->pool + sl.off1 - 1;
                sl.off1 = (uint32_t)keys[i].len + 1;
                sb_add(&keys[i], k, sl.len);
            }
            slots[i][j] = sl;
        }
        head[1 + 3 * i] = (uint32_t)mp->cap;
        head[2 + 3 * i] = (uint32_t)mp->n;
        head[3 + 3 * i] = (uint32_t)keys[i].len;
    }
    sb_add(out, head, sizeof head);
    for (int i = 0; i < 4; i++) {
        sb_add(out, slots[i], m->map[i].cap * sizeof(Slot));
        sb_add(out, keys[i].buf, keys[i].len);
        while (out->len % 4)
            sb_addc(out, 0);
        sb_release(&keys[i]);
        free(slots[i]);
    }
}

PunktModel *punkt_load_table(const char *path, Err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(err, NULL, 0, "cannot open the Punkt table: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < 52) {
        close(fd);
        err_set(err, NULL, 0, "the Punkt table is too short");
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        err_set(err, NULL, 0, "cannot map the Punkt table: %s", strerror(errno));
        return NULL;
    }
    const uint32_t *h = map;
    PunktModel *m = xcalloc(1, sizeof *m);
    m->mapped = map;
    m->mapped_len = len;
    size_t at = 52;
    int ok = h[0] == TABLE_MAGIC;
    for (int i = 0; ok && i < 4; i++) {
        size_t cap = h[1 + 3 * i], n = h[2 + 3 * i], npool = h[3 + 3 * i];
        /* cap a power of two with a free slot; slots and keys inside the file */
        ok = cap >= 16 && !(cap & (cap - 1)) && n < cap && cap <= (len - at) / sizeof(Slot);
        if (!ok)
            break;
        m->map[i].slot = (Slot *)((char *)map + at);
        at += cap * sizeof(Slot);
        ok = npool <= len - at;
        if (!ok)
            break;
        m->map[i].pool = (const char *)map + at;
        at += (npool + 3) / 4 * 4;
        m->map[i].cap = cap;
        m->map[i].n = n;
        m->map[i].npool = npool;
        ok = at <= len;
    }
    if (!ok || at != len) {
        err_set(err, NULL, 0, "the Punkt table does not fit its header");
        punkt_free(m);
        return NULL;
    }
    if (compile_patterns(m, err) < 0) {
        punkt_free(m);
        return NULL;
    }
    return m;
}

const PunktModel *punkt_english(Err *err)
{
    static PunktModel *cached;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (!cached) {
        Err terr;
        cached = punkt_load_table(util_datapath("ifeval/punkt_english.table"), &terr);
        if (!cached)
            cached = punkt_load(util_datapath("ifeval/nltk_data/tokenizers/punkt_tab/english"), err);
    }
    PunktModel *m = cached;
    pthread_mutex_unlock(&lock);
    return m;
}

void punkt_free(PunktModel *m)
{
    if (!m)
        return;
    for (int i = 0; i < 4; i++) {
        if (!m->mapped)
            free(m->map[i].slot);
        free(m->text[i]);
    }
    if (m->mapped)
        munmap(m->mapped, m->mapped_len);
    nlpre_free(m->re_number);
    nlpre_free(m->re_initial);
    free(m);
}

/* ---- PunktToken ---------------------------------------------------------- */

typedef struct {
    const char *tok; /* into the text */
    size_t len;
    size_t type_off, type_len; /* into the scratch buffer of types */
    unsigned char sentbreak, abbr, ellipsis, period_final;
} Tok;

typedef struct {
    Tok *t;
    size_t n, cap;
    StrBuf types;
    StrBuf tmp;
    NlpMatch *md;
} Ctx;

static const char *tok_type(const Ctx *c, const Tok *t) { return c->types.buf + t->type_off; }

/* "\.\.+$" matched at the start. */
static int is_ellipsis(const Tok *t)
{
    if (t->len < 2)
        return 0;
    for (size_t i = 0; i < t->len; i++)
        if (t->tok[i] != '.')
            return 0;
    return 1;
}

/* "[^\W\d]\.$" matched at the start: one letter-like code point then ".". */
static int is_initial(const PunktModel *m, Ctx *c, const Tok *t)
{
    if (t->len < 2 || t->len > 5 || t->tok[t->len - 1] != '.')
        return 0;
    if (t->len == 2 && !((unsigned char)t->tok[0] & 0x80)) { /* ASCII: [A-Za-z_] */
        unsigned char ch = (unsigned char)t->tok[0] | 0x20;
        return (ch >= 'a' && ch <= 'z') || t->tok[0] == '_';
    }
    return nlpre_match(m->re_initial, t->tok, t->len, 0, c->md) > 0;
}

/* _RE_NUMERIC, ^-?[.,]?\d[\d,.\-]*\.?$, on an ASCII lower-cased token
 * s[0..n) (never holding "\n"): no backtracking can help, as each optional
 * part, if skipped, leaves a character the next part rejects. */
static int is_number_ascii(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && (s[i] == '.' || s[i] == ','))
        i++;
    if (!(i < n && s[i] >= '0' && s[i] <= '9'))
        return 0;
    for (i++; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == ',' || s[i] == '.' || s[i] == '-'))
            return 0;
    return 1;
}

/* PunktToken.__init__: type = _RE_NUMERIC.sub("##number##", tok.lower()).
 * ASCII tokens are lower-cased straight into the types buffer; others go
 * through str.lower() and PCRE2 (Unicode digits). */
static void add_token(const PunktModel *m, Ctx *c, const char *s, size_t n)
{
    if (c->n >= c->cap)
        c->t = grow_array(c->t, &c->cap, c->n + 1, sizeof *c->t);
    Tok *t = &c->t[c->n++];
    *t = (Tok){.tok = s, .len = n, .period_final = n && s[n - 1] == '.'};
    t->type_off = c->types.len;
    size_t i = 0;
    while (i < n && !((unsigned char)s[i] & 0x80))
        i++;
    if (i == n) {
        sb_grow(&c->types, n + 11);
        char *o = c->types.buf + c->types.len;
        for (size_t j = 0; j < n; j++) {
            unsigned char ch = (unsigned char)s[j];
            o[j] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
        size_t len = n;
        if (is_number_ascii(o, n)) {
            memcpy(o, "##number##", 10);
            len = 10;
        }
        o[len] = 0;
        c->types.len += len + 1;
        t->type_len = len;
        return;
    }
    sb_reset(&c->tmp);
    nlpre_lower(s, n, &c->tmp);
    if (nlpre_match(m->re_number, c->tmp.buf, c->tmp.len, 0, c->md) > 0)
        sb_adds(&c->types, "##number##");
    else
        sb_add(&c->types, c->tmp.buf, c->tmp.len);
    t->type_len = c->types.len - t->type_off;
    sb_addc(&c->types, '\0');
}

/* ---- PunktLanguageVars.word_tokenize, by hand ----------------------------
 *
 * findall of  MULTICHAR | (?=WORDSTART)\S+?(?=END) | \S  on one line, where
 *   MULTICHAR = -{2,} | \.{2,} | (?:\.\s){2,}\.
 *   WORDSTART = [^("`{[:;&#*@)}\]\-,]
 *   END       = \s | $ | NONWORD | MULTICHAR | ,(?=$|\s|NONWORD|MULTICHAR)
 *   NONWORD   = [)";}\]*:@'({[?!]
 * White space never starts a match and every non-space does (\S), so the
 * scan skips \s and tries the alternatives in order at each other position.
 * The lazy \S+? stops at the first position after one code point where END
 * holds; \s and the line end satisfy END, so it never runs into white space.
 * (The PCRE2 version of this pattern cost ~550 instructions a token.) */

/* Byte classes: NONWORD, the bytes WORDSTART excludes, and the plain bytes
 * (ASCII, not white space, NONWORD, ',', '.' or '-': END never holds
 * before one), filled in by wcls_init. */
enum { C_NONWORD = 1, C_NOSTART = 2, C_PLAIN = 4 };
static unsigned char wcls[256] = {
    [')'] = 3, ['"'] = 3, [';'] = 3, ['}'] = 3, [']'] = 3, ['*'] = 3, [':'] = 3, ['@'] = 3, ['('] = 3, ['{'] = 3,
    ['['] = 3, ['\''] = 1, ['?'] = 1, ['!'] = 1, ['`'] = 2, ['&'] = 2, ['#'] = 2, ['-'] = 2, [','] = 2,
};
static pthread_once_t wcls_once = PTHREAD_ONCE_INIT;

static void wcls_init(void)
{
    for (int c = 0; c < 0x80; c++)
        if (!(wcls[c] & C_NONWORD) && c != ',' && c != '.' && c != '-' && c != ' ' && !(c >= 0x09 && c <= 0x0d) &&
            !(c >= 0x1c && c <= 0x1f))
            wcls[c] |= C_PLAIN;
}

static int is_nonword(char ch) { return wcls[(unsigned char)ch] & C_NONWORD; }

/* Pairs "." + one \s code point from s[i]: their count, *after = the offset
 * after them. */
static size_t dot_space_pairs(const char *s, size_t n, size_t i, size_t *after)
{
    size_t k = 0, sl;
    while (i + 1 < n && s[i] == '.' && (sl = nlpre_space_len(s, n, i + 1))) {
        i += 1 + sl;
        k++;
    }
    *after = i;
    return k;
}

/* Length of a MULTICHAR match at s[j], or 0. */
static size_t multichar_len(const char *s, size_t n, size_t j)
{
    if (j + 1 >= n)
        return 0;
    char c = s[j];
    if ((c == '-' || c == '.') && s[j + 1] == c) {
        size_t e = j + 2;
        while (e < n && s[e] == c)
            e++;
        return e - j;
    }
    if (c != '.')
        return 0;
    size_t after, k = dot_space_pairs(s, n, j, &after);
    if (k >= 2 && after < n && s[after] == '.')
        return after + 1 - j;
    if (k >= 3) { /* give back the last pair: its '.' ends the match */
        size_t e = j;
        for (size_t q = 0; q + 1 < k; q++)
            e += 1 + nlpre_space_len(s, n, e + 1);
        return e + 1 - j;
    }
    return 0;
}

/* END at s[j] (j <= n). */
static int word_end(const char *s, size_t n, size_t j)
{
    if (j >= n || nlpre_space_len(s, n, j) || is_nonword(s[j]) || ((s[j] == '.' || s[j] == '-') && multichar_len(s, n, j)))
        return 1;
    if (s[j] != ',')
        return 0;
    j++;
    return j >= n || nlpre_space_len(s, n, j) || is_nonword(s[j]) || ((s[j] == '.' || s[j] == '-') && multichar_len(s, n, j));
}

static size_t utf8_step(const char *s, size_t n, size_t i)
{
    unsigned char b = (unsigned char)s[i];
    size_t k = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    return i + k <= n ? k : n - i;
}

/* PunktBaseClass._tokenize_words: lines with non-blank content, the word
 * pattern's findall on each. */
static void tokenize_words(const PunktModel *m, Ctx *c, const char *s, size_t n)
{
    size_t i = 0;
    while (i <= n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        size_t pos = i, k;
        while (pos < e) {
            if ((k = nlpre_space_len(s, e, pos))) {
                pos += k;
                continue;
            }
            size_t end = pos + multichar_len(s, e, pos);
            if (end == pos) {
                end = pos + utf8_step(s, e, pos);
                if (!(wcls[(unsigned char)s[pos]] & C_NOSTART))
                    for (;;) {
                        while (end < e && (wcls[(unsigned char)s[end]] & C_PLAIN))
                            end++; /* END cannot hold before a plain byte */
                        if (word_end(s, e, end))
                            break;
                        end += utf8_step(s, e, end);
                    }
            }
            add_token(m, c, s + pos, end - pos);
            pos = end;
        }
        if (!nl)
            break;
        i = e + 1;
    }
}

/* PunktBaseClass._first_pass_annotation */
static void first_pass(const PunktModel *m, Ctx *c, Tok *t)
{
    if (t->len == 1 && (t->tok[0] == '.' || t->tok[0] == '?' || t->tok[0] == '!')) {
        t->sentbreak = 1;
    } else if (is_ellipsis(t)) {
        t->ellipsis = 1;
    } else if (t->period_final && !(t->len >= 2 && t->tok[t->len - 2] == '.')) {
        /* tok[:-1].lower() is the type without its final '.', unless the
         * type is ##number## */
        const char *low = tok_type(c, t);
        size_t ln = t->type_len - 1;
        if (t->type_len == 10 && !memcmp(low, "##number##", 10)) {
            sb_reset(&c->tmp);
            nlpre_lower(t->tok, t->len - 1, &c->tmp);
            low = c->tmp.buf;
            ln = c->tmp.len;
        }
        const char *dash = memrchr(low, '-', ln);
        const char *last = dash ? dash + 1 : low;
        if (map_get(&m->map[M_ABBREV], low, ln) > 0 || map_get(&m->map[M_ABBREV], last, (size_t)(low + ln - last)) > 0)
            t->abbr = 1;
        else
            t->sentbreak = 1;
    }
}

/* type_no_period / type_no_sentperiod: (pointer, length) into types. */
static size_t type_no_period(const Ctx *c, const Tok *t, const char **p)
{
    const char *ty = tok_type(c, t);
    *p = ty;
    if (nlpre_cplen(ty, t->type_len) > 1 && ty[t->type_len - 1] == '.')
        return t->type_len - 1;
    return t->type_len;
}

static size_t type_no_sentperiod(const Ctx *c, const Tok *t, const char **p)
{
    if (t->sentbreak)
        return type_no_period(c, t, p);
    *p = tok_type(c, t);
    return t->type_len;
}

static int ortho_of(const PunktModel *m, const char *k, size_t n)
{
    int v = map_get(&m->map[M_ORTHO], k, n);
    return v < 0 ? 0 : v;
}

enum { OH_FALSE = 0, OH_TRUE = 1, OH_UNKNOWN = 2 };

/* PunktSentenceTokenizer._ortho_heuristic */
static int ortho_heuristic(const PunktModel *m, const Ctx *c, const Tok *t)
{
    if (t->len == 1 && strchr(";:,.!?", t->tok[0]))
        return OH_FALSE;
    const char *k;
    size_t kn = type_no_sentperiod(c, t, &k);
    int oc = ortho_of(m, k, kn);
    int fc = nlpre_first_case(t->tok, t->len);
    if (fc == NLPRE_UPPER && (oc & ORTHO_LC) && !(oc & ORTHO_MID_UC))
        return OH_TRUE;
    if (fc == NLPRE_LOWER && ((oc & ORTHO_UC) || !(oc & ORTHO_BEG_LC)))
        return OH_FALSE;
    return OH_UNKNOWN;
}

/* PunktSentenceTokenizer._second_pass_annotation */
static void second_pass(const PunktModel *m, Ctx *c, Tok *t1, const Tok *t2)
{
    if (!t1->period_final)
        return;
    const char *typ, *next;
    size_t typn = type_no_period(c, t1, &typ);
    size_t nextn = type_no_sentperiod(c, t2, &next);
    int initial = is_initial(m, c, t1);
    sb_reset(&c->tmp);
    sb_add(&c->tmp, typ, typn);
    sb_addc(&c->tmp, '\t');
    sb_add(&c->tmp, next, nextn);
    if (map_get(&m->map[M_COLLOC], c->tmp.buf, c->tmp.len) > 0) {
        t1->sentbreak = 0;
        t1->abbr = 1;
        return;
    }
    if ((t1->abbr || t1->ellipsis) && !initial) {
        int h = ortho_heuristic(m, c, t2);
        if (h == OH_TRUE) {
            t1->sentbreak = 1;
            return;
        }
        if (nlpre_first_case(t2->tok, t2->len) == NLPRE_UPPER && map_get(&m->map[M_STARTERS], next, nextn) > 0) {
            t1->sentbreak = 1;
            return;
        }
    }
    if (initial || (typn == 10 && !memcmp(typ, "##number##", 10))) {
        int h = ortho_heuristic(m, c, t2);
        if (h == OH_FALSE) {
            t1->sentbreak = 0;
            t1->abbr = 1;
            return;
        }
        if (h == OH_UNKNOWN && initial && nlpre_first_case(t2->tok, t2->len) == NLPRE_UPPER &&
            !(ortho_of(m, next, nextn) & ORTHO_LC)) {
            t1->sentbreak = 0;
            t1->abbr = 1;
        }
    }
}

/* PunktSentenceTokenizer.text_contains_sentbreak */
static int contains_sentbreak(const PunktModel *m, Ctx *c, const char *s, size_t n)
{
    c->n = 0;
    sb_reset(&c->types);
    tokenize_words(m, c, s, n);
    for (size_t i = 0; i < c->n; i++)
        first_pass(m, c, &c->t[i]);
    /* Token i is annotated with i+1 seen after its first pass only; a
     * break on any token but the last means the text holds a break. */
    for (size_t i = 0; i + 1 < c->n; i++) {
        second_pass(m, c, &c->t[i], &c->t[i + 1]);
        if (c->t[i].sentbreak)
            return 1;
    }
    return 0;
}

typedef struct {
    size_t start, end; /* the end character */
    size_t after_end;  /* end of the after_tok group */
    size_t next_tok;   /* start of next_tok, or SIZE_MAX */
    size_t word;       /* start of the word before (prev_word_slice.start) */
} Cand;

/* period_context_re, [.?!](?=(NONWORD|\s+(\S+))), at s[p] (one of .?!):
 * the NONWORD characters are not \s, so the two branches never compete; the
 * second needs a \S after the greedy \s run (backing off cannot help) and
 * takes the whole \S run.  Fills cur and returns 1 on a match. */
static int period_context(const char *s, size_t n, size_t p, Cand *cur)
{
    size_t q = p + 1;
    if (q >= n)
        return 0;
    char ch = s[q];
    if (ch && strchr(")\";}]*:@'({[?!", ch)) {
        *cur = (Cand){p, p + 1, q + 1, SIZE_MAX, 0};
        return 1;
    }
    size_t k;
    if (!nlpre_space_len(s, n, q))
        return 0;
    while (q < n && (k = nlpre_space_len(s, n, q)))
        q += k;
    if (q >= n)
        return 0;
    size_t t = q;
    while (q < n && !nlpre_space_len(s, n, q)) {
        unsigned char b = (unsigned char)s[q];
        q += b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    }
    *cur = (Cand){p, p + 1, q > n ? n : q, t, 0};
    return 1;
}

/* PunktLanguageVars.re_boundary_realignment.match(text[s2s:e]), the pattern
 * ["')\]}]+?(?:\s+|(?=--)|$) with re.MULTILINE: after each closing mark
 * (lazy), white space (taken greedily), "--" ahead or the end ends the
 * match ("$" before a "\n" is already white space).  The match end, or 0
 * for no match (a match is never empty). */
static size_t realign_match(const char *s, size_t s2s, size_t e)
{
    size_t i = s2s, k;
    while (i < e && (s[i] == '"' || s[i] == '\'' || s[i] == ')' || s[i] == ']' || s[i] == '}')) {
        i++;
        if (i < e && nlpre_space_len(s, e, i)) {
            while (i < e && (k = nlpre_space_len(s, e, i)))
                i += k;
            return i;
        }
        if (i == e || (i + 1 < e && s[i] == '-' && s[i + 1] == '-'))
            return i;
    }
    return 0;
}

/* The next '.', '?' or '!' at or after from: one memchr per character,
 * redone only once passed (sentence ends are sparse; a byte loop over the
 * whole text cost ~5 instructions a byte). */
typedef struct {
    const char *s;
    size_t n;
    size_t at[3]; /* next position of each, n for none, SIZE_MAX unknown */
} EndScan;

static size_t next_end(EndScan *es, size_t from)
{
    static const char ch[3] = {'.', '?', '!'};
    size_t best = es->n;
    for (int k = 0; k < 3; k++) {
        if (es->at[k] == SIZE_MAX || es->at[k] < from) {
            const char *p = from < es->n ? memchr(es->s + from, ch[k], es->n - from) : NULL;
            es->at[k] = p ? (size_t)(p - es->s) : es->n;
        }
        if (es->at[k] < best)
            best = es->at[k];
    }
    return best;
}

static int is_ascii_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f'; }

size_t punkt_sentences(const PunktModel *m, const char *text, size_t n, Span **spans)
{
    char *fixed = NULL;
    if (!utf8_valid(text, n, NULL)) {
        /* Same length, so spans stay offsets into the caller's text. */
        fixed = xmalloc(n ? n : 1);
        size_t i = 0;
        while (i < n) {
            uint32_t cp;
            size_t k = utf8_decode(text + i, n - i, &cp);
            if (k) {
                memcpy(fixed + i, text + i, k);
                i += k;
            } else {
                fixed[i++] = 0x1a;
            }
        }
        text = fixed;
    }
    Ctx c = {0};
    c.types = (StrBuf)SB_INIT;
    c.tmp = (StrBuf)SB_INIT;
    c.md = nlpre_match_tls();
    pthread_once(&wcls_once, wcls_init);
    EndScan es = {text, n, {SIZE_MAX, SIZE_MAX, SIZE_MAX}};
    Span *sl = NULL; /* _slices_from_text */
    size_t nsl = 0, capsl = 0;
    size_t last_break = 0;

    /* _match_potential_end_contexts: a candidate is emitted when the next
     * one does not overlap it. */
    int have_prev = 0;
    Cand prev = {0};
    size_t prev_slice_start = 0, prev_slice_stop = 0;
    size_t pos = 0;
    for (;;) {
        Cand cur;
        /* finditer of period_context_re: the match is one end character, so
         * try the (anchored) pattern at each '.', '?', '!' from pos on. */
        int more = 0;
        for (size_t p = next_end(&es, pos); p < n; p = next_end(&es, p + 1))
            if (period_context(text, n, p, &cur)) {
                more = 1;
                break;
            }
        if (more) {
            size_t i = cur.start;
            size_t idx = 0; /* _get_last_whitespace_index of text[prev_slice_stop:start] */
            while (i > prev_slice_stop) {
                i--;
                if (is_ascii_ws(text[i])) {
                    idx = i - prev_slice_stop;
                    break;
                }
            }
            cur.word = idx ? prev_slice_stop + idx + 1 : prev_slice_start;
            pos = cur.end;
        }
        int emit = have_prev && (!more || prev_slice_stop <= cur.word);
        if (emit) {
            if (contains_sentbreak(m, &c, text + prev.word, prev.after_end - prev.word)) {
                if (nsl >= capsl)
                    sl = grow_array(sl, &capsl, nsl + 1, sizeof *sl);
                sl[nsl].start = last_break;
                sl[nsl].end = prev.end;
                nsl++;
                last_break = prev.next_tok != SIZE_MAX ? prev.next_tok : prev.end;
            }
        }
        if (!more)
            break;
        prev = cur;
        have_prev = 1;
        prev_slice_start = cur.word;
        prev_slice_stop = cur.start;
    }
    if (nsl >= capsl)
        sl = grow_array(sl, &capsl, nsl + 1, sizeof *sl);
    sl[nsl].start = last_break;
    sl[nsl].end = nlpre_rstrip_len(text, n);
    nsl++;

    /* _realign_boundaries */
    Span *out = NULL;
    size_t nout = 0, capout = 0;
    size_t realign = 0;
    for (size_t i = 0; i < nsl; i++) {
        size_t s1s = sl[i].start + realign, s1e = sl[i].end;
        int nonempty = s1s < s1e;
        if (i + 1 == nsl) {
            if (nonempty) {
                if (nout >= capout)
                    out = grow_array(out, &capout, nout + 1, sizeof *out);
                out[nout++] = (Span){s1s, s1e};
            }
            continue;
        }
        size_t s2s = sl[i + 1].start, s2e = sl[i + 1].end;
        size_t me = s2s <= s2e ? realign_match(text, s2s, s2e) : 0;
        if (me) {
            size_t kept = nlpre_rstrip_len(text + s2s, me - s2s);
            if (nout >= capout)
                out = grow_array(out, &capout, nout + 1, sizeof *out);
            out[nout++] = (Span){s1s, s2s + kept};
            realign = me - s2s;
        } else {
            realign = 0;
            if (nonempty) {
                if (nout >= capout)
                    out = grow_array(out, &capout, nout + 1, sizeof *out);
                out[nout++] = (Span){s1s, s1e};
            }
        }
    }
    free(sl);
    free(c.t);
    sb_release(&c.types);
    sb_release(&c.tmp);
    free(fixed);
    *spans = out;
    return nout;
}
