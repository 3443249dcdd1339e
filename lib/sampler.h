/*
 * sampler.h - pick the next token from a logits vector: greedy (argmax),
 * or sampling with temperature, top-k and top-p (nucleus), seeded from
 * lib/rng so a run is reproducible.
 *
 * Order of operations (as Hugging Face's generate applies its warpers):
 * logits / temperature, keep the top_k largest, softmax, keep the smallest
 * set of most likely tokens whose probability reaches top_p, renormalise,
 * draw.  Ties in argmax go to the lowest id (as llama2.c's run.c).
 *
 * Invariants: temperature 0 means greedy and draws nothing from the Rng;
 * top_p >= 1 and top_k <= 0 are off.
 *
 * Ownership: a Sampler owns its scratch arrays; sampler_release frees them.
 * The logits passed in are overwritten (scratch).
 *
 * Errors: none (parameters are the caller's contract).
 *
 *   Sampler s; sampler_init(&s, V, 0.7f, 0.9f, 0, seed);
 *   int id = sampler_sample(&s, logits);
 *   sampler_release(&s);
 */
#ifndef MISO_SAMPLER_H
#define MISO_SAMPLER_H

#include <stdint.h>

#include "rng.h"

typedef struct {
    int V;
    float temperature, top_p;
    int top_k;
    Rng rng;
    int *idx;       /* (V) scratch */
} Sampler;

void sampler_init(Sampler *s, int V, float temperature, float top_p, int top_k, uint64_t seed);
int sampler_sample(Sampler *s, float *logits);
void sampler_release(Sampler *s);
/* index of the largest of x[0..n), the lowest on ties */
int sampler_argmax(const float *x, int n);

#endif
