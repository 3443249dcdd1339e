/*
 * tokenizer.c - byte-level BPE, SentencePiece-style BPE, llama2.c
 * tokenizer.bin and the built-in byte tokenizer behind one API.
 *
 * Design
 *   Every kind keeps the same tables: id -> piece (as stored in the vocab),
 *   id -> decoded bytes (precomputed once so decoding is a memcpy per id),
 *   a piece -> id open-addressing hash, and for BPE a (left id, right id) ->
 *   (rank, merged id) hash.  Encoding a text is
 *     1. split out added/special tokens (longest match at the earliest
 *        position, first-byte bucketed so plain text costs one table lookup
 *        per byte);
 *     2. per remaining segment: replace invalid UTF-8 (BPE kinds only, see
 *        below), normalise (SentencePiece: prepend "▁", " " -> "▁") or
 *        pre-tokenise (byte-level: the Split regexes, PCRE2 with UTF+UCP and
 *        JIT, "Isolated" behaviour);
 *     3. per pre-token: a cache lookup, else ignore_merges' whole-word vocab
 *        lookup, else the BPE merge loop.
 *   The merge loop is a binary heap of (priority, left position) over a
 *   doubly linked symbol list, popping the best pair and lazily discarding
 *   stale entries: O(n log n) per word.  This is the algorithm of HF
 *   tokenizers' `Word::merge_all` and of the JS references (rank first, then
 *   the leftmost position), so ties break the same way.  llama2.c's
 *   score-based merge (best score, leftmost on ties) is the same loop with
 *   priority = -score.
 *
 * Invalid UTF-8
 *   The JS references cannot see invalid bytes: a file read as UTF-8 by Node
 *   turns each maximal invalid subpart into U+FFFD (WHATWG decoder).  For
 *   the tokenizer.json kinds we do the same replacement before encoding, so
 *   the ids equal the reference's on the same file.  The byte tokenizer and
 *   llama2.c's (which works on bytes, like run.c) see the raw bytes.
 *
 * Costs (Llama-3 vocab, 2-core EPYC): loading tokenizer.json ~0.4 s (cJSON
 * parse of 9 MB + 280k merges hashed); see bench/RESULTS.md for encode
 * speed.  The pre-token cache holds up to 2^18 words, then is cleared.
 */
#include "tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- IntVec */

void intvec_push(IntVec *a, int32_t x)
{
    if (a->n == a->cap)
        a->v = grow_array(a->v, &a->cap, a->n + 1, sizeof *a->v);
    a->v[a->n++] = x;
}

void intvec_release(IntVec *a)
{
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

/* ---------------------------------------------------------------- types */

enum { TK_BYTE, TK_BYTELEVEL, TK_SPM, TK_LLAMA2C };

typedef struct {
    char *content;
    size_t len;
    int32_t id;
    int special, lstrip, rstrip, single_word;
} AddedTok;

typedef struct {
    uint64_t key; /* left << 32 | right; 0 = empty slot (id pairs are never 0,0 + 1) */
    int32_t rank, id;
} MergeSlot;

typedef struct {
    uint64_t hash;
    uint32_t str_off, str_len, ids_off, ids_n;
} CacheEnt;

typedef enum { PREPEND_NEVER, PREPEND_FIRST, PREPEND_ALWAYS } Prepend;

struct Tokenizer {
    int kind;
    int n_vocab;
    char **piece;        /* vocab string per id (NULL for holes) */
    uint32_t *piece_len;
    char **text;         /* decoded bytes per id */
    uint32_t *text_len;
    unsigned char *added_kind; /* 0 normal, 1 special added, 2 non-special added */
    float *score;        /* llama2.c scores */
    int32_t *vh;         /* vocab hash: ids, -1 empty */
    size_t vh_mask;
    MergeSlot *mh;
    size_t mh_mask;
    size_t n_merges;
    int ignore_merges, byte_fallback, unk_id, fuse_unk;
    int32_t byte_id[256]; /* byte-level: id of the mapped char; spm/llama2c: <0xXX> */
    char bl_chr[256][2];  /* byte-level: UTF-8 of the mapped char (code points < 324) */
    unsigned char bl_len[256];
    AddedTok *added;
    size_t n_added;
    unsigned char first_byte[256]; /* 1 if some added token starts with this byte */
    pcre2_code **re;
    int *re_removed;
    size_t n_re;
    int add_prefix_space;
    Prepend spm_prepend;
    int spm_meta;    /* Metaspace: no "▁" prepended when the segment starts with one */
    int spm_replace; /* " " -> "▁" */
    int nfc;         /* NFC normalizer (lib/tok_nfc.c) */
    int spm_split;   /* no vocab piece has "▁" after another character: see encode_spm */
    int bos, eos;
    char *chat_template; /* tokenizer_config.json's chat_template, or NULL */
    /* pre-token cache */
    pthread_mutex_t mu;
    CacheEnt *cache;
    uint32_t *cache_tab; /* index+1 into cache, 0 empty */
    size_t cache_n, cache_cap, cache_mask;
    StrBuf cache_str;
    IntVec cache_ids;
};

/* ---------------------------------------------------------------- hashing */

/* 8 bytes at a time (most keys are short words); quality is enough for
 * linear probing with a final avalanche. */
static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xff51afd7ed558ccdULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

static int32_t vocab_find(const Tokenizer *t, const char *s, size_t n)
{
    if (!t->vh)
        return -1;
    size_t i = hash_bytes(s, n) & t->vh_mask;
    for (;;) {
        int32_t id = t->vh[i];
        if (id < 0)
            return -1;
        if (t->piece_len[id] == n && memcmp(t->piece[id], s, n) == 0)
            return id;
        i = (i + 1) & t->vh_mask;
    }
}

/* Builds the vocab hash over every id that has a piece.  Duplicate pieces
 * (possible in llama2.c files) keep the lowest id, as run.c's sorted search
 * would find one of them; HF files have none. */
static void vocab_index(Tokenizer *t)
{
    size_t cap = pow2_at_least((size_t)t->n_vocab * 2 + 2);
    t->vh = xmalloc(size_mul(cap, sizeof *t->vh));
    memset(t->vh, 0xff, cap * sizeof *t->vh);
    t->vh_mask = cap - 1;
    for (int id = 0; id < t->n_vocab; id++) {
        if (!t->piece[id])
            continue;
        size_t i = hash_bytes(t->piece[id], t->piece_len[id]) & t->vh_mask;
        int dup = 0;
        while (t->vh[i] >= 0) {
            int32_t o = t->vh[i];
            if (t->piece_len[o] == t->piece_len[id] && memcmp(t->piece[o], t->piece[id], t->piece_len[id]) == 0) {
                dup = 1;
                break;
            }
            i = (i + 1) & t->vh_mask;
        }
        if (!dup)
            t->vh[i] = id;
    }
}

static const MergeSlot *merge_find(const Tokenizer *t, int32_t a, int32_t b)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    size_t i = mix64(key) & t->mh_mask;
    for (;;) {
        const MergeSlot *m = &t->mh[i];
        if (m->key == 0)
            return NULL;
        if (m->key == key)
            return m;
        i = (i + 1) & t->mh_mask;
    }
}

/* First merge of a pair wins (later duplicates have a worse rank anyway). */
static void merge_add(Tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t id)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    size_t i = mix64(key) & t->mh_mask;
    while (t->mh[i].key != 0) {
        if (t->mh[i].key == key)
            return;
        i = (i + 1) & t->mh_mask;
    }
    t->mh[i].key = key;
    t->mh[i].rank = rank;
    t->mh[i].id = id;
    t->n_merges++;
}

/* ---------------------------------------------------------------- tables */

static Tokenizer *tok_new(int kind, int n_vocab)
{
    Tokenizer *t = xcalloc(1, sizeof *t);
    t->kind = kind;
    t->n_vocab = n_vocab;
    t->piece = xcalloc((size_t)n_vocab, sizeof *t->piece);
    t->piece_len = xcalloc((size_t)n_vocab, sizeof *t->piece_len);
    t->text = xcalloc((size_t)n_vocab, sizeof *t->text);
    t->text_len = xcalloc((size_t)n_vocab, sizeof *t->text_len);
    t->added_kind = xcalloc((size_t)n_vocab, 1);
    t->bos = t->eos = t->unk_id = -1;
    for (int i = 0; i < 256; i++)
        t->byte_id[i] = -1;
    pthread_mutex_init(&t->mu, NULL);
    sb_init(&t->cache_str);
    return t;
}

void tok_free(Tokenizer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_vocab; i++) {
        if (t->text[i] != t->piece[i])
            free(t->text[i]);
        free(t->piece[i]);
    }
    free(t->piece);
    free(t->piece_len);
    free(t->text);
    free(t->text_len);
    free(t->added_kind);
    free(t->score);
    free(t->vh);
    free(t->mh);
    for (size_t i = 0; i < t->n_added; i++)
        free(t->added[i].content);
    free(t->added);
    for (size_t i = 0; i < t->n_re; i++)
        pcre2_code_free(t->re[i]);
    free(t->re);
    free(t->re_removed);
    free(t->chat_template);
    free(t->cache);
    free(t->cache_tab);
    sb_release(&t->cache_str);
    intvec_release(&t->cache_ids);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static void add_added(Tokenizer *t, const char *content, int32_t id, int special, int lstrip, int rstrip,
                      int single_word)
{
    size_t len = strlen(content);
    if (len == 0)
        return;
    t->added = xrealloc(t->added, size_mul(t->n_added + 1, sizeof *t->added));
    AddedTok *a = &t->added[t->n_added++];
    a->content = xstrdup(content);
    a->len = len;
    a->id = id;
    a->special = special;
    a->lstrip = lstrip;
    a->rstrip = rstrip;
    a->single_word = single_word;
    t->first_byte[(unsigned char)content[0]] = 1;
    t->added_kind[id] = special ? 1 : 2;
}

/* Longest first, so the first hit at a position is the longest match. */
static int added_cmp(const void *pa, const void *pb)
{
    const AddedTok *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* ------------------------------------------------------ GPT-2 byte map */

/* bytes 33-126, 161-172, 174-255 map to themselves; the other 68 bytes, in
 * increasing order, to U+0100.. (GPT-2's bytes_to_unicode). */
static void bytelevel_map(uint32_t map[256])
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))
            map[b] = (uint32_t)b;
        else
            map[b] = 256 + (uint32_t)n++;
    }
}

/* ------------------------------------------------------ UTF-8 repair */

/* Length of the valid UTF-8 sequence at s, or 0 with *skip = the length of
 * the maximal invalid subpart (WHATWG: one U+FFFD per subpart). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *skip)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        *skip = 1;
        return 0;
    }
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *skip = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

/* Copies s into out with every maximal invalid subpart replaced by U+FFFD. */
static void utf8_repair(const char *s, size_t n, StrBuf *out)
{
    size_t i = 0;
    while (i < n) {
        size_t skip = 0, k = utf8_seq((const unsigned char *)s + i, n - i, &skip);
        if (k) {
            sb_add(out, s + i, k);
            i += k;
        } else {
            sb_add(out, "\xEF\xBF\xBD", 3);
            i += skip;
        }
    }
}

void tok_utf8_repair(const char *s, size_t n, StrBuf *out)
{
    utf8_repair(s, n, out);
}

/* ---------------------------------------------------------------- merge loop */

typedef struct {
    double prio;
    int32_t pos;
    int32_t id; /* the merged id this entry was computed for */
} HeapEnt;

typedef struct {
    HeapEnt *v;
    size_t n, cap;
} Heap;

static int heap_less(const HeapEnt *a, const HeapEnt *b)
{
    if (a->prio != b->prio)
        return a->prio < b->prio;
    return a->pos < b->pos;
}

static void heap_push(Heap *h, HeapEnt e)
{
    if (h->n == h->cap)
        h->v = grow_array(h->v, &h->cap, h->n + 1, sizeof *h->v);
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&e, &h->v[p]))
            break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = e;
}

static HeapEnt heap_pop(Heap *h)
{
    HeapEnt top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const HeapEnt *best = &last;
        if (l < h->n && heap_less(&h->v[l], best)) {
            m = l;
            best = &h->v[l];
        }
        if (r < h->n && heap_less(&h->v[r], best))
            m = r;
        if (m == i)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

/* Priority of merging ids a and b: BPE rank, or -score for llama2.c.
 * Returns 0 if the pair does not merge. */
static int pair_prio(const Tokenizer *t, int32_t a, int32_t b, double *prio, int32_t *id, StrBuf *tmp)
{
    if (t->kind == TK_LLAMA2C) {
        sb_reset(tmp);
        sb_add(tmp, t->piece[a], t->piece_len[a]);
        sb_add(tmp, t->piece[b], t->piece_len[b]);
        int32_t m = vocab_find(t, tmp->buf, tmp->len);
        if (m < 0)
            return 0;
        *prio = -(double)t->score[m];
        *id = m;
        return 1;
    }
    const MergeSlot *m = merge_find(t, a, b);
    if (!m)
        return 0;
    *prio = m->rank;
    *id = m->id;
    return 1;
}

typedef struct {
    int32_t *sym, *prev, *next;
    size_t cap;
    Heap heap;
    StrBuf tmp;
} MergeWork;

static void work_release(MergeWork *w)
{
    free(w->sym);
    free(w->prev);
    free(w->next);
    free(w->heap.v);
    sb_release(&w->tmp);
}

static void work_reserve(MergeWork *w, size_t n)
{
    if (n <= w->cap)
        return;
    size_t c = w->cap ? w->cap : 64;
    while (c < n)
        c *= 2;
    w->sym = xrealloc(w->sym, size_mul(c, sizeof *w->sym));
    w->prev = xrealloc(w->prev, size_mul(c, sizeof *w->prev));
    w->next = xrealloc(w->next, size_mul(c, sizeof *w->next));
    w->cap = c;
}

/* Merges w->sym[0..n) in place and appends the result to out. */
static void merge_run(const Tokenizer *t, MergeWork *w, size_t n, IntVec *out)
{
    double prio;
    int32_t id;
    w->heap.n = 0;
    for (size_t i = 0; i < n; i++) {
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < n; i++)
        if (pair_prio(t, w->sym[i], w->sym[i + 1], &prio, &id, &w->tmp))
            heap_push(&w->heap, (HeapEnt){prio, (int32_t)i, id});
    while (w->heap.n) {
        HeapEnt e = heap_pop(&w->heap);
        int32_t p = e.pos;
        if (w->sym[p] < 0 || w->next[p] < 0)
            continue;
        int32_t q = w->next[p];
        double cur;
        int32_t cid;
        if (!pair_prio(t, w->sym[p], w->sym[q], &cur, &cid, &w->tmp) || cid != e.id)
            continue;
        w->sym[p] = e.id;
        w->sym[q] = -1;
        w->next[p] = w->next[q];
        if (w->next[q] >= 0)
            w->prev[w->next[q]] = p;
        if (w->prev[p] >= 0 && pair_prio(t, w->sym[w->prev[p]], w->sym[p], &prio, &id, &w->tmp))
            heap_push(&w->heap, (HeapEnt){prio, w->prev[p], id});
        if (w->next[p] >= 0 && pair_prio(t, w->sym[p], w->sym[w->next[p]], &prio, &id, &w->tmp))
            heap_push(&w->heap, (HeapEnt){prio, p, id});
    }
    for (int32_t i = 0; i >= 0 && (size_t)i < n; i = w->next[i])
        intvec_push(out, w->sym[i]);
}

/* ---------------------------------------------------------------- cache */

#define CACHE_MAX_WORD 64
#define CACHE_MAX_ENTRIES (1u << 18)

static int cache_get(Tokenizer *t, const char *s, size_t n, uint64_t h, IntVec *out)
{
    int found = 0;
    pthread_mutex_lock(&t->mu);
    if (t->cache_tab) {
        size_t i = h & t->cache_mask;
        for (uint32_t k; (k = t->cache_tab[i]) != 0; i = (i + 1) & t->cache_mask) {
            const CacheEnt *e = &t->cache[k - 1];
            if (e->hash == h && e->str_len == n && memcmp(t->cache_str.buf + e->str_off, s, n) == 0) {
                for (uint32_t j = 0; j < e->ids_n; j++)
                    intvec_push(out, t->cache_ids.v[e->ids_off + j]);
                found = 1;
                break;
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    return found;
}

static void cache_put(Tokenizer *t, const char *s, size_t n, uint64_t h, const int32_t *ids, size_t k)
{
    pthread_mutex_lock(&t->mu);
    if (!t->cache_tab || t->cache_n >= CACHE_MAX_ENTRIES) {
        size_t tabcap = pow2_at_least(CACHE_MAX_ENTRIES * 2);
        if (!t->cache_tab)
            t->cache_tab = xmalloc(size_mul(tabcap, sizeof *t->cache_tab));
        memset(t->cache_tab, 0, tabcap * sizeof *t->cache_tab);
        t->cache_mask = tabcap - 1;
        t->cache_n = 0;
        sb_reset(&t->cache_str);
        t->cache_ids.n = 0;
    }
    if (t->cache_n == t->cache_cap)
        t->cache = grow_array(t->cache, &t->cache_cap, t->cache_n + 1, sizeof *t->cache);
    CacheEnt *e = &t->cache[t->cache_n];
    e->hash = h;
    e->str_off = (uint32_t)t->cache_str.len;
    e->str_len = (uint32_t)n;
    e->ids_off = (uint32_t)t->cache_ids.n;
    e->ids_n = (uint32_t)k;
    sb_add(&t->cache_str, s, n);
    for (size_t j = 0; j < k; j++)
        intvec_push(&t->cache_ids, ids[j]);
    size_t i = h & t->cache_mask;
    while (t->cache_tab[i])
        i = (i + 1) & t->cache_mask;
    t->cache_tab[i] = (uint32_t)++t->cache_n;
    pthread_mutex_unlock(&t->mu);
}

/* ---------------------------------------------------------------- encoding */

typedef struct {
    MergeWork w;
    StrBuf sb;   /* normalised text / mapped word */
    pcre2_match_data *md;
} EncWork;

/* One byte-level pre-token: cache, ignore_merges, else BPE over its bytes. */
static void bl_word(const Tokenizer *tc, EncWork *ew, const char *s, size_t n, IntVec *out)
{
    Tokenizer *t = (Tokenizer *)tc; /* the cache is the only mutable part, under t->mu */
    if (n == 0)
        return;
    uint64_t h = 0;
    if (n <= CACHE_MAX_WORD) {
        h = hash_bytes(s, n);
        if (cache_get(t, s, n, h, out))
            return;
    }
    size_t start = out->n;
    int done = 0;
    if (t->ignore_merges) {
        /* the mapped form of the whole word */
        sb_reset(&ew->sb);
        for (size_t i = 0; i < n; i++) {
            unsigned char b = (unsigned char)s[i];
            sb_add(&ew->sb, t->bl_chr[b], t->bl_len[b]);
        }
        int32_t id = vocab_find(t, ew->sb.buf, ew->sb.len);
        if (id >= 0) {
            intvec_push(out, id);
            done = 1;
        }
    }
    if (!done) {
        work_reserve(&ew->w, n);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t id = t->byte_id[(unsigned char)s[i]];
            if (id >= 0)
                ew->w.sym[k++] = id;
            else if (t->unk_id >= 0)
                ew->w.sym[k++] = t->unk_id;
        }
        merge_run(t, &ew->w, k, out);
    }
    if (n <= CACHE_MAX_WORD)
        cache_put(t, s, n, h, out->v + start, out->n - start);
}

/* Applies Split regex number lvl (Isolated or Removed) to s, recursing into
 * the next regex for every piece; past the last regex, encodes the piece. */
static void bl_split(const Tokenizer *t, EncWork *ew, const char *s, size_t n, size_t lvl, IntVec *out)
{
    if (lvl == t->n_re) {
        bl_word(t, ew, s, n, out);
        return;
    }
    size_t pos = 0, last = 0;
    while (pos <= n) {
        int rc = pcre2_match(t->re[lvl], (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, ew->md, NULL);
        if (rc < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ew->md);
        size_t a = ov[0], b = ov[1];
        if (a > last)
            bl_split(t, ew, s + last, a - last, lvl + 1, out);
        if (b > a && !t->re_removed[lvl])
            bl_split(t, ew, s + a, b - a, lvl + 1, out);
        last = b;
        if (b == a) { /* empty match: step over one character */
            if (b >= n)
                break;
            size_t skip = 1;
            while (b + skip < n && ((unsigned char)s[b + skip] & 0xC0) == 0x80)
                skip++;
            pos = b + skip;
        } else {
            pos = b;
        }
    }
    if (last < n)
        bl_split(t, ew, s + last, n - last, lvl + 1, out);
}

static void encode_bytelevel(const Tokenizer *t, EncWork *ew, const char *s, size_t n, IntVec *out)
{
    if (t->add_prefix_space && n > 0 && s[0] != ' ') {
        char *tmp = xmalloc(n + 1);
        tmp[0] = ' ';
        memcpy(tmp + 1, s, n);
        bl_split(t, ew, tmp, n + 1, 0, out);
        free(tmp);
        return;
    }
    bl_split(t, ew, s, n, 0, out);
}

/* SentencePiece-style BPE over one segment: normalise, split into chars,
 * byte-fall back the chars the vocab lacks, merge by rank. */
static void spm_word(const Tokenizer *tc, EncWork *ew, const char *s, size_t n, int cache, IntVec *out);

static void encode_spm(const Tokenizer *t, EncWork *ew, const char *s, size_t n, int at_start, IntVec *out)
{
    if (n == 0)
        return;
    StrBuf *sb = &ew->sb;
    sb_reset(sb);
    if ((t->spm_prepend == PREPEND_ALWAYS || (t->spm_prepend == PREPEND_FIRST && at_start)) &&
        !(t->spm_meta && t->spm_replace && s[0] == ' '))
        sb_adds(sb, "\xE2\x96\x81");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' && t->spm_replace)
            sb_add(sb, "\xE2\x96\x81", 3);
        else
            sb_addc(sb, s[i]);
    }
    if (!t->spm_split) {
        spm_word(t, ew, sb->buf, sb->len, 0, out);
        return;
    }
    /* Cut before each "▁" that follows another character: no merge can
     * join the two sides (its result would be a piece with such a "▁"), and
     * merges on one side never change the order of those on the other, so
     * the ids are those of the whole text, and the words can be cached as
     * the byte-level pre-tokens are (bench-tok.sh, 4 MB of IFEval and Crab
     * text through Llama-2: 1.26 s CPU as one merge run per text, 0.20 s). */
    static const char sp[] = "\xE2\x96\x81";
    size_t from = 0;
    for (size_t j = 3; j + 3 <= sb->len; j++) {
        if (memcmp(sb->buf + j, sp, 3) != 0 || memcmp(sb->buf + j - 3, sp, 3) == 0)
            continue;
        spm_word(t, ew, sb->buf + from, j - from, 1, out);
        from = j;
        j += 2;
    }
    spm_word(t, ew, sb->buf + from, sb->len - from, 1, out);
}

/* The BPE of one normalised piece s[0..n): code points looked up whole,
 * byte fallback, unknowns (fused), merges by rank; cached if cache. */
static void spm_word(const Tokenizer *tc, EncWork *ew, const char *s, size_t n, int cache, IntVec *out)
{
    Tokenizer *t = (Tokenizer *)tc; /* the cache is the only mutable part, under t->mu */
    uint64_t h = 0;
    cache = cache && n <= CACHE_MAX_WORD;
    if (cache) {
        h = hash_bytes(s, n);
        if (cache_get(t, s, n, h, out))
            return;
    }
    size_t start = out->n;
    work_reserve(&ew->w, n);
    size_t k = 0;
    int last_unk = 0;
    for (size_t i = 0; i < n;) {
        size_t skip = 1, cl = utf8_seq((const unsigned char *)s + i, n - i, &skip);
        if (!cl)
            cl = skip;
        int32_t id = vocab_find(t, s + i, cl);
        if (id >= 0) {
            ew->w.sym[k++] = id;
            last_unk = 0;
        } else if (t->byte_fallback && t->byte_id[(unsigned char)s[i]] >= 0) {
            for (size_t j = 0; j < cl; j++)
                ew->w.sym[k++] = t->byte_id[(unsigned char)s[i + j]];
            last_unk = 0;
        } else if (t->unk_id >= 0) {
            if (!(t->fuse_unk && last_unk))
                ew->w.sym[k++] = t->unk_id;
            last_unk = 1;
        }
        i += cl;
    }
    merge_run(t, &ew->w, k, out);
    if (cache)
        cache_put(t, s, n, h, out->v + start, out->n - start);
}

/* llama2.c run.c: a dummy " " first, code points looked up whole (byte
 * fallback id = byte + 3), then the score-based merge. */
static void encode_llama2c(const Tokenizer *t, EncWork *ew, const char *s, size_t n, int at_start, IntVec *out)
{
    if (n == 0)
        return;
    work_reserve(&ew->w, n + 1);
    size_t k = 0;
    if (at_start) {
        int32_t sp = vocab_find(t, " ", 1);
        if (sp >= 0)
            ew->w.sym[k++] = sp;
    }
    for (size_t i = 0; i < n;) {
        /* run.c groups a lead byte with up to 3 continuation bytes */
        size_t cl = 1;
        while (i + cl < n && cl < 4 && ((unsigned char)s[i + cl] & 0xC0) == 0x80)
            cl++;
        int32_t id = vocab_find(t, s + i, cl);
        if (id >= 0) {
            ew->w.sym[k++] = id;
        } else {
            for (size_t j = 0; j < cl; j++)
                ew->w.sym[k++] = (unsigned char)s[i + j] + 3;
        }
        i += cl;
    }
    merge_run(t, &ew->w, k, out);
}

/* Unicode White_Space (what HF tokenizers' \s in the lstrip/rstrip regex
 * takes): the length of the white-space character starting at s[i] (ws_at)
 * or ending at s[i] exclusive (ws_before, not reaching below lo), else 0.
 * The text is valid UTF-8 here (tok_encode repairs it first). */
static int ws_cp(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

static uint32_t cp_at(const unsigned char *s, size_t len)
{
    if (len == 1)
        return s[0];
    if (len == 2)
        return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
}

static size_t ws_at(const char *s, size_t i, size_t n)
{
    const unsigned char *u = (const unsigned char *)s + i;
    size_t len = u[0] < 0x80 ? 1 : (u[0] & 0xe0) == 0xc0 ? 2 : (u[0] & 0xf0) == 0xe0 ? 3 : 0;
    if (!len || len > n - i)
        return 0;
    return ws_cp(cp_at(u, len)) ? len : 0;
}

static size_t ws_before(const char *s, size_t i, size_t lo)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t len = 1; len <= 3 && len <= i - lo; len++) {
        unsigned char c = u[i - len];
        if (len == 1 ? c < 0x80 : (c & 0xc0) != 0x80) /* a lead byte */
            return (len == 1 || (len == 2 && (c & 0xe0) == 0xc0) || (len == 3 && (c & 0xf0) == 0xe0)) &&
                           ws_cp(cp_at(u + i - len, len))
                       ? len
                       : 0;
    }
    return 0;
}

static int is_word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Finds the earliest, longest added token in s[from..n) that may be used;
 * returns its index or -1, and the span it takes (lstrip/rstrip widen it). */
static long find_added(const Tokenizer *t, const char *s, size_t n, size_t from, int allow_special, size_t *ms,
                       size_t *me)
{
    for (size_t i = from; i < n; i++) {
        if (!t->first_byte[(unsigned char)s[i]])
            continue;
        for (size_t k = 0; k < t->n_added; k++) {
            const AddedTok *a = &t->added[k];
            if (a->special && !allow_special)
                continue;
            if (a->len > n - i || memcmp(s + i, a->content, a->len) != 0)
                continue;
            if (a->single_word && ((i > 0 && is_word_byte((unsigned char)s[i - 1])) ||
                                   (i + a->len < n && is_word_byte((unsigned char)s[i + a->len]))))
                continue;
            size_t b = i, e = i + a->len;
            size_t w;
            if (a->lstrip)
                while (b > from && (w = ws_before(s, b, from)) > 0)
                    b -= w;
            if (a->rstrip)
                while (e < n && (w = ws_at(s, e, n)) > 0)
                    e += w;
            *ms = b;
            *me = e;
            return (long)k;
        }
    }
    return -1;
}

/* lib/tok_nfc.c */
int tok_nfc(const char *s, size_t n, StrBuf *out);

static void encode_segment(const Tokenizer *t, EncWork *ew, const char *s, size_t n, int at_start, IntVec *out)
{
    StrBuf norm = SB_INIT;
    if (t->nfc && n && tok_nfc(s, n, &norm)) {
        s = norm.buf;
        n = norm.len;
    }
    switch (t->kind) {
    case TK_BYTE:
        for (size_t i = 0; i < n; i++)
            intvec_push(out, (unsigned char)s[i]);
        break;
    case TK_BYTELEVEL:
        encode_bytelevel(t, ew, s, n, out);
        break;
    case TK_SPM:
        encode_spm(t, ew, s, n, at_start, out);
        break;
    case TK_LLAMA2C:
        encode_llama2c(t, ew, s, n, at_start, out);
        break;
    }
    sb_release(&norm);
}

int tok_encode(const Tokenizer *t, const char *text, size_t n, int allow_special, IntVec *out)
{
    StrBuf fixed = SB_INIT;
    if ((t->kind == TK_BYTELEVEL || t->kind == TK_SPM) && !utf8_valid(text, n, NULL)) {
        utf8_repair(text, n, &fixed);
        text = fixed.buf;
        n = fixed.len;
    }
    EncWork ew = {0};
    sb_init(&ew.sb);
    sb_init(&ew.w.tmp);
    if (t->n_re)
        ew.md = pcre2_match_data_create(4, NULL);
    size_t pos = 0;
    while (pos < n) {
        size_t ms = n, me = n;
        long k = t->n_added ? find_added(t, text, n, pos, allow_special, &ms, &me) : -1;
        if (k < 0)
            ms = me = n;
        encode_segment(t, &ew, text + pos, ms - pos, pos == 0, out);
        if (k >= 0)
            intvec_push(out, t->added[k].id);
        pos = me;
    }
    if (ew.md)
        pcre2_match_data_free(ew.md);
    work_release(&ew.w);
    sb_release(&ew.sb);
    sb_release(&fixed);
    return 0;
}

/* ---------------------------------------------------------------- decoding */

int tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, int skip_special, StrBuf *out, Err *err)
{
    return tok_decode_tail(t, ids, n, 0, skip_special, out, err);
}

int tok_decode_tail(const Tokenizer *t, const int32_t *ids, size_t n, size_t from, int skip_special, StrBuf *out,
                    Err *err)
{
    /* SentencePiece kinds: the "▁" the normaliser put before each segment
     * (at the start, and after every added token) is dropped again. */
    int strip = t->kind == TK_SPM ? t->spm_prepend != PREPEND_NEVER : t->kind == TK_LLAMA2C;
    int seg_start = 1;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_vocab || !t->text[id]) {
            err_set(err, NULL, 0, "token id %ld out of range (vocabulary size %d)", (long)id, t->n_vocab);
            return -1;
        }
        if (t->added_kind[id]) {
            if (i >= from && !(skip_special && t->added_kind[id] == 1))
                sb_add(out, t->text[id], t->text_len[id]);
            /* "first" prepends only at the text start, so only that "▁" goes */
            seg_start = !(t->kind == TK_SPM && t->spm_prepend == PREPEND_FIRST);
            continue;
        }
        const char *s = t->text[id];
        size_t len = t->text_len[id];
        if (strip && seg_start && len > 0 && s[0] == ' ') {
            s++;
            len--;
        }
        seg_start = 0;
        if (i >= from)
            sb_add(out, s, len);
    }
    return 0;
}

const char *tok_kind(const Tokenizer *t)
{
    static const char *const names[] = {"byte", "bytelevel-bpe", "sentencepiece-bpe", "llama2c"};
    return names[t->kind];
}

const char *tok_id_text(const Tokenizer *t, int id)
{
    if (id < 0 || id >= t->n_vocab)
        return NULL;
    return t->text[id];
}

const char *tok_chat_template(const Tokenizer *t)
{
    return t->chat_template;
}

int tok_vocab_size(const Tokenizer *t)
{
    return t->n_vocab;
}

int tok_bos(const Tokenizer *t)
{
    return t->bos;
}

int tok_eos(const Tokenizer *t)
{
    return t->eos;
}

int tok_token_id(const Tokenizer *t, const char *token)
{
    size_t n = strlen(token);
    for (size_t k = 0; k < t->n_added; k++)
        if (t->added[k].len == n && memcmp(t->added[k].content, token, n) == 0)
            return t->added[k].id;
    return vocab_find(t, token, n);
}

/* ---------------------------------------------------------------- byte kind */

static const char *const byte_specials[8] = {"<s>",      "</s>",   "<|user|>", "<|assistant|>",
                                             "<|system|>", "<|end|>", "<pad>",    "<unk>"};

static Tokenizer *load_byte(void)
{
    Tokenizer *t = tok_new(TK_BYTE, 264);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        t->piece[b] = xstrndup(&c, 1);
        t->piece_len[b] = 1;
        t->text[b] = t->piece[b];
        t->text_len[b] = 1;
    }
    for (int k = 0; k < 8; k++) {
        int id = 256 + k;
        t->piece[id] = xstrdup(byte_specials[k]);
        t->piece_len[id] = (uint32_t)strlen(byte_specials[k]);
        t->text[id] = t->piece[id];
        t->text_len[id] = t->piece_len[id];
        add_added(t, byte_specials[k], id, 1, 0, 0, 0);
    }
    qsort(t->added, t->n_added, sizeof *t->added, added_cmp);
    vocab_index(t);
    t->bos = 256;
    t->eos = 257;
    t->unk_id = 263;
    return t;
}

/* ---------------------------------------------------------------- files */

static char *slurp(const char *path, size_t *len, Err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(err, path, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    StrBuf sb = SB_INIT;
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        sb_add(&sb, buf, k);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        sb_release(&sb);
        err_set(err, path, 0, "read error");
        return NULL;
    }
    return sb_detach(&sb, len);
}

/* <0xXX> -> XX, else -1 */
static int hex_piece(const char *p, size_t n)
{
    if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>')
        return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else
            return -1;
    }
    return v;
}

/* llama2.c tokenizer.bin: int32 max_token_length, then per token float32
 * score, int32 len, len bytes; the vocabulary size is what the file holds. */
static Tokenizer *load_llama2c(const char *path, const char *data, size_t len, Err *err)
{
    if (len < 4) {
        err_set(err, path, 0, "not a tokenizer.json or llama2.c tokenizer.bin (too short)");
        return NULL;
    }
    int32_t maxlen;
    memcpy(&maxlen, data, 4);
    if (maxlen <= 0 || maxlen > 65536) {
        err_set(err, path, 0, "not a llama2.c tokenizer.bin (max_token_length %ld)", (long)maxlen);
        return NULL;
    }
    size_t pos = 4, count = 0;
    while (pos < len) {
        int32_t l;
        if (len - pos < 8) {
            err_set(err, path, 0, "truncated llama2.c tokenizer.bin at token %zu", count);
            return NULL;
        }
        memcpy(&l, data + pos + 4, 4);
        if (l < 0 || l > maxlen || (size_t)l > len - pos - 8) {
            err_set(err, path, 0, "bad token length %ld at token %zu", (long)l, count);
            return NULL;
        }
        pos += 8 + (size_t)l;
        count++;
    }
    if (count < 3 || count > INT32_MAX / 2) {
        err_set(err, path, 0, "llama2.c tokenizer.bin holds %zu tokens", count);
        return NULL;
    }
    Tokenizer *t = tok_new(TK_LLAMA2C, (int)count);
    t->score = xmalloc(size_mul(count, sizeof *t->score));
    pos = 4;
    for (size_t i = 0; i < count; i++) {
        int32_t l;
        memcpy(&t->score[i], data + pos, 4);
        memcpy(&l, data + pos + 4, 4);
        t->piece[i] = xstrndup(data + pos + 8, (size_t)l);
        t->piece_len[i] = (uint32_t)l;
        int hx = hex_piece(t->piece[i], (size_t)l);
        if (hx >= 0) {
            char c = (char)hx;
            t->text[i] = xstrndup(&c, 1);
            t->text_len[i] = 1;
            if (t->byte_id[hx] < 0)
                t->byte_id[hx] = (int32_t)i;
        } else {
            t->text[i] = t->piece[i];
            t->text_len[i] = (uint32_t)l;
        }
        pos += 8 + (size_t)l;
    }
    vocab_index(t);
    /* sentencepiece's control tokens, as run.c uses them */
    t->unk_id = 0;
    t->bos = 1;
    t->eos = 2;
    for (int id = 0; id < 3; id++)
        t->added_kind[id] = 1;
    return t;
}

/* ---------------------------------------------------------------- tokenizer.json */

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jtrue(const cJSON *o, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* A token name from tokenizer_config.json: a string or {"content": ...}. */
static const char *token_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsObject(v))
        return jstr(v, "content");
    return NULL;
}

static int add_regex(Tokenizer *t, const char *pat, int literal, int removed, const char *path, Err *err)
{
    int ec;
    PCRE2_SIZE eo;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        err_set(err, path, 0, "pre-tokenizer regex: %s at offset %zu", (char *)msg, (size_t)eo);
        return -1;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is unavailable */
    t->re = xrealloc(t->re, size_mul(t->n_re + 1, sizeof *t->re));
    t->re_removed = xrealloc(t->re_removed, size_mul(t->n_re + 1, sizeof *t->re_removed));
    t->re[t->n_re] = re;
    t->re_removed[t->n_re] = removed;
    t->n_re++;
    return 0;
}

/* GPT-2's own regex, used by ByteLevel with use_regex: true. */
static const char gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Reads one pre_tokenizer node (recursing into Sequence); sets *bytelevel. */
static int parse_pretok(Tokenizer *t, const cJSON *p, int *bytelevel, const char *path, Err *err)
{
    if (!p || cJSON_IsNull(p))
        return 0;
    const char *type = jstr(p, "type");
    if (!type) {
        err_set(err, path, 0, "pre_tokenizer without a type");
        return -1;
    }
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(p, "pretokenizers"))
        {
            if (parse_pretok(t, it, bytelevel, path, err) < 0)
                return -1;
        }
        return 0;
    }
    if (!strcmp(type, "ByteLevel")) {
        *bytelevel = 1;
        if (jtrue(p, "add_prefix_space"))
            t->add_prefix_space = 1;
        const cJSON *ur = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
        if (!ur || cJSON_IsTrue(ur))
            return add_regex(t, gpt2_regex, 0, 0, path, err);
        return 0;
    }
    if (!strcmp(type, "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const char *beh = jstr(p, "behavior");
        if (jtrue(p, "invert")) {
            err_set(err, path, 0, "unsupported pre-tokenizer: Split with invert");
            return -1;
        }
        int removed = beh && !strcmp(beh, "Removed");
        if (!beh || (!removed && strcmp(beh, "Isolated") != 0)) {
            err_set(err, path, 0, "unsupported pre-tokenizer: Split behavior \"%s\"", beh ? beh : "?");
            return -1;
        }
        const char *re = jstr(pat, "Regex"), *lit = jstr(pat, "String");
        if (re)
            return add_regex(t, re, 0, removed, path, err);
        if (lit)
            return add_regex(t, lit, 1, removed, path, err);
        err_set(err, path, 0, "Split pre-tokenizer without a pattern");
        return -1;
    }
    if (!strcmp(type, "Metaspace")) {
        const char *rep = jstr(p, "replacement");
        const char *scheme = jstr(p, "prepend_scheme");
        if (rep && strcmp(rep, "\xE2\x96\x81") != 0) {
            err_set(err, path, 0, "unsupported Metaspace replacement \"%s\"", rep);
            return -1;
        }
        if (jtrue(p, "split")) {
            err_set(err, path, 0, "unsupported pre-tokenizer: Metaspace with split");
            return -1;
        }
        t->spm_replace = 1;
        t->spm_meta = 1;
        if (scheme && !strcmp(scheme, "never"))
            t->spm_prepend = PREPEND_NEVER;
        else if (scheme && !strcmp(scheme, "first"))
            t->spm_prepend = PREPEND_FIRST;
        else if (scheme || jtrue(p, "add_prefix_space"))
            t->spm_prepend = PREPEND_ALWAYS;
        return 0;
    }
    err_set(err, path, 0, "unsupported pre-tokenizer \"%s\"", type);
    return -1;
}

static int parse_normalizer(Tokenizer *t, const cJSON *p, const char *path, Err *err)
{
    if (!p || cJSON_IsNull(p))
        return 0;
    const char *type = jstr(p, "type");
    if (!type) {
        err_set(err, path, 0, "normalizer without a type");
        return -1;
    }
    if (!strcmp(type, "Sequence")) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(p, "normalizers"))
        {
            if (parse_normalizer(t, it, path, err) < 0)
                return -1;
        }
        return 0;
    }
    if (!strcmp(type, "Prepend")) {
        const char *s = jstr(p, "prepend");
        if (!s || strcmp(s, "\xE2\x96\x81") != 0) {
            err_set(err, path, 0, "unsupported Prepend normalizer \"%s\"", s ? s : "?");
            return -1;
        }
        t->spm_prepend = PREPEND_ALWAYS;
        return 0;
    }
    if (!strcmp(type, "Replace")) {
        const char *from = jstr(cJSON_GetObjectItemCaseSensitive(p, "pattern"), "String");
        const char *to = jstr(p, "content");
        if (!from || !to || strcmp(from, " ") != 0 || strcmp(to, "\xE2\x96\x81") != 0) {
            err_set(err, path, 0, "unsupported Replace normalizer (only \" \" -> \"\xE2\x96\x81\")");
            return -1;
        }
        t->spm_replace = 1;
        return 0;
    }
    if (!strcmp(type, "NFC")) {
        t->nfc = 1;
        return 0;
    }
    err_set(err, path, 0, "unsupported normalizer \"%s\"", type);
    return -1;
}

static int merge_parts(const cJSON *m, const char **a, size_t *alen, const char **b, size_t *blen)
{
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring, *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return -1;
        *a = s;
        *alen = (size_t)(sp - s);
        *b = sp + 1;
        *blen = strlen(sp + 1);
        return 0;
    }
    if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2) {
        const cJSON *x = cJSON_GetArrayItem(m, 0), *y = cJSON_GetArrayItem(m, 1);
        if (!cJSON_IsString(x) || !cJSON_IsString(y))
            return -1;
        *a = x->valuestring;
        *alen = strlen(x->valuestring);
        *b = y->valuestring;
        *blen = strlen(y->valuestring);
        return 0;
    }
    return -1;
}

static Tokenizer *load_json(const char *path, const char *data, size_t len, const char *config_path, Err *err)
{
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (!root) {
        err_set(err, path, 0, "malformed JSON");
        return NULL;
    }
    Tokenizer *t = NULL;
    cJSON *cfg = NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *mtype = jstr(model, "type");
    if (!model || (mtype && strcmp(mtype, "BPE") != 0)) {
        err_set(err, path, 0, "unsupported tokenizer model \"%s\" (only BPE)", mtype ? mtype : "?");
        goto fail;
    }
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges)) {
        err_set(err, path, 0, "model.vocab or model.merges missing");
        goto fail;
    }
    const char *csp = jstr(model, "continuing_subword_prefix"), *ews = jstr(model, "end_of_word_suffix");
    if ((csp && *csp) || (ews && *ews)) {
        err_set(err, path, 0, "unsupported BPE option continuing_subword_prefix/end_of_word_suffix");
        goto fail;
    }
    long maxid = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e8) {
            err_set(err, path, 0, "vocab entry \"%s\" has no valid id", it->string);
            goto fail;
        }
        if ((long)it->valuedouble > maxid)
            maxid = (long)it->valuedouble;
    }
    cJSON_ArrayForEach(it, added)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e8 || !jstr(it, "content")) {
            err_set(err, path, 0, "added token without a valid id and content");
            goto fail;
        }
        if ((long)id->valuedouble > maxid)
            maxid = (long)id->valuedouble;
    }
    if (maxid < 0) {
        err_set(err, path, 0, "empty vocabulary");
        goto fail;
    }
    /* kind: byte-level if a ByteLevel pre-tokenizer or decoder is present */
    int bytelevel = 0;
    t = tok_new(TK_BYTELEVEL, (int)maxid + 1);
    if (parse_pretok(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), &bytelevel, path, err) < 0 ||
        parse_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), path, err) < 0)
        goto fail;
    const char *dtype = jstr(cJSON_GetObjectItemCaseSensitive(root, "decoder"), "type");
    if (dtype && !strcmp(dtype, "ByteLevel"))
        bytelevel = 1;
    t->kind = bytelevel ? TK_BYTELEVEL : TK_SPM;
    t->ignore_merges = jtrue(model, "ignore_merges");
    t->byte_fallback = jtrue(model, "byte_fallback");
    t->fuse_unk = jtrue(model, "fuse_unk");

    uint32_t map[256];
    bytelevel_map(map);
    /* reverse byte map: code point (< 324) -> byte */
    int unmap[324];
    for (int i = 0; i < 324; i++)
        unmap[i] = -1;
    for (int b = 0; b < 256; b++)
        unmap[map[b]] = b;

    cJSON_ArrayForEach(it, vocab)
    {
        int id = (int)it->valuedouble;
        if (t->piece[id]) {
            err_set(err, path, 0, "vocab id %d used twice", id);
            goto fail;
        }
        size_t pl = strlen(it->string);
        t->piece[id] = xstrndup(it->string, pl);
        t->piece_len[id] = (uint32_t)pl;
        StrBuf d = SB_INIT;
        if (t->kind == TK_BYTELEVEL) {
            for (size_t i = 0; i < pl;) {
                uint32_t cp;
                size_t k = utf8_decode(it->string + i, pl - i, &cp);
                if (k == 0)
                    k = 1;
                if (cp < 324 && unmap[cp] >= 0)
                    sb_addc(&d, unmap[cp]);
                else
                    sb_add(&d, it->string + i, k);
                i += k;
            }
        } else {
            int hx = t->byte_fallback ? hex_piece(it->string, pl) : -1;
            if (hx >= 0) {
                sb_addc(&d, hx);
                t->byte_id[hx] = id;
            } else {
                for (size_t i = 0; i < pl;) {
                    if (pl - i >= 3 && memcmp(it->string + i, "\xE2\x96\x81", 3) == 0) {
                        sb_addc(&d, ' ');
                        i += 3;
                    } else {
                        sb_addc(&d, it->string[i++]);
                    }
                }
            }
        }
        t->text_len[id] = (uint32_t)d.len;
        t->text[id] = sb_detach(&d, NULL);
    }
    cJSON_ArrayForEach(it, added)
    {
        int id = (int)cJSON_GetObjectItemCaseSensitive(it, "id")->valuedouble;
        const char *c = jstr(it, "content");
        if (!t->piece[id]) {
            t->piece[id] = xstrdup(c);
            t->piece_len[id] = (uint32_t)strlen(c);
        }
        if (t->text[id] != t->piece[id])
            free(t->text[id]);
        t->text[id] = xstrdup(c);
        t->text_len[id] = (uint32_t)strlen(c);
        add_added(t, c, id, jtrue(it, "special"), jtrue(it, "lstrip"), jtrue(it, "rstrip"), jtrue(it, "single_word"));
    }
    if (t->n_added)
        qsort(t->added, t->n_added, sizeof *t->added, added_cmp);
    vocab_index(t);
    if (t->kind == TK_BYTELEVEL) {
        for (int b = 0; b < 256; b++) {
            char u[4];
            size_t k = utf8_encode(map[b], u);
            memcpy(t->bl_chr[b], u, k);
            t->bl_len[b] = (unsigned char)k;
            t->byte_id[b] = vocab_find(t, u, k);
        }
    }
    const char *unk = jstr(model, "unk_token");
    if (unk)
        t->unk_id = vocab_find(t, unk, strlen(unk));

    size_t nm = (size_t)cJSON_GetArraySize(merges);
    size_t cap = pow2_at_least(nm * 2 + 2);
    t->mh = xcalloc(cap, sizeof *t->mh);
    t->mh_mask = cap - 1;
    StrBuf cat = SB_INIT;
    int32_t rank = 0;
    cJSON_ArrayForEach(it, merges)
    {
        const char *a, *b;
        size_t al, bl;
        if (merge_parts(it, &a, &al, &b, &bl) < 0) {
            sb_release(&cat);
            err_set(err, path, 0, "merge %ld is neither \"a b\" nor [\"a\", \"b\"]", (long)rank);
            goto fail;
        }
        int32_t ia = vocab_find(t, a, al), ib = vocab_find(t, b, bl);
        sb_reset(&cat);
        sb_add(&cat, a, al);
        sb_add(&cat, b, bl);
        int32_t im = vocab_find(t, cat.buf, cat.len);
        if (ia < 0 || ib < 0 || im < 0) {
            err_set(err, path, 0, "merge %ld (\"%.*s\" \"%.*s\") uses a token missing from the vocab", (long)rank,
                    (int)al, a, (int)bl, b);
            sb_release(&cat);
            goto fail;
        }
        merge_add(t, ia, ib, rank++, im);
    }
    sb_release(&cat);

    /* encode_spm may cut the text before a "▁" that follows another
     * character only if no piece has one there (Llama-2's and Mistral's
     * have none) and "▁" is itself a piece */
    if (t->kind == TK_SPM && vocab_find(t, "\xE2\x96\x81", 3) >= 0) {
        t->spm_split = 1;
        for (int id = 0; id < t->n_vocab && t->spm_split; id++) {
            const char *pc = t->piece[id];
            uint32_t pl = t->piece_len[id];
            for (uint32_t j = 1; pc && j + 3 <= pl; j++)
                if (!memcmp(pc + j, "\xE2\x96\x81", 3) && (j < 3 || memcmp(pc + j - 3, "\xE2\x96\x81", 3))) {
                    t->spm_split = 0;
                    break;
                }
        }
    }
    /* BOS/EOS: tokenizer_config.json, else the post-processor's template,
     * else the usual names. */
    if (config_path) {
        size_t cl;
        Err e2;
        char *ctext = slurp(config_path, &cl, &e2);
        if (ctext) {
            cfg = cJSON_ParseWithLength(ctext, cl);
            free(ctext);
            if (!cfg) {
                err_set(err, config_path, 0, "malformed JSON");
                goto fail;
            }
        }
    }
    if (cfg) {
        /* chat_template: a Jinja string, or (newer transformers) a list of
         * {"name", "template"}: the one named "default", else the first */
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
        if (cJSON_IsArray(ct)) {
            const cJSON *it, *pick = cJSON_GetArrayItem(ct, 0);
            cJSON_ArrayForEach(it, ct) {
                const char *nm = jstr(it, "name");
                if (nm && !strcmp(nm, "default")) {
                    pick = it;
                    break;
                }
            }
            ct = cJSON_GetObjectItemCaseSensitive(pick, "template");
        }
        if (cJSON_IsString(ct))
            t->chat_template = xstrdup(ct->valuestring);
        const cJSON *bt = cJSON_GetObjectItemCaseSensitive(cfg, "bos_token");
        const cJSON *et = cJSON_GetObjectItemCaseSensitive(cfg, "eos_token");
        if (token_name(bt))
            t->bos = tok_token_id(t, token_name(bt));
        if (token_name(et))
            t->eos = tok_token_id(t, token_name(et));
    } else {
        const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
        const cJSON *first = cJSON_GetArrayItem(single, 0);
        const char *bn = jstr(cJSON_GetObjectItemCaseSensitive(first, "SpecialToken"), "id");
        if (bn)
            t->bos = tok_token_id(t, bn);
        static const char *const bos_names[] = {"<|begin_of_text|>", "<s>", "<|startoftext|>"};
        static const char *const eos_names[] = {"<|end_of_text|>", "</s>", "<|endoftext|>"};
        for (size_t i = 0; i < 3 && t->bos < 0; i++)
            t->bos = tok_token_id(t, bos_names[i]);
        for (size_t i = 0; i < 3 && t->eos < 0; i++)
            t->eos = tok_token_id(t, eos_names[i]);
    }
    cJSON_Delete(cfg);
    cJSON_Delete(root);
    return t;
fail:
    cJSON_Delete(cfg);
    cJSON_Delete(root);
    tok_free(t);
    return NULL;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* 1 when dir/config.json has "miso_tokenizer": "byte" (model_save_hf
 * writes it for the tiny preset). */
static int dir_says_byte(const char *dir)
{
    StrBuf p = SB_INIT;
    sb_addf(&p, "%s/config.json", dir);
    size_t len;
    Err e;
    char *data = exists(p.buf) ? slurp(p.buf, &len, &e) : NULL;
    sb_release(&p);
    if (!data)
        return 0;
    cJSON *cfg = cJSON_ParseWithLength(data, len);
    free(data);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "miso_tokenizer");
    int yes = cJSON_IsString(v) && !strcmp(v->valuestring, "byte");
    cJSON_Delete(cfg);
    return yes;
}

Tokenizer *tok_load(const char *path, Err *err)
{
    if (!strcmp(path, "byte"))
        return load_byte();
    StrBuf file = SB_INIT, cfg = SB_INIT;
    if (is_dir(path)) {
        sb_addf(&file, "%s/tokenizer.json", path);
        if (!exists(file.buf)) {
            sb_reset(&file);
            sb_addf(&file, "%s/tokenizer.bin", path);
            if (!exists(file.buf)) {
                /* A model directory miso saved for the built-in byte
                 * tokenizer says so in its config.json. */
                if (dir_says_byte(path)) {
                    sb_release(&file);
                    return load_byte();
                }
                err_set(err, path, 0, "no tokenizer.json or tokenizer.bin in this folder");
                sb_release(&file);
                return NULL;
            }
        }
    } else {
        sb_adds(&file, path);
    }
    /* tokenizer_config.json next to the tokenizer file */
    const char *slash = strrchr(file.buf, '/');
    if (slash)
        sb_add(&cfg, file.buf, (size_t)(slash - file.buf) + 1);
    sb_adds(&cfg, "tokenizer_config.json");
    size_t len;
    char *data = slurp(file.buf, &len, err);
    Tokenizer *t = NULL;
    if (!data)
        err->file = path;
    if (data) {
        size_t i = 0;
        while (i < len && (data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r'))
            i++;
        /* err->file must outlive this call, so errors name the caller's path */
        if (i < len && data[i] == '{')
            t = load_json(path, data, len, exists(cfg.buf) ? cfg.buf : NULL, err);
        else
            t = load_llama2c(path, data, len, err);
        if (!t && err->file == cfg.buf)
            err->file = path;
    }
    /* transformers >= 4.43 may save the template as chat_template.jinja */
    if (t && !t->chat_template) {
        sb_setlen(&cfg, cfg.len - strlen("tokenizer_config.json"));
        sb_adds(&cfg, "chat_template.jinja");
        size_t jl;
        Err e2;
        char *jt = exists(cfg.buf) ? slurp(cfg.buf, &jl, &e2) : NULL;
        if (jt && strlen(jt) == jl)
            t->chat_template = jt;
        else
            free(jt);
    }
    free(data);
    sb_release(&file);
    sb_release(&cfg);
    return t;
}
