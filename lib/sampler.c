/*
 * sampler.c - greedy / temperature / top-k / top-p token choice.
 *
 * Sorting the whole vocabulary per token would cost V log V (128k ids for
 * Llama 3); instead candidates are first cut to the top_k (when set) with a
 * partial selection, and for top-p only the ids above a probability floor
 * (1 - top_p) / (V - 1) are sorted, since anything below it can never be in
 * the nucleus (llama2.c's cutoff trick).
 */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void sampler_init(Sampler *s, int V, float temperature, float top_p, int top_k, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->V = V;
    s->temperature = temperature;
    s->top_p = top_p;
    s->top_k = top_k;
    rng_seed(&s->rng, seed);
    s->idx = xmalloc(size_mul((size_t)(V > 0 ? V : 1), sizeof(int)));
}

void sampler_release(Sampler *s)
{
    free(s->idx);
    memset(s, 0, sizeof *s);
}

int sampler_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* descending by value, ascending id on ties (deterministic); keys = the
 * probabilities (qsort_r keeps this reentrant) */
static int cmp_desc(const void *a, const void *b, void *keys)
{
    const float *k = keys;
    int i = *(const int *)a, j = *(const int *)b;
    if (k[i] != k[j])
        return k[i] > k[j] ? -1 : 1;
    return i - j;
}

int sampler_sample(Sampler *s, float *p)
{
    int V = s->V;
    if (s->temperature <= 0.0f)
        return sampler_argmax(p, V);
    float mx = p[sampler_argmax(p, V)];
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        p[i] = expf((p[i] - mx) / s->temperature);
        sum += p[i];
    }
    for (int i = 0; i < V; i++)
        p[i] = (float)(p[i] / sum);
    /* candidates: everything, or what can survive top-p, sorted by probability */
    int n = 0;
    int k = s->top_k > 0 && s->top_k < V ? s->top_k : V;
    float floor_p = (s->top_p < 1.0f && k == V && V > 1) ? (1.0f - s->top_p) / (float)(V - 1) : 0.0f;
    for (int i = 0; i < V; i++)
        if (p[i] >= floor_p)
            s->idx[n++] = i;
    qsort_r(s->idx, (size_t)n, sizeof(int), cmp_desc, p);
    if (n > k)
        n = k;
    /* top-k is applied before the softmax in HF; renormalising the kept
     * probabilities is the same thing */
    double tot = 0.0;
    if (k == V)
        tot = 1.0; /* nothing cut but improbable ids: the full mass */
    else
        for (int i = 0; i < n; i++)
            tot += p[s->idx[i]];
    if (s->top_p < 1.0f) {
        double cum = 0.0;
        int j = 0;
        for (; j < n; j++) {
            cum += p[s->idx[j]] / tot;
            if (cum >= s->top_p) {
                j++;
                break;
            }
        }
        n = j > 0 ? j : 1;
        tot = 0.0;
        for (int i = 0; i < n; i++)
            tot += p[s->idx[i]];
    }
    double r = rng_uniform(&s->rng) * tot, cdf = 0.0;
    for (int i = 0; i < n; i++) {
        cdf += p[s->idx[i]];
        if (r < cdf)
            return s->idx[i];
    }
    return s->idx[n - 1];
}
