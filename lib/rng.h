/*
 * rng.h - miso's one source of randomness: a seeded xoshiro256** generator.
 *
 * Every random draw in miso comes from an Rng seeded explicitly; the default
 * seed of every program is a fixed constant (MISO_DEFAULT_SEED), never the
 * clock.  rng_seed_key derives an independent stream from (seed, key), which
 * is how data tools make each record's choices depend only on the seed and
 * the record's id: sharding the input cannot change any record's output.
 *
 * The state is a plain struct (32 bytes), so it can be copied and saved in a
 * checkpoint as bytes and restored bit for bit.
 *
 * No errors, no allocation.
 *
 *   Rng g; rng_seed(&g, 42);
 *   double u = rng_uniform(&g);            // [0, 1)
 *   uint64_t k = rng_below(&g, 10);        // 0..9, unbiased
 */
#ifndef MISO_RNG_H
#define MISO_RNG_H

#include <stddef.h>
#include <stdint.h>

#define MISO_DEFAULT_SEED 1234u

typedef struct {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *g, uint64_t seed);
void rng_seed_key(Rng *g, uint64_t seed, const void *key, size_t n);
uint64_t rng_u64(Rng *g);
uint32_t rng_u32(Rng *g);
uint64_t rng_below(Rng *g, uint64_t n);   /* n > 0 */
double rng_uniform(Rng *g);                /* [0, 1), 53 bits */
float rng_uniformf(Rng *g);                /* [0, 1), 24 bits */
double rng_normal(Rng *g);                 /* N(0, 1), Box-Muller, no cached value */
/* Fisher-Yates over n elements of size elem. */
void rng_shuffle(Rng *g, void *base, size_t n, size_t elem);
/* 64-bit FNV-1a then splitmix finaliser; stable across platforms. */
uint64_t rng_hash(const void *data, size_t n);

#endif
