/*
 * rng.c - xoshiro256** (Blackman & Vigna), seeded through splitmix64 as its
 * authors recommend.  Chosen for speed, 256-bit state and a tiny, fully
 * specified algorithm that behaves the same on every platform.
 */
#include "rng.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_seed(Rng *g, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&x);
}

uint64_t rng_hash(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001B3ull;
    }
    return splitmix64(&h);
}

void rng_seed_key(Rng *g, uint64_t seed, const void *key, size_t n)
{
    uint64_t x = seed;
    uint64_t h = rng_hash(key, n) ^ splitmix64(&x);
    rng_seed(g, h);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(Rng *g)
{
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rng_u32(Rng *g) { return (uint32_t)(rng_u64(g) >> 32); }

uint64_t rng_below(Rng *g, uint64_t n)
{
    /* Rejection on the top of the range: unbiased and simple. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = rng_u64(g);
    while (x >= limit);
    return x % n;
}

double rng_uniform(Rng *g) { return (double)(rng_u64(g) >> 11) * 0x1.0p-53; }

float rng_uniformf(Rng *g) { return (float)(rng_u64(g) >> 40) * 0x1.0p-24f; }

double rng_normal(Rng *g)
{
    double u1 = rng_uniform(g), u2 = rng_uniform(g);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void rng_shuffle(Rng *g, void *base, size_t n, size_t elem)
{
    unsigned char *b = base, tmp[256];
    if (n < 2)
        return;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rng_below(g, i + 1);
        if (j == i)
            continue;
        for (size_t off = 0; off < elem; off += sizeof tmp) {
            size_t k = elem - off < sizeof tmp ? elem - off : sizeof tmp;
            memcpy(tmp, b + i * elem + off, k);
            memcpy(b + i * elem + off, b + j * elem + off, k);
            memcpy(b + j * elem + off, tmp, k);
        }
    }
}
