/* test_report.c - lib/report: loading summaries and logs, best marking, writers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "testhelp.h"

static char dir[] = "/tmp/test_report.XXXXXX";

static const char *put(const char *name, const char *text)
{
    static char path[8][256]; /* a ring: each path stays valid for 8 calls */
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

#define SUM(sp, si, lp, li) \
    "{\"prompt_level_strict_acc\": " #sp ", \"inst_level_strict_acc\": " #si \
    ", \"prompt_level_loose_acc\": " #lp ", \"inst_level_loose_acc\": " #li "}"

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    Err err;
    ReportRun r[3];

    const char *a = put("a.json",
                        "{\"prompt_level_strict_acc\": 0.401, \"inst_level_strict_acc\": 0.519,\n"
                        " \"prompt_level_loose_acc\": 0.447, \"inst_level_loose_acc\": 0.556,\n"
                        " \"per_instruction\": {\"z:last\": {\"n\": 3, \"strict\": 1, \"loose\": 1},\n"
                        "   \"a:first\": {\"n\": 2, \"strict\": 0.5, \"loose\": 0.75}}}\n");
    const char *af = put("af.json", SUM(0.2, 0.525, 0.3, 0.565));
    const char *log = put("a.log", "{\"step\": 1, \"loss\": 3.5}\n{\"step\": 2, \"loss\": 2.25, \"lr\": 1e-5}\n");
    CHECK(report_run_load(&r[0], "sft", a, af, log, &err) == 0, "loads a run with summary, flatten summary and log");
    CHECK_NEAR(r[0].col[REPORT_SP], 40.1, 1e-9, "turns prompt_level_strict_acc into percent");
    CHECK_NEAR(r[0].col[REPORT_AVG], (40.1 + 51.9 + 44.7 + 55.6) / 4, 1e-9, "averages the four IFEval metrics");
    CHECK_NEAR(r[0].col[REPORT_FAVG], (52.5 + 56.5) / 2, 1e-9, "averages the two IFEval-Flatten instruction metrics");
    CHECK(r[0].ninst == 2 && !strcmp(r[0].inst[0].id, "a:first") && r[0].inst[0].n == 2,
          "reads per_instruction sorted by id");
    CHECK_NEAR(r[0].inst[0].loose, 75.0, 1e-9, "reads per-instruction loose accuracy");
    CHECK(r[0].nlog == 2 && r[0].step[1] == 2 && r[0].loss[1] == 2.25, "reads step and loss from the log");

    const char *b = put("b.json", SUM(0.445, 0.547, 0.495, 0.595));
    CHECK(report_run_load(&r[1], "para", b, NULL, "", &err) == 0, "loads a run without flatten and log");
    CHECK(!r[1].has[REPORT_FSI] && !r[1].has[REPORT_FAVG] && r[1].nlog == 0, "marks flatten columns as missing");
    const char *c = put("c.json", SUM(0.44504, 0.1, 0.1, 0.1));
    CHECK(report_run_load(&r[2], "a|b", c, NULL, NULL, &err) == 0, "loads a third run");

    int best[3 * REPORT_NCOL];
    report_best(r, 3, best);
    CHECK(best[1 * REPORT_NCOL + REPORT_SP] && best[2 * REPORT_NCOL + REPORT_SP] && !best[REPORT_SP],
          "marks both runs that tie after rounding to two decimals");
    CHECK(best[REPORT_FSI] && !best[1 * REPORT_NCOL + REPORT_FSI], "gives a column with one value to that run");

    StrBuf sb = SB_INIT;
    report_markdown(&sb, r, 3);
    CHECK(strstr(sb.buf, "| sft | 40.10 | 51.90 | 44.70 | 55.60 | 48.08 | **52.50** | **56.50** | **54.50** |\n") != NULL,
          "writes a Markdown row with two decimals and bold best");
    CHECK(strstr(sb.buf, "| para | **44.50** | **54.70** | **49.50** | **59.50** | **52.05** | \xe2\x80\x93 |") != NULL,
          "writes an en dash for a missing value");
    CHECK(strstr(sb.buf, "| a\\|b |") != NULL, "escapes a pipe in a run name");
    sb_reset(&sb);
    report_csv(&sb, r, 3);
    CHECK(!strncmp(sb.buf, "model,ifeval_sp,", 16), "starts the CSV with a header");
    CHECK(strstr(sb.buf, "\nsft,40.10,51.90,44.70,55.60,48.08,52.50,56.50,54.50,flatten_si;flatten_li;flatten_avg\n") != NULL,
          "names the best columns of a run in the CSV");
    CHECK(strstr(sb.buf, "\npara,44.50,54.70,49.50,59.50,52.05,,,,ifeval_sp;ifeval_si;ifeval_lp;ifeval_li;ifeval_avg\n") != NULL,
          "leaves missing CSV cells empty");
    sb_reset(&sb);
    report_html(&sb, r, 3, "t <1>");
    CHECK(strstr(sb.buf, "<title>t &lt;1&gt;</title>") != NULL, "escapes the HTML title");
    CHECK(strstr(sb.buf, "<polyline") != NULL && strstr(sb.buf, "<script") == NULL, "draws the loss curve without scripts");
    sb_release(&sb);
    for (int i = 0; i < 3; i++)
        report_run_release(&r[i]);

    ReportRun x;
    const char *m = put("m.json", "{\"prompt_level_strict_acc\": 0.5,\n\"inst_level_strict_acc\": 0.5,\n"
                                  "\"prompt_level_loose_acc\": 0.5}\n");
    CHECK(report_run_load(&x, "x", m, NULL, NULL, &err) < 0 && err.line == 0 &&
              !strcmp(err.msg, "missing metric 'inst_level_loose_acc'"),
          "reports the missing metric by name");
    const char *bad = put("bad.json", "{\n\"prompt_level_strict_acc\": 0.5,\n\"x\": tru\n}\n");
    CHECK(report_run_load(&x, "x", bad, NULL, NULL, &err) < 0 && err.line == 3 && !strcmp(err.msg, "malformed JSON"),
          "reports malformed JSON with its line");
    const char *arr = put("arr.json", "[1, 2]\n");
    CHECK(report_run_load(&x, "x", arr, NULL, NULL, &err) < 0 && strstr(err.msg, "not a JSON object"),
          "rejects a summary that is not an object");
    const char *str = put("str.json", SUM("0.5", 0.5, 0.5, 0.5));
    CHECK(report_run_load(&x, "x", str, NULL, NULL, &err) < 0 && strstr(err.msg, "prompt_level_strict_acc"),
          "rejects a metric given as a string");
    const char *badlog = put("bad.log", "{\"step\": 1, \"loss\": 1}\n{\"step\": \"2\", \"loss\": 1}\n");
    const char *b2 = put("b2.json", SUM(0.5, 0.5, 0.5, 0.5));
    CHECK(report_run_load(&x, "x", b2, NULL, badlog, &err) < 0 && err.line == 2 && !strcmp(err.msg, "missing numeric 'step'"),
          "reports a log record without numeric step with its line");
    CHECK(report_run_load(&x, "x", "/nonexistent/s.json", NULL, NULL, &err) < 0 && strstr(err.msg, "cannot open"),
          "reports a missing file");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("warning: could not remove %s\n", dir);
    return TEST_REPORT();
}
