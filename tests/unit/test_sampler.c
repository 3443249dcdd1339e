/*
 * test_sampler.c - lib/sampler: greedy ties, and the order in which
 * temperature, top-k and top-p combine (Hugging Face's warper order:
 * temperature, then top-k, then top-p on the renormalised survivors), shown
 * on distributions where another order would keep a different nucleus.
 */
#include <math.h>
#include <string.h>

#include "sampler.h"
#include "testhelp.h"
#include "util.h"

/* Draw n tokens from logits log(p) and count how often each id comes. */
static void draw(const double *p, int V, float temp, float top_p, int top_k, int n, int *count)
{
    Sampler s;
    float lg[8];
    sampler_init(&s, V, temp, top_p, top_k, 99);
    memset(count, 0, sizeof(int) * (size_t)V);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < V; j++)
            lg[j] = (float)log(p[j]);
        count[sampler_sample(&s, lg)]++;
    }
    sampler_release(&s);
}

int main(void)
{
    float tie[4] = {0.5f, 2.0f, 2.0f, 1.0f};
    CHECK(sampler_argmax(tie, 4) == 1, "greedy ties go to the lowest id (llama2.c's argmax)");
    {
        Sampler s;
        sampler_init(&s, 4, 0.0f, 0.5f, 1, 1);
        float lg[4] = {0.5f, 2.0f, 2.0f, 1.0f};
        CHECK(sampler_sample(&s, lg) == 1, "temperature 0 is greedy whatever top-p and top-k say");
        sampler_release(&s);
    }
    int c[8];
    const double p3[3] = {0.5, 0.3, 0.2};
    /* temperature first: at T 0.5 the probabilities become 0.658, 0.237,
     * 0.105, so top-p 0.6 keeps only id 0 (top-p before the temperature, as
     * llama.cpp's default chain does, would keep ids 0 and 1) */
    draw(p3, 3, 0.5f, 0.6f, 0, 2000, c);
    CHECK(c[0] == 2000 && c[1] == 0, "top-p is taken after the temperature (%d, %d, %d)", c[0], c[1], c[2]);
    /* top-k before top-p, on renormalised probabilities: 0.4, 0.35, 0.25
     * cut to two ids are 0.533, 0.467, so top-p 0.5 keeps only id 0 (on the
     * full distribution it would need ids 0 and 1) */
    const double q3[3] = {0.4, 0.35, 0.25};
    draw(q3, 3, 1.0f, 0.5f, 2, 2000, c);
    CHECK(c[0] == 2000, "top-p is taken on the top-k survivors, renormalised (%d, %d, %d)", c[0], c[1], c[2]);
    draw(q3, 3, 1.0f, 1.0f, 2, 4000, c);
    CHECK(c[2] == 0 && fabs(c[0] / 4000.0 - 0.4 / 0.75) < 0.03,
          "top-k alone keeps the k most likely ids in proportion (%d, %d, %d)", c[0], c[1], c[2]);
    draw(p3, 3, 1.0f, 1.0f, 0, 6000, c);
    CHECK(fabs(c[0] / 6000.0 - 0.5) < 0.03 && fabs(c[1] / 6000.0 - 0.3) < 0.03 && fabs(c[2] / 6000.0 - 0.2) < 0.03,
          "plain sampling follows the softmax (%d, %d, %d of 6000)", c[0], c[1], c[2]);
    /* the nucleus includes the token that crosses top_p */
    draw(p3, 3, 1.0f, 0.7f, 0, 3000, c);
    CHECK(c[2] == 0 && c[1] > 0 && fabs(c[0] / 3000.0 - 0.5 / 0.8) < 0.03,
          "top-p 0.7 keeps 0.5 + 0.3, the smallest set reaching it (%d, %d, %d)", c[0], c[1], c[2]);
    return TEST_REPORT();
}
