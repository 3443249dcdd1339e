/*
 * testhelp.h - the unit-test harness (after redis src/testhelp.h).
 *
 * Each check prints "PASS: sentence" or "FAIL: sentence"; TEST_REPORT()
 * prints "N passed, N failed" and is the binary's exit status (non-zero on
 * any failure).  Tests run from the repository root, so data paths such as
 * "datasets/ifeval/input_data.jsonl" work.
 *
 *   int main(void) {
 *       CHECK(1 + 1 == 2, "adds two numbers");
 *       CHECK_NEAR(x, 0.5, 1e-6, "computes the mean");
 *       return TEST_REPORT();
 *   }
 */
#ifndef MISO_TESTHELP_H
#define MISO_TESTHELP_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int th_passed, th_failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        int th_c_ = !!(cond);                                                                     \
        if (th_c_)                                                                                \
            th_passed++;                                                                           \
        else                                                                                       \
            th_failed++;                                                                           \
        printf("%s: ", th_c_ ? "PASS" : "FAIL");                                                  \
        printf(__VA_ARGS__);                                                                       \
        if (!th_c_)                                                                               \
            printf("  (%s:%d: %s)", __FILE__, __LINE__, #cond);                                    \
        printf("\n");                                                                              \
    } while (0)

#define CHECK_STR(got, want, ...)                                                                  \
    do {                                                                                           \
        const char *th_g_ = (got), *th_w_ = (want);                                                \
        int th_ok_ = th_g_ && th_w_ && !strcmp(th_g_, th_w_);                                      \
        CHECK(th_ok_, __VA_ARGS__);                                                                \
        if (!th_ok_)                                                                               \
            printf("    got:  \"%s\"\n    want: \"%s\"\n", th_g_ ? th_g_ : "(null)", th_w_ ? th_w_ : "(null)"); \
    } while (0)

#define CHECK_NEAR(got, want, tol, ...)                                                            \
    do {                                                                                           \
        double th_g_ = (double)(got), th_w_ = (double)(want);                                      \
        int th_ok_ = fabs(th_g_ - th_w_) <= (tol);                                                 \
        CHECK(th_ok_, __VA_ARGS__);                                                                \
        if (!th_ok_)                                                                               \
            printf("    got %.9g want %.9g (diff %.3g, tol %.3g)\n", th_g_, th_w_, fabs(th_g_ - th_w_), (double)(tol)); \
    } while (0)

#define TEST_REPORT() (printf("%d passed, %d failed\n", th_passed, th_failed), th_failed ? 1 : 0)

#endif
