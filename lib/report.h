/*
 * report.h - put several runs' IFEval results side by side: the paper's
 * table (Markdown, CSV) and a self-contained HTML page with inline SVG plots.
 *
 * A run is a name plus
 *   - the `ifeval-score --summary` JSON on IFEval (required): the four
 *     lm-evaluation-harness metrics and per_instruction accuracies;
 *   - the same summary on IFEval-Flatten (optional): only the two
 *     instruction-level metrics are used, as in the paper;
 *   - a training log (optional): JSONL, one object per step with at least
 *     numeric "step" and "loss".
 * A missing optional piece is shown as an en dash, never an error.
 *
 * Table form (paper Tables 1-2): IFEval [S]P [S]I [L]P [L]I Avg and
 * IFEval-Flatten [S]I [L]I Avg, in percent with two decimals.  Avg is the
 * mean of the unrounded metrics of its group.  The best value of each column
 * (compared after rounding to the printed two decimals, so ties that print
 * alike are all marked) is bold in Markdown and HTML; CSV keeps the numbers
 * plain and names the columns a run is best in, in a last "best" column.
 *
 * Invariants
 *   - Metrics are fractions in [0, 1] as the summary stores them; a metric
 *     outside that range or not a number is bad input.
 *   - Output is deterministic (fixed "%.2f" formatting in the C locale the
 *     programs run in, runs in the order given, instruction ids sorted).
 *
 * Ownership
 *   - report_run_load fills a ReportRun that owns all its strings and arrays;
 *     report_run_release frees them.  Name and paths are copied.
 *   - The writers append to a caller-owned StrBuf.
 *
 * Errors
 *   - report_run_load returns -1 and fills err: "FILE: cannot open ...",
 *     "FILE:LINE: malformed JSON", "FILE: missing metric 'inst_level_strict_acc'",
 *     "FILE:LINE: missing numeric 'loss'" and so on.  Nothing prints or exits.
 *
 * Usage
 *   ReportRun runs[2]; Err err;
 *   if (report_run_load(&runs[0], "sft", "a.json", "a-flat.json", NULL, &err) < 0)
 *       err_die(&err);
 *   ...
 *   StrBuf sb = SB_INIT;
 *   report_markdown(&sb, runs, 2);
 *   fputs(sb.buf, stdout);
 */
#ifndef MISO_REPORT_H
#define MISO_REPORT_H

#include <stddef.h>
#include "util.h"

/* Table columns, in printed order. */
enum {
    REPORT_SP, REPORT_SI, REPORT_LP, REPORT_LI, REPORT_AVG,   /* IFEval */
    REPORT_FSI, REPORT_FLI, REPORT_FAVG,                      /* IFEval-Flatten */
    REPORT_NCOL
};

typedef struct {
    char *id;          /* "punctuation:no_comma" */
    long n;
    double strict, loose;
} ReportInst;

typedef struct {
    char *name;
    double col[REPORT_NCOL];  /* percent; valid only where has[] is set */
    int has[REPORT_NCOL];
    ReportInst *inst;         /* per_instruction of the IFEval summary, sorted by id */
    size_t ninst;
    double *step, *loss;      /* training log, in file order */
    size_t nlog;
} ReportRun;

/* Load one run.  ifeval is required; flatten and log may be NULL or "".
 * Returns 0, or -1 with err filled (the run is then released). */
int report_run_load(ReportRun *run, const char *name, const char *ifeval,
                    const char *flatten, const char *log, Err *err);
void report_run_release(ReportRun *run);

/* Column headers ("IFEval [S]P" ...) and short CSV names ("ifeval_sp" ...). */
const char *report_col_title(int col);
const char *report_col_key(int col);

/* best[r * REPORT_NCOL + c] = 1 when run r holds the best value of column c. */
void report_best(const ReportRun *runs, size_t n, int *best);

/* The table as GitHub Markdown, one row per run. */
void report_markdown(StrBuf *out, const ReportRun *runs, size_t n);
/* The table as CSV (RFC 4180 quoting of names), header line first. */
void report_csv(StrBuf *out, const ReportRun *runs, size_t n);
/* A whole HTML page: the table, per-instruction-id strict accuracy bars
 * (grouped per id, one bar per run) and the training-loss curves, all inline
 * (CSS in a <style>, plots as <svg>); no scripts, fonts or links. */
void report_html(StrBuf *out, const ReportRun *runs, size_t n, const char *title);

#endif
