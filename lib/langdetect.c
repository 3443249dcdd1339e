/*
 * langdetect.c - a port of Python langdetect 1.0.9 (detector.py,
 * detector_factory.py, utils/ngram.py, utils/unicode_block.py,
 * utils/messages.py) and of the parts of CPython's random.Random it uses.
 * See langdetect.h.
 */
#include "langdetect.h"
#include "nlpre.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_TRIAL 7
#define ALPHA_DEFAULT 0.5
#define ALPHA_WIDTH 0.05
#define ITERATION_LIMIT 1000
#define PROB_THRESHOLD 0.1
#define CONV_THRESHOLD 0.99999
#define BASE_FREQ 10000
#define MAX_TEXT_LENGTH 10000
#define CJK_LO 0x4e00 /* the range NGram.normalize maps through CJK_MAP */
#define CJK_HI 0x9fff

/* ---- CPython random.Random (Modules/_randommodule.c, Lib/random.py) ----- */

typedef struct {
    uint32_t mt[624];
    int mti;
    int has_gauss;
    double gauss_next;
} PyRandom;

static void mt_init_genrand(PyRandom *r, uint32_t s)
{
    r->mt[0] = s;
    for (int i = 1; i < 624; i++)
        r->mt[i] = 1812433253U * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = 624;
}

static void mt_init_by_array(PyRandom *r, const uint32_t *key, size_t klen)
{
    mt_init_genrand(r, 19650218U);
    size_t i = 1, j = 0;
    for (size_t k = 624 > klen ? 624 : klen; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525U)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= 624) {
            r->mt[0] = r->mt[623];
            i = 1;
        }
        if (j >= klen)
            j = 0;
    }
    for (size_t k = 623; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941U)) - (uint32_t)i;
        i++;
        if (i >= 624) {
            r->mt[0] = r->mt[623];
            i = 1;
        }
    }
    r->mt[0] = 0x80000000U;
}

static uint32_t mt_next(PyRandom *r)
{
    static const uint32_t mag01[2] = {0, 0x9908b0dfU};
    uint32_t y;
    if (r->mti >= 624) {
        int kk;
        for (kk = 0; kk < 624 - 397; kk++) {
            y = (r->mt[kk] & 0x80000000U) | (r->mt[kk + 1] & 0x7fffffffU);
            r->mt[kk] = r->mt[kk + 397] ^ (y >> 1) ^ mag01[y & 1];
        }
        for (; kk < 623; kk++) {
            y = (r->mt[kk] & 0x80000000U) | (r->mt[kk + 1] & 0x7fffffffU);
            r->mt[kk] = r->mt[kk + (397 - 624)] ^ (y >> 1) ^ mag01[y & 1];
        }
        y = (r->mt[623] & 0x80000000U) | (r->mt[0] & 0x7fffffffU);
        r->mt[623] = r->mt[396] ^ (y >> 1) ^ mag01[y & 1];
        r->mti = 0;
    }
    y = r->mt[r->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= y >> 18;
    return y;
}

/* random.seed(n) for a non-negative int n: key = n's 32-bit words, little end first. */
static void pyrandom_seed(PyRandom *r, uint64_t n)
{
    uint32_t key[2] = {(uint32_t)n, (uint32_t)(n >> 32)};
    mt_init_by_array(r, key, key[1] ? 2 : 1);
    r->has_gauss = 0;
}

static double pyrandom_random(PyRandom *r)
{
    uint32_t a = mt_next(r) >> 5, b = mt_next(r) >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

static double pyrandom_gauss(PyRandom *r, double mu, double sigma)
{
    double z;
    if (r->has_gauss) {
        z = r->gauss_next;
        r->has_gauss = 0;
    } else {
        double x2pi = pyrandom_random(r) * 2.0 * M_PI;
        double g2rad = sqrt(-2.0 * log(1.0 - pyrandom_random(r)));
        z = cos(x2pi) * g2rad;
        r->gauss_next = sin(x2pi) * g2rad;
        r->has_gauss = 1;
    }
    return mu + z * sigma;
}

/* random._randbelow_with_getrandbits(n), n >= 1 and < 2^32; k is n.bit_length(). */
static uint32_t pyrandom_below_k(PyRandom *r, uint32_t n, int k)
{
    uint32_t x = mt_next(r) >> (32 - k);
    while (x >= n)
        x = mt_next(r) >> (32 - k);
    return x;
}

static int bit_length(uint32_t n)
{
    return n ? 32 - __builtin_clz(n) : 0;
}

/* ---- the detector -------------------------------------------------------- */

/* n-grams (1..3 code points) packed as (c0+1) | (c1+1) << 21 | (c2+1) << 42. */
struct Triple {
    uint32_t row;
    uint32_t lang;
    double val;
};


typedef struct {
    uint64_t key; /* 0 = empty */
    uint64_t row;
} GramSlot;

typedef struct {
    GramSlot *slots;
    size_t cap, n;
} GramMap;

struct LangDetector {
    char **langs;
    size_t nlang; /* profiles loaded */
    GramMap grams;
    /* p(gram | language), sparse: row r (an n-gram) holds row_val[k] for language
     * row_lang[k], k in [row_start[r], row_start[r + 1]), languages increasing;
     * absent languages have probability 0.0 (2.4 MB instead of a 38 MB dense
     * table, whose page faults dominated the load).  While loading, the (row,
     * language, value) triples collect in tri. */
    uint32_t *row_start;
    uint8_t *row_lang;
    double *row_val;
    struct Triple *tri;
    size_t ntri, tricap;
    /* messages.properties tables */
    uint32_t latin1_excluded[16];
    size_t n_latin1_excluded;
    uint32_t vi_alpha[64], vi_dmark[8];
    size_t n_vi_alpha, n_vi_dmark;
    uint32_t vi_norm[5][64];
    uint32_t *cjk_map; /* U+4E00..U+9FFF -> its class representative, 0 if none */
    NlpRegex *url_re, *mail_re;
    void *map;      /* the mmap'd table file holding grams and rows, or NULL */
    size_t map_len;
};

static void add_triple(LangDetector *d, uint32_t row, size_t lang, double val)
{
    d->tri = grow_array(d->tri, &d->tricap, d->ntri + 1, sizeof *d->tri);
    d->tri[d->ntri++] = (struct Triple){row, (uint32_t)lang, val};
}

/* Turn the load-time triples into the row arrays (a stable counting sort by
 * row; a language given twice for one gram keeps the last value, as a Python
 * dict update would). */
static void build_rows(LangDetector *d)
{
    size_t nrow = d->grams.n;
    uint32_t *start = xcalloc(nrow + 1, sizeof *start);
    for (size_t i = 0; i < d->ntri; i++)
        start[d->tri[i].row + 1]++;
    for (size_t r = 0; r < nrow; r++)
        start[r + 1] += start[r];
    uint32_t *fill = xcalloc(nrow ? nrow : 1, sizeof *fill);
    uint8_t *lang = xmalloc(d->ntri ? d->ntri : 1);
    double *val = xmalloc(size_mul(d->ntri ? d->ntri : 1, sizeof *val));
    for (size_t i = 0; i < d->ntri; i++) {
        const struct Triple *t = &d->tri[i];
        size_t at = start[t->row] + fill[t->row];
        if (fill[t->row] && lang[at - 1] == t->lang) {
            val[at - 1] = t->val;
            continue;
        }
        lang[at] = (uint8_t)t->lang;
        val[at] = t->val;
        fill[t->row]++;
    }
    /* close the gaps left by repeated languages */
    size_t k = 0;
    for (size_t r = 0; r < nrow; r++) {
        size_t s0 = start[r], m = fill[r];
        start[r] = (uint32_t)k;
        memmove(lang + k, lang + s0, m);
        memmove(val + k, val + s0, m * sizeof *val);
        k += m;
    }
    start[nrow] = (uint32_t)k;
    free(fill);
    free(d->tri);
    d->tri = NULL;
    d->ntri = d->tricap = 0;
    d->row_start = start;
    d->row_lang = lang;
    d->row_val = val;
}


static uint64_t gram_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

static long gram_get(const GramMap *m, uint64_t key)
{
    if (!m->cap)
        return -1;
    size_t j = gram_hash(key) & (m->cap - 1);
    while (m->slots[j].key) {
        if (m->slots[j].key == key)
            return (long)m->slots[j].row;
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

static uint32_t gram_add(LangDetector *d, uint64_t key)
{
    long r = gram_get(&d->grams, key);
    if (r >= 0)
        return (uint32_t)r;
    GramMap *m = &d->grams;
    if ((m->n + 1) * 2 > m->cap) {
        GramMap g = {0};
        g.cap = m->cap ? m->cap * 2 : 1 << 18; /* the 55 shipped profiles hold ~180,000 entries */
        g.slots = xcalloc(g.cap, sizeof *g.slots);
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key) {
                size_t j = gram_hash(m->slots[i].key) & (g.cap - 1);
                while (g.slots[j].key)
                    j = (j + 1) & (g.cap - 1);
                g.slots[j] = m->slots[i];
            }
        g.n = m->n;
        free(m->slots);
        *m = g;
    }
    size_t j = gram_hash(key) & (m->cap - 1);
    while (m->slots[j].key)
        j = (j + 1) & (m->cap - 1);
    m->slots[j].key = key;
    m->slots[j].row = m->n;
    return (uint32_t)m->n++;
}

static uint64_t pack_gram(const uint32_t *c, size_t n)
{
    uint64_t k = (uint64_t)(c[0] + 1);
    if (n > 1)
        k |= (uint64_t)(c[1] + 1) << 21;
    if (n > 2)
        k |= (uint64_t)(c[2] + 1) << 42;
    return k;
}

/* Decode UTF-8 (valid) into code points; returns the count. */
static size_t decode_all(const char *s, size_t n, uint32_t *out)
{
    size_t k = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_decode(s + i, n - i, &cp);
        out[k++] = cp;
        i += l ? l : 1;
    }
    return k;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    StrBuf sb = SB_INIT;
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        sb_add(&sb, buf, got);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        sb_release(&sb);
        return NULL;
    }
    return sb_detach(&sb, len);
}

/* A value of messages.properties: ASCII with \uXXXX escapes. */
static size_t parse_escaped(const char *v, uint32_t *out, size_t max)
{
    size_t k = 0;
    while (*v && k < max) {
        if (v[0] == '\\' && v[1] == 'u') {
            char hex[5] = {0};
            memcpy(hex, v + 2, 4);
            out[k++] = (uint32_t)strtoul(hex, NULL, 16);
            v += 6;
        } else {
            uint32_t cp;
            size_t l = utf8_decode(v, strlen(v), &cp);
            out[k++] = cp;
            v += l ? l : 1;
        }
    }
    return k;
}

static int load_messages(LangDetector *d, const char *path, Err *err)
{
    static char where[4096];
    snprintf(where, sizeof where, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, where, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint32_t tmp[1024];
    d->cjk_map = xcalloc(CJK_HI - CJK_LO + 1, sizeof *d->cjk_map);
    int have = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        while (got && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *key = line, *val = eq + 1;
        if (!strncmp(key, "NGram.KANJI_", 12)) {
            /* CJK_MAP: the last class naming a character wins (a dict update) */
            size_t k = parse_escaped(val, tmp, 1024);
            for (size_t i = 0; i < k; i++)
                if (tmp[i] >= CJK_LO && tmp[i] <= CJK_HI)
                    d->cjk_map[tmp[i] - CJK_LO] = tmp[0];
        } else if (!strcmp(key, "NGram.LATIN1_EXCLUDE")) {
            d->n_latin1_excluded = parse_escaped(val, d->latin1_excluded, 16);
            have |= 1;
        } else if (!strcmp(key, "TO_NORMALIZE_VI_CHARS")) {
            d->n_vi_alpha = parse_escaped(val, d->vi_alpha, 64);
            have |= 2;
        } else if (!strcmp(key, "DMARK_CLASS")) {
            d->n_vi_dmark = parse_escaped(val, d->vi_dmark, 8);
            have |= 4;
        } else if (!strncmp(key, "NORMALIZED_VI_CHARS_", 20)) {
            static const char *const marks[5] = {"0300", "0301", "0303", "0309", "0323"};
            for (int m = 0; m < 5; m++)
                if (!strcmp(key + 20, marks[m])) {
                    parse_escaped(val, d->vi_norm[m], 64);
                    have |= 8 << m;
                }
        }
    }
    free(line);
    fclose(f);
    if (have != 0xff || d->n_vi_dmark != 5) {
        err_set(err, where, 0, "missing or malformed NGram/Vietnamese tables");
        return -1;
    }
    return 0;
}

typedef struct {
    const char *key;
    size_t len;
    double count;
} FreqEntry;

/* A non-negative JSON integer at *p (no sign, fraction or exponent), as a double. */
static int parse_uint(const char **p, const char *end, double *v)
{
    const char *q = *p;
    uint64_t x = 0;
    if (q >= end || *q < '0' || *q > '9')
        return -1;
    while (q < end && *q >= '0' && *q <= '9') {
        if (x > (UINT64_C(1) << 52))
            return -1;
        x = x * 10 + (uint64_t)(*q++ - '0');
    }
    if (q < end && (*q == '.' || *q == 'e' || *q == 'E'))
        return -1;
    *v = (double)x;
    *p = q;
    return 0;
}

static int expect(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n))
        return -1;
    *p += n;
    return 0;
}

/* The shipped profiles' exact shape, {"freq":{"k":int,...},"n_words":[a,b,c],"name":"xx"},
 * without escapes, parsed in place (no allocation per entry).  -1 means "use the
 * general JSON path", not an error. */
static int parse_profile_fast(const char *text, size_t len, FreqEntry **out, size_t *nout, double n_words[3],
                              const char **name, size_t *name_len)
{
    const char *p = text, *end = text + len;
    FreqEntry *e = NULL;
    size_t n = 0, cap = 0;
    if (expect(&p, end, "{\"freq\":{"))
        return -1;
    while (p < end && *p == '"') {
        const char *k = ++p;
        while (p < end && *p != '"' && *p != '\\')
            p++;
        if (p >= end || *p != '"')
            goto fail;
        FreqEntry fe = {k, (size_t)(p - k), 0.0};
        p++;
        if (expect(&p, end, ":") || parse_uint(&p, end, &fe.count))
            goto fail;
        e = grow_array(e, &cap, n + 1, sizeof *e);
        e[n++] = fe;
        if (p < end && *p == ',')
            p++;
        else
            break;
    }
    if (expect(&p, end, "},\"n_words\":["))
        goto fail;
    for (int i = 0; i < 3; i++)
        if (parse_uint(&p, end, &n_words[i]) || expect(&p, end, i < 2 ? "," : "]"))
            goto fail;
    if (expect(&p, end, ",\"name\":\""))
        goto fail;
    *name = p;
    while (p < end && *p != '"' && *p != '\\')
        p++;
    if (p >= end || *p != '"')
        goto fail;
    *name_len = (size_t)(p - *name);
    p++;
    if (expect(&p, end, "}"))
        goto fail;
    while (p < end && (*p == '\n' || *p == ' ' || *p == '\r' || *p == '\t'))
        p++;
    if (p != end)
        goto fail;
    *out = e;
    *nout = n;
    return 0;
fail:
    free(e);
    return -1;
}

static int add_entries(LangDetector *d, const FreqEntry *e, size_t n, const double n_words[3], size_t index)
{
    uint32_t cps[4];
    for (size_t i = 0; i < n; i++) {
        const char *w = e[i].key;
        size_t wl = e[i].len, ncp = nlpre_cplen(w, wl);
        if (ncp < 1 || ncp > 3 || !utf8_valid(w, wl, NULL))
            continue;
        decode_all(w, wl, cps);
        uint32_t row = gram_add(d, pack_gram(cps, ncp));
        add_triple(d, row, index, 1.0 * e[i].count / n_words[ncp - 1]);
    }
    return 0;
}

static int load_profile(LangDetector *d, const char *path, size_t index, Err *err)
{
    static char where[4096];
    snprintf(where, sizeof where, "%s", path);
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        err_set(err, where, 0, "cannot read: %s", strerror(errno));
        return -1;
    }
    FreqEntry *fe;
    size_t nfe, name_len;
    double nw_fast[3];
    const char *fname;
    if (parse_profile_fast(text, len, &fe, &nfe, nw_fast, &fname, &name_len) == 0) {
        char *nm = xstrndup(fname, name_len);
        for (size_t i = 0; i < d->nlang; i++)
            if (!strcmp(d->langs[i], nm)) {
                err_set(err, where, 0, "duplicate language profile '%s'", nm);
                free(nm);
                free(fe);
                free(text);
                return -1;
            }
        d->langs[index] = nm;
        add_entries(d, fe, nfe, nw_fast, index);
        free(fe);
        free(text);
        return 0;
    }
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    cJSON *name = j ? cJSON_GetObjectItemCaseSensitive(j, "name") : NULL;
    cJSON *freq = j ? cJSON_GetObjectItemCaseSensitive(j, "freq") : NULL;
    cJSON *nw = j ? cJSON_GetObjectItemCaseSensitive(j, "n_words") : NULL;
    if (!cJSON_IsString(name) || !cJSON_IsObject(freq) || !cJSON_IsArray(nw) || cJSON_GetArraySize(nw) < 3) {
        cJSON_Delete(j);
        err_set(err, where, 0, "profile format error");
        return -1;
    }
    for (size_t i = 0; i < d->nlang; i++)
        if (!strcmp(d->langs[i], name->valuestring)) {
            cJSON_Delete(j);
            err_set(err, where, 0, "duplicate language profile '%s'", name->valuestring);
            return -1;
        }
    double n_words[3];
    for (int i = 0; i < 3; i++)
        n_words[i] = cJSON_GetArrayItem(nw, i)->valuedouble;
    d->langs[index] = xstrdup(name->valuestring);
    uint32_t cps[4];
    for (cJSON *it = freq->child; it; it = it->next) {
        const char *w = it->string;
        size_t wl = strlen(w), ncp = nlpre_cplen(w, wl);
        if (ncp < 1 || ncp > 3 || !utf8_valid(w, wl, NULL))
            continue;
        decode_all(w, wl, cps);
        uint32_t row = gram_add(d, pack_gram(cps, ncp));
        add_triple(d, row, index, 1.0 * it->valuedouble / n_words[ncp - 1]);
    }
    cJSON_Delete(j);
    return 0;
}

/* The messages.properties tables and the cleaning regexes, for both paths. */
static int finish_load(LangDetector *d, const char *dir, Err *err)
{
    StrBuf p = SB_INIT;
    sb_addf(&p, "%s/../messages.properties", dir);
    int rc = load_messages(d, p.buf, err);
    sb_release(&p);
    if (rc == 0 && (!(d->url_re = nlpre_compile("https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}", 0, err)) ||
                    !(d->mail_re = nlpre_compile("[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}", 0, err))))
        rc = -1;
    return rc;
}

LangDetector *langdetect_load(const char *dir, Err *err)
{
    static char where[4096];
    snprintf(where, sizeof where, "%s", dir);
    DIR *dh = opendir(dir);
    if (!dh) {
        err_set(err, where, 0, "cannot open profile folder: %s", strerror(errno));
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (de->d_name[0] == '.')
            continue;
        names = grow_array(names, &cap, n + 1, sizeof *names);
        names[n++] = xstrdup(de->d_name);
    }
    closedir(dh);
    if (n < 2 || n > 255) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        err_set(err, where, 0, "need 2 to 255 language profiles, found %zu", n);
        return NULL;
    }
    /* langdetect uses os.listdir order; we use sorted order, so the result
     * does not depend on the file system. */
    qsort(names, n, sizeof *names, cmp_str);
    LangDetector *d = xcalloc(1, sizeof *d);
    d->langs = xcalloc(n, sizeof *d->langs);
    StrBuf p = SB_INIT;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sb_reset(&p);
        sb_addf(&p, "%s/%s", dir, names[i]);
        rc = load_profile(d, p.buf, d->nlang, err);
        if (rc == 0)
            d->nlang++;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    sb_release(&p);
    if (rc == 0)
        build_rows(d);
    if (rc == 0)
        rc = finish_load(d, dir, err);
    if (rc) {
        langdetect_free(d);
        return NULL;
    }
    return d;
}

/* ---------------------------------------------------------------- precompiled table */

/* langdetect.table (next to profiles/) holds what langdetect_load builds from
 * the 55 JSON profiles -- language names, the gram hash table, the sparse
 * rows -- in the in-memory layout, so the default detector mmaps it instead
 * of parsing 2.3 MB of JSON (133 M instructions, a third of ifeval-score's
 * run on the 541 dev responses).  Only the pages a text's grams touch are
 * ever read.  Native byte order, checked by a marker; a file that does not
 * fit its header is not used (the JSON path is).  tests/unit/test_langdetect
 * regenerates it from the profiles and compares byte for byte, so it cannot
 * go stale unnoticed.
 *
 *   0  "MISOLDT1"   8  u32 0x01020304   12 u32 nlang
 *   16 u64 cap      24 u64 nrow         32 u64 nent
 *   40 nlang x 16-byte NUL-padded names, then (8-aligned) cap GramSlots,
 *   (nrow + 1) u32 row starts, (8-aligned) nent doubles, nent language bytes. */
#define TABLE_MAGIC "MISOLDT1"

static size_t align8(size_t x) { return (x + 7) & ~(size_t)7; }

typedef struct {
    size_t names, slots, starts, vals, langs, total;
} TableLayout;

static TableLayout table_layout(size_t nlang, size_t cap, size_t nrow, size_t nent)
{
    TableLayout t;
    t.names = 40;
    t.slots = align8(t.names + 16 * nlang);
    t.starts = t.slots + cap * sizeof(GramSlot);
    t.vals = align8(t.starts + (nrow + 1) * sizeof(uint32_t));
    t.langs = t.vals + nent * sizeof(double);
    t.total = t.langs + nent;
    return t;
}

void langdetect_table(const LangDetector *d, StrBuf *out)
{
    size_t nrow = d->grams.n, nent = d->row_start[nrow], cap = 1;
    while (cap * 3 < nrow * 4)
        cap *= 2; /* load factor <= 3/4 (0.67 for the shipped 87,598 grams) */
    TableLayout t = table_layout(d->nlang, cap, nrow, nent);
    char *b = xcalloc(t.total, 1);
    uint32_t marker = 0x01020304, nl = (uint32_t)d->nlang;
    uint64_t h[3] = {cap, nrow, nent};
    memcpy(b, TABLE_MAGIC, 8);
    memcpy(b + 8, &marker, 4);
    memcpy(b + 12, &nl, 4);
    memcpy(b + 16, h, sizeof h);
    for (size_t i = 0; i < d->nlang; i++)
        snprintf(b + t.names + 16 * i, 16, "%s", d->langs[i]);
    /* rows keep their numbers; slots are re-placed in row order */
    uint64_t *key_of = xmalloc(size_mul(nrow ? nrow : 1, sizeof *key_of));
    for (size_t i = 0; i < d->grams.cap; i++)
        if (d->grams.slots[i].key)
            key_of[d->grams.slots[i].row] = d->grams.slots[i].key;
    GramSlot *slots = (GramSlot *)(void *)(b + t.slots);
    for (size_t r = 0; r < nrow; r++) {
        size_t j = gram_hash(key_of[r]) & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j].key = key_of[r];
        slots[j].row = r;
    }
    free(key_of);
    memcpy(b + t.starts, d->row_start, (nrow + 1) * sizeof(uint32_t));
    memcpy(b + t.vals, d->row_val, nent * sizeof(double));
    memcpy(b + t.langs, d->row_lang, nent);
    sb_add(out, b, t.total);
    free(b);
}

/* The detector from a table file, or NULL (err filled) when the file is
 * missing or does not fit its header. */
static LangDetector *load_table(const char *path, const char *dir, Err *err)
{
    static char where[4096];
    snprintf(where, sizeof where, "%s", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 40) {
        err_set(err, where, 0, "cannot read the langdetect table");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    char *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        err_set(err, where, 0, "cannot map the langdetect table: %s", strerror(errno));
        return NULL;
    }
    uint32_t marker, nl;
    uint64_t h[3];
    memcpy(&marker, m + 8, 4);
    memcpy(&nl, m + 12, 4);
    memcpy(h, m + 16, sizeof h);
    TableLayout t = {0};
    int ok = !memcmp(m, TABLE_MAGIC, 8) && marker == 0x01020304 && nl >= 2 && nl <= 255 && h[0] &&
             !(h[0] & (h[0] - 1)) && h[0] < ((uint64_t)1 << 32) && h[1] < h[0] && h[2] < ((uint64_t)1 << 32);
    if (ok) {
        t = table_layout(nl, h[0], h[1], h[2]);
        ok = t.total == len;
    }
    const uint32_t *starts = ok ? (const uint32_t *)(const void *)(m + t.starts) : NULL;
    for (size_t r = 0; ok && r < h[1]; r++)
        ok = starts[r] <= starts[r + 1];
    ok = ok && starts[0] == 0 && starts[h[1]] == h[2];
    for (size_t i = 0; ok && i < h[2]; i++)
        ok = (unsigned char)m[t.langs + i] < nl;
    const GramSlot *slots = ok ? (const GramSlot *)(const void *)(m + t.slots) : NULL;
    for (size_t i = 0; ok && i < h[0]; i++)
        ok = !slots[i].key || slots[i].row < h[1];
    for (size_t i = 0; ok && i < nl; i++)
        ok = memchr(m + t.names + 16 * i, 0, 16) != NULL;
    if (!ok) {
        munmap(m, len);
        err_set(err, where, 0, "the langdetect table does not fit its header");
        return NULL;
    }
    LangDetector *d = xcalloc(1, sizeof *d);
    d->map = m;
    d->map_len = len;
    d->nlang = nl;
    d->langs = xcalloc(nl, sizeof *d->langs);
    for (size_t i = 0; i < nl; i++)
        d->langs[i] = xstrdup(m + t.names + 16 * i);
    d->grams.slots = (GramSlot *)(void *)(m + t.slots);
    d->grams.cap = h[0];
    d->grams.n = h[1];
    d->row_start = (uint32_t *)(void *)(m + t.starts);
    d->row_val = (double *)(void *)(m + t.vals);
    d->row_lang = (uint8_t *)(m + t.langs);
    if (finish_load(d, dir, err) < 0) {
        langdetect_free(d);
        return NULL;
    }
    return d;
}

const LangDetector *langdetect_default(Err *err)
{
    static LangDetector *cached;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (!cached) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", util_datapath("langdetect/profiles"));
        Err terr;
        cached = load_table(util_datapath("langdetect/langdetect.table"), dir, &terr);
        if (!cached)
            cached = langdetect_load(dir, err);
    }
    LangDetector *d = cached;
    pthread_mutex_unlock(&lock);
    return d;
}

void langdetect_free(LangDetector *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nlang; i++)
        free(d->langs[i]);
    free(d->langs);
    if (d->map) {
        munmap(d->map, d->map_len);
    } else {
        free(d->grams.slots);
        free(d->row_start);
        free(d->row_lang);
        free(d->row_val);
    }
    free(d->tri);
    free(d->cjk_map);
    nlpre_free(d->url_re);
    nlpre_free(d->mail_re);
    free(d);
}

static int is_upper(uint32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z';
    char buf[4];
    size_t k = utf8_encode(c, buf);
    return nlpre_first_case(buf, k) == NLPRE_UPPER;
}

/* NGram.normalize */
static uint32_t normalize(const LangDetector *d, uint32_t ch)
{
    if (ch <= 0x7f)
        return (ch < 'A' || (ch > 'Z' && ch < 'a') || ch > 'z') ? ' ' : ch;
    if (ch <= 0xff) {
        for (size_t i = 0; i < d->n_latin1_excluded; i++)
            if (d->latin1_excluded[i] == ch)
                return ' ';
        return ch;
    }
    if (ch >= 0x180 && ch <= 0x24f)
        return ch == 0x219 ? 0x15f : ch == 0x21b ? 0x163 : ch;
    if (ch >= 0x2000 && ch <= 0x206f)
        return ' ';
    if (ch >= 0x600 && ch <= 0x6ff)
        return ch == 0x6cc ? 0x64a : ch;
    if (ch >= 0x1e00 && ch <= 0x1eff)
        return ch >= 0x1ea0 ? 0x1ec3 : ch;
    if (ch >= 0x3040 && ch <= 0x309f)
        return 0x3042;
    if (ch >= 0x30a0 && ch <= 0x30ff)
        return 0x30a2;
    if ((ch >= 0x3100 && ch <= 0x312f) || (ch >= 0x31a0 && ch <= 0x31bf))
        return 0x3105;
    if (ch >= CJK_LO && ch <= CJK_HI)
        return d->cjk_map[ch - CJK_LO] ? d->cjk_map[ch - CJK_LO] : ch;
    if (ch >= 0xac00 && ch <= 0xd7af)
        return 0xac00;
    return ch;
}

static long index_of(const uint32_t *set, size_t n, uint32_t c)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == c)
            return (long)i;
    return -1;
}

typedef double V4d __attribute__((vector_size(32)));
typedef long long V4l __attribute__((vector_size(32)));
#define GRAM_CACHE 1024

/* prob[j] *= weight + lp[j] for j < Lp (a multiple of 4), four at a time:
 * the same IEEE operations in each lane.  Built twice, for AVX2 and for
 * the baseline (where the compiler splits each vector in two halves). */
__attribute__((target_clones("avx2", "default")))
static void walk_update(double *restrict prob, const double *restrict lp, double weight, size_t Lp)
{
    V4d wv = {weight, weight, weight, weight};
    for (size_t j = 0; j < Lp; j += 4) {
        V4d p, w;
        memcpy(&p, prob + j, sizeof p);
        memcpy(&w, lp + j, sizeof w);
        p *= wv + w;
        memcpy(prob + j, &p, sizeof p);
    }
}

/* prob[j] /= sump for j < Lp, four at a time (the same quotients); returns
 * the largest quotient (max does not depend on the order; no NaN here). */
__attribute__((target_clones("avx2", "default")))
static double walk_normalize(double *restrict prob, double sump, size_t Lp)
{
    V4d sv = {sump, sump, sump, sump}, mv = {0.0, 0.0, 0.0, 0.0};
    for (size_t j = 0; j < Lp; j += 4) {
        V4d p;
        memcpy(&p, prob + j, sizeof p);
        p /= sv;
        memcpy(prob + j, &p, sizeof p);
        V4l gt = mv < p; /* lanes where p is larger: all ones */
        mv = (V4d)(((V4l)p & gt) | ((V4l)mv & ~gt));
    }
    double m = mv[0];
    for (int q = 1; q < 4; q++)
        if (m < mv[q])
            m = mv[q];
    return m;
}

/* pyrandom_seed, with the state of the last seed kept per thread: every
 * detection starts from the same seed (DetectorFactory.seed). */
static void pyrandom_seed_cached(PyRandom *r, uint64_t seed)
{
    static _Thread_local PyRandom cached;
    static _Thread_local uint64_t cached_seed;
    static _Thread_local int have;
    if (!have || cached_seed != seed) {
        pyrandom_seed(&cached, seed);
        cached_seed = seed;
        have = 1;
    }
    *r = cached;
}

/* Detector._detect_block: fills langprob[nlang]; 0, or -1 with no features. */
static int detect_block(const LangDetector *d, const char *text, size_t n, uint64_t seed, double *langprob)
{
    StrBuf valid = SB_INIT, a = SB_INIT, b = SB_INIT;
    text = nlpre_valid_copy(text, &n, &valid);
    NlpMatch *md = nlpre_match_tls();
    /* Detector.append: URLs and e-mail addresses become spaces. */
    if (nlpre_sub(d->url_re, text, n, " ", md, &a) == 0)
        sb_add(&a, text, n);
    if (nlpre_sub(d->mail_re, a.buf, a.len, " ", md, &b) == 0)
        sb_add(&b, a.buf, a.len);
    size_t ncp = 0;
    uint32_t *cp = xmalloc(size_mul(b.len + 1, sizeof *cp));
    ncp = decode_all(b.buf, b.len, cp);
    sb_release(&valid);
    sb_release(&a);
    sb_release(&b);

    /* NGram.normalize_vi */
    size_t k = 0;
    for (size_t i = 0; i < ncp; i++) {
        long al, dm;
        /* the marks are U+0300..U+0323: test the rare one first */
        if (i + 1 < ncp && cp[i + 1] >= 0x300 && cp[i + 1] <= 0x323 &&
            (dm = index_of(d->vi_dmark, d->n_vi_dmark, cp[i + 1])) >= 0 &&
            (al = index_of(d->vi_alpha, d->n_vi_alpha, cp[i])) >= 0) {
            cp[k++] = d->vi_norm[dm][al];
            i++;
        } else {
            cp[k++] = cp[i];
        }
    }
    ncp = k;
    /* Collapse runs of spaces within the first MAX_TEXT_LENGTH characters. */
    uint32_t pre = 0;
    k = 0;
    for (size_t i = 0; i < ncp && i < MAX_TEXT_LENGTH; i++) {
        uint32_t ch = cp[i];
        if (ch != ' ' || pre != ' ')
            cp[k++] = ch;
        pre = ch;
    }
    ncp = k;
    /* Detector.cleaning_text (the block test there compares an int with a
     * string, so every character from U+0300 up counts as non-Latin). */
    size_t latin = 0, nonlatin = 0;
    for (size_t i = 0; i < ncp; i++) {
        if (cp[i] >= 'A' && cp[i] <= 'z')
            latin++;
        else if (cp[i] >= 0x300)
            nonlatin++;
    }
    if (latin * 2 < nonlatin) {
        k = 0;
        for (size_t i = 0; i < ncp; i++)
            if (cp[i] < 'A' || cp[i] > 'z')
                cp[k++] = cp[i];
        ncp = k;
    }
    /* Detector._extract_ngrams */
    uint32_t *rows = xmalloc(size_mul(3 * ncp + 1, sizeof *rows));
    size_t nrows = 0;
    GramSlot cache[GRAM_CACHE]; /* recent lookups; key 0 never occurs */
    memset(cache, 0, sizeof cache);
    uint32_t grams[3] = {' ', 0, 0};
    size_t glen = 1;
    int capital = 0;
    for (size_t i = 0; i < ncp; i++) {
        uint32_t ch = normalize(d, cp[i]);
        uint32_t last = grams[glen - 1];
        int skip_add = 0;
        if (last == ' ') {
            grams[0] = ' ';
            glen = 1;
            capital = 0;
            if (ch == ' ')
                skip_add = 1;
        } else if (glen >= 3) {
            grams[0] = grams[1];
            grams[1] = grams[2];
            glen = 2;
        }
        if (!skip_add) {
            grams[glen++] = ch;
            if (is_upper(ch)) {
                if (is_upper(last))
                    capital = 1;
            } else {
                capital = 0;
            }
        }
        if (capital)
            continue;
        for (size_t g = 1; g <= 3; g++) {
            if (glen < g)
                break;
            const uint32_t *w = grams + glen - g;
            if (g == 1 && w[0] == ' ')
                continue;
            uint64_t key = pack_gram(w, g);
            GramSlot *c = &cache[gram_hash(key) & (GRAM_CACHE - 1)];
            if (c->key != key) {
                c->key = key;
                c->row = (uint64_t)gram_get(&d->grams, key);
            }
            if ((int64_t)c->row >= 0)
                rows[nrows++] = (uint32_t)c->row;
        }
    }
    free(cp);
    if (!nrows) {
        free(rows);
        return -1;
    }
    size_t L = d->nlang;
    /* Number the distinct grams of this text; their dense rows are built
     * the first time the random walk picks them. */
    size_t hcap = 1024; /* grows with the distinct grams, not with the text */
    uint32_t *hkey = xmalloc(size_mul(hcap, sizeof *hkey)), *hval = xmalloc(size_mul(hcap, sizeof *hval));
    memset(hkey, 0xff, hcap * sizeof *hkey);
    uint32_t *uniq = xmalloc(size_mul(nrows, sizeof *uniq));
    size_t nuniq = 0;
    for (size_t i = 0; i < nrows; i++) {
        size_t h = (rows[i] * 2654435761U) & (hcap - 1);
        while (hkey[h] != UINT32_MAX && hkey[h] != rows[i])
            h = (h + 1) & (hcap - 1);
        if (hkey[h] == UINT32_MAX) {
            hkey[h] = rows[i];
            hval[h] = (uint32_t)nuniq;
            uniq[nuniq++] = rows[i];
            if (2 * nuniq > hcap) { /* rehash into twice the slots */
                size_t ncap = hcap * 2;
                uint32_t *nk = xmalloc(size_mul(ncap, sizeof *nk)), *nv = xmalloc(size_mul(ncap, sizeof *nv));
                memset(nk, 0xff, ncap * sizeof *nk);
                for (size_t q = 0; q < hcap; q++)
                    if (hkey[q] != UINT32_MAX) {
                        size_t g = (hkey[q] * 2654435761U) & (ncap - 1);
                        while (nk[g] != UINT32_MAX)
                            g = (g + 1) & (ncap - 1);
                        nk[g] = hkey[q];
                        nv[g] = hval[q];
                    }
                free(hkey);
                free(hval);
                hkey = nk;
                hval = nv;
                hcap = ncap;
            }
            rows[i] = (uint32_t)(nuniq - 1);
        } else {
            rows[i] = hval[h];
        }
    }
    free(hkey);
    free(hval);
    /* Rows and probabilities padded to whole 4-double vectors with zeros
     * (a zero stays zero and never wins the maximum); each lane does the
     * same IEEE operations as the scalar loop of the original. */
    size_t Lp = (L + 3) & ~(size_t)3;
    double *dense = xmalloc(size_mul(size_mul(nuniq, Lp), sizeof *dense));
    unsigned char *ready = xcalloc(nuniq, 1);
    for (size_t j = 0; j < L; j++)
        langprob[j] = 0.0;
    double *prob = xcalloc(Lp, sizeof *prob);
    PyRandom rnd;
    pyrandom_seed_cached(&rnd, seed);
    int kbits = bit_length((uint32_t)nrows);
    for (int t = 0; t < N_TRIAL; t++) {
        for (size_t j = 0; j < L; j++)
            prob[j] = 1.0 / (double)d->nlang;
        double alpha = ALPHA_DEFAULT + pyrandom_gauss(&rnd, 0.0, 1.0) * ALPHA_WIDTH;
        double weight = alpha / BASE_FREQ;
        for (int i = 0;; i++) {
            uint32_t u = rows[pyrandom_below_k(&rnd, (uint32_t)nrows, kbits)];
            double *lp = dense + (size_t)u * Lp;
            if (!ready[u]) { /* p(gram|j) as a dense row, 0.0 where not listed */
                uint32_t r = uniq[u];
                memset(lp, 0, Lp * sizeof *lp);
                for (uint32_t k = d->row_start[r]; k < d->row_start[r + 1]; k++)
                    lp[d->row_lang[k]] = d->row_val[k];
                ready[u] = 1;
            }
            walk_update(prob, lp, weight, Lp);
            if (i % 5 == 0) {
                double sump = 0.0;
                size_t j = 0; /* in order, as Python's sum() */
                for (; j + 4 <= L; j += 4) {
                    sump += prob[j];
                    sump += prob[j + 1];
                    sump += prob[j + 2];
                    sump += prob[j + 3];
                }
                for (; j < L; j++)
                    sump += prob[j];
                double maxp = walk_normalize(prob, sump, Lp);
                if (maxp > CONV_THRESHOLD || i >= ITERATION_LIMIT)
                    break;
            }
        }
        for (size_t j = 0; j < L; j++)
            langprob[j] += prob[j] / N_TRIAL;
    }
    free(prob);
    free(rows);
    free(uniq);
    free(dense);
    free(ready);
    return 0;
}

int langdetect_probabilities(const LangDetector *d, const char *text, size_t n, uint64_t seed, const char **langs,
                             double *probs, int max)
{
    double *langprob = xmalloc(size_mul(d->nlang, sizeof *langprob));
    if (detect_block(d, text, n, seed, langprob) < 0) {
        free(langprob);
        return -1;
    }
    /* _sort_probability: p > PROB_THRESHOLD, highest first; list.sort(reverse=True)
     * is stable, so equal probabilities keep profile order. */
    int k = 0;
    for (size_t j = 0; j < d->nlang; j++) {
        if (!(langprob[j] > PROB_THRESHOLD))
            continue;
        int pos = k < max ? k : max;
        while (pos > 0 && probs[pos - 1] < langprob[j])
            pos--;
        if (pos >= max)
            continue;
        int last = k < max ? k : max - 1;
        for (int q = last; q > pos; q--) {
            probs[q] = probs[q - 1];
            langs[q] = langs[q - 1];
        }
        probs[pos] = langprob[j];
        langs[pos] = d->langs[j];
        if (k < max)
            k++;
    }
    free(langprob);
    return k;
}

const char *langdetect_detect(const LangDetector *d, const char *text, size_t n, uint64_t seed)
{
    const char *lang;
    double p;
    int k = langdetect_probabilities(d, text, n, seed, &lang, &p, 1);
    return k < 0 ? NULL : k == 0 ? "unknown" : lang;
}
