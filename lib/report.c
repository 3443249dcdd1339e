/*
 * report.c - loading run summaries and logs, and the three writers.
 *
 * Inputs are small (a summary is a few KB, a training log a few thousand
 * lines), so each summary is read whole and parsed with cJSON; the log goes
 * through the JSONL reader so its errors carry the line.  The HTML page is
 * built as one string: a table, then two hand-laid SVG plots.  Plot geometry
 * is fixed (960 px wide) so the page renders the same everywhere; axis ticks
 * use the usual 1-2-5 "nice number" steps.
 */
#include "report.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cjson/cJSON.h>

#include "jsonl.h"

/* ---------------------------------------------------------------- columns */

static const char *const col_title[REPORT_NCOL] = {
    "IFEval [S]P", "IFEval [S]I", "IFEval [L]P", "IFEval [L]I", "IFEval Avg",
    "Flatten [S]I", "Flatten [L]I", "Flatten Avg",
};
static const char *const col_key[REPORT_NCOL] = {
    "ifeval_sp", "ifeval_si", "ifeval_lp", "ifeval_li", "ifeval_avg",
    "flatten_si", "flatten_li", "flatten_avg",
};

const char *report_col_title(int col) { return col_title[col]; }
const char *report_col_key(int col) { return col_key[col]; }

/* ---------------------------------------------------------------- loading */

/* Read a whole (possibly gzipped) file.  NULL with err filled on failure. */
static char *read_all(const char *path, Err *err)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        err_set(err, path, 0, "cannot open: %s", strerror(errno ? errno : ENOENT));
        return NULL;
    }
    StrBuf sb = SB_INIT;
    char buf[8192];
    int n;
    while ((n = gzread(gz, buf, sizeof buf)) > 0)
        sb_add(&sb, buf, (size_t)n);
    /* gzread returns 0 on a truncated gzip stream too: ask zlib either way */
    int zerr = Z_OK;
    const char *m = jsonl_gz_error(gz, &zerr);
    size_t np = strlen(path); /* gzopen'ed by name, zlib says "path: " first */
    if (!strncmp(m, path, np) && !strncmp(m + np, ": ", 2))
        m += np + 2;
    if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
        if (zerr == Z_ERRNO)
            err_set(err, path, 0, "read error: %s", strerror(errno));
        else if (n < 0)
            err_set(err, path, 0, "read error: %s", m);
        else
            err_set(err, path, 0, "truncated or corrupt gzip input: %s", m);
        gzclose(gz);
        sb_release(&sb);
        return NULL;
    }
    gzclose(gz);
    return sb_detach(&sb, NULL);
}

static long line_of(const char *text, const char *at)
{
    long line = 1;
    for (const char *p = text; *p && p < at; p++)
        if (*p == '\n')
            line++;
    return line;
}

/* Parse the summary at path into a cJSON object; NULL with err on failure. */
static cJSON *load_summary(const char *path, Err *err)
{
    char *text = read_all(path, err);
    if (!text)
        return NULL;
    size_t bad;
    if (!utf8_valid(text, strlen(text), &bad)) {
        err_set(err, path, line_of(text, text + bad), "invalid UTF-8");
        free(text);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        err_set(err, path, at ? line_of(text, at) : 0, "malformed JSON");
        free(text);
        return NULL;
    }
    free(text);
    if (!cJSON_IsObject(root)) {
        err_set(err, path, 0, "summary is not a JSON object");
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static int get_metric(const cJSON *root, const char *key, const char *path, double *out, Err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        err_set(err, path, 0, "missing metric '%s'", key);
        return -1;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0 && v->valuedouble <= 1.0)) {
        err_set(err, path, 0, "metric '%s' is not a number between 0 and 1", key);
        return -1;
    }
    *out = v->valuedouble * 100.0;
    return 0;
}

static int cmp_inst(const void *a, const void *b)
{
    return strcmp(((const ReportInst *)a)->id, ((const ReportInst *)b)->id);
}

static int load_per_instruction(ReportRun *run, const cJSON *root, const char *path, Err *err)
{
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(root, "per_instruction");
    if (!per)
        return 0; /* no bars for this run */
    if (!cJSON_IsObject(per)) {
        err_set(err, path, 0, "'per_instruction' is not an object");
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(per);
    run->inst = xcalloc(n ? n : 1, sizeof *run->inst);
    const cJSON *it;
    cJSON_ArrayForEach(it, per) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "strict");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(it, "loose");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "n");
        if (!cJSON_IsNumber(s) || !cJSON_IsNumber(l) || !(s->valuedouble >= 0 && s->valuedouble <= 1) ||
            !(l->valuedouble >= 0 && l->valuedouble <= 1)) {
            err_set(err, path, 0, "per_instruction '%s' needs numeric 'strict' and 'loose' between 0 and 1",
                    it->string);
            return -1;
        }
        ReportInst *ri = &run->inst[run->ninst++];
        ri->id = xstrdup(it->string);
        ri->n = cJSON_IsNumber(c) ? (long)c->valuedouble : 0;
        ri->strict = s->valuedouble * 100.0;
        ri->loose = l->valuedouble * 100.0;
    }
    qsort(run->inst, run->ninst, sizeof *run->inst, cmp_inst);
    return 0;
}

static int load_log(ReportRun *run, const char *path, Err *err)
{
    JsonlReader r;
    if (jsonl_open(&r, path, err) < 0)
        return -1;
    size_t cap = 0;
    cJSON *rec;
    int rc, ret = 0;
    while ((rc = jsonl_next(&r, &rec, err)) != 0) {
        if (rc < 0) {
            ret = -1;
            break;
        }
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(rec, "step");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(rec, "loss");
        const char *miss = !cJSON_IsNumber(s) ? "step" : !cJSON_IsNumber(l) ? "loss" : NULL;
        if (miss || !isfinite(s->valuedouble) || !isfinite(l->valuedouble)) {
            if (miss)
                err_set(err, r.path, r.line, "missing numeric '%s'", miss);
            else
                err_set(err, r.path, r.line, "'step' and 'loss' must be finite");
            cJSON_Delete(rec);
            ret = -1;
            break;
        }
        size_t c2 = cap;
        run->step = grow_array(run->step, &cap, run->nlog + 1, sizeof *run->step);
        run->loss = grow_array(run->loss, &c2, run->nlog + 1, sizeof *run->loss);
        run->step[run->nlog] = s->valuedouble;
        run->loss[run->nlog] = l->valuedouble;
        run->nlog++;
        cJSON_Delete(rec);
    }
    jsonl_close(&r);
    return ret;
}

int report_run_load(ReportRun *run, const char *name, const char *ifeval,
                    const char *flatten, const char *log, Err *err)
{
    static const char *const keys[4] = {
        "prompt_level_strict_acc", "inst_level_strict_acc",
        "prompt_level_loose_acc", "inst_level_loose_acc",
    };
    memset(run, 0, sizeof *run);
    run->name = xstrdup(name);
    cJSON *root = load_summary(ifeval, err);
    if (!root)
        goto fail;
    for (int i = 0; i < 4; i++) {
        if (get_metric(root, keys[i], ifeval, &run->col[REPORT_SP + i], err) < 0) {
            cJSON_Delete(root);
            goto fail;
        }
        run->has[REPORT_SP + i] = 1;
    }
    run->col[REPORT_AVG] = (run->col[REPORT_SP] + run->col[REPORT_SI] + run->col[REPORT_LP] +
                            run->col[REPORT_LI]) / 4.0;
    run->has[REPORT_AVG] = 1;
    if (load_per_instruction(run, root, ifeval, err) < 0) {
        cJSON_Delete(root);
        goto fail;
    }
    cJSON_Delete(root);

    if (flatten && *flatten) {
        root = load_summary(flatten, err);
        if (!root)
            goto fail;
        if (get_metric(root, keys[1], flatten, &run->col[REPORT_FSI], err) < 0 ||
            get_metric(root, keys[3], flatten, &run->col[REPORT_FLI], err) < 0) {
            cJSON_Delete(root);
            goto fail;
        }
        cJSON_Delete(root);
        run->col[REPORT_FAVG] = (run->col[REPORT_FSI] + run->col[REPORT_FLI]) / 2.0;
        run->has[REPORT_FSI] = run->has[REPORT_FLI] = run->has[REPORT_FAVG] = 1;
    }
    if (log && *log && load_log(run, log, err) < 0)
        goto fail;
    return 0;
fail:
    report_run_release(run);
    return -1;
}

void report_run_release(ReportRun *run)
{
    free(run->name);
    for (size_t i = 0; i < run->ninst; i++)
        free(run->inst[i].id);
    free(run->inst);
    free(run->step);
    free(run->loss);
    memset(run, 0, sizeof *run);
}

/* ---------------------------------------------------------------- table */

/* Values are compared as printed: round to hundredths first. */
static long hundredths(double v) { return lround(v * 100.0); }

void report_best(const ReportRun *runs, size_t n, int *best)
{
    for (int c = 0; c < REPORT_NCOL; c++) {
        long top = LONG_MIN;
        int any = 0;
        for (size_t r = 0; r < n; r++)
            if (runs[r].has[c] && (!any || hundredths(runs[r].col[c]) > top)) {
                top = hundredths(runs[r].col[c]);
                any = 1;
            }
        for (size_t r = 0; r < n; r++)
            best[r * REPORT_NCOL + c] = any && runs[r].has[c] && hundredths(runs[r].col[c]) == top;
    }
}

static const char DASH[] = "\xe2\x80\x93"; /* U+2013 EN DASH */

/* Markdown table cells must not contain '|' or newlines. */
static void md_name(StrBuf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            sb_adds(out, "\\|");
        else if (*s == '\n' || *s == '\r')
            sb_addc(out, ' ');
        else
            sb_addc(out, *s);
    }
}

void report_markdown(StrBuf *out, const ReportRun *runs, size_t n)
{
    int *best = xcalloc(n ? n * REPORT_NCOL : 1, sizeof *best);
    report_best(runs, n, best);
    sb_adds(out, "| Model |");
    for (int c = 0; c < REPORT_NCOL; c++)
        sb_addf(out, " %s |", col_title[c]);
    sb_adds(out, "\n|---|");
    for (int c = 0; c < REPORT_NCOL; c++)
        sb_adds(out, "---:|");
    sb_addc(out, '\n');
    for (size_t r = 0; r < n; r++) {
        sb_adds(out, "| ");
        md_name(out, runs[r].name);
        sb_adds(out, " |");
        for (int c = 0; c < REPORT_NCOL; c++) {
            if (!runs[r].has[c])
                sb_addf(out, " %s |", DASH);
            else if (best[r * REPORT_NCOL + c])
                sb_addf(out, " **%.2f** |", runs[r].col[c]);
            else
                sb_addf(out, " %.2f |", runs[r].col[c]);
        }
        sb_addc(out, '\n');
    }
    free(best);
}

static void csv_field(StrBuf *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        sb_adds(out, s);
        return;
    }
    sb_addc(out, '"');
    for (; *s; s++) {
        if (*s == '"')
            sb_addc(out, '"');
        sb_addc(out, *s);
    }
    sb_addc(out, '"');
}

void report_csv(StrBuf *out, const ReportRun *runs, size_t n)
{
    int *best = xcalloc(n ? n * REPORT_NCOL : 1, sizeof *best);
    report_best(runs, n, best);
    sb_adds(out, "model");
    for (int c = 0; c < REPORT_NCOL; c++)
        sb_addf(out, ",%s", col_key[c]);
    sb_adds(out, ",best\n");
    for (size_t r = 0; r < n; r++) {
        csv_field(out, runs[r].name);
        for (int c = 0; c < REPORT_NCOL; c++) {
            if (runs[r].has[c])
                sb_addf(out, ",%.2f", runs[r].col[c]);
            else
                sb_adds(out, ",");
        }
        sb_addc(out, ',');
        int first = 1;
        for (int c = 0; c < REPORT_NCOL; c++)
            if (best[r * REPORT_NCOL + c]) {
                sb_addf(out, "%s%s", first ? "" : ";", col_key[c]);
                first = 0;
            }
        sb_addc(out, '\n');
    }
    free(best);
}

/* ---------------------------------------------------------------- HTML */

static const char *const palette[] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};
#define NPALETTE (sizeof palette / sizeof palette[0])

static void html_esc(StrBuf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_adds(out, "&amp;"); break;
        case '<': sb_adds(out, "&lt;"); break;
        case '>': sb_adds(out, "&gt;"); break;
        case '"': sb_adds(out, "&quot;"); break;
        case '\'': sb_adds(out, "&#39;"); break;
        default: sb_addc(out, *s);
        }
    }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about n ticks. */
static double nice_step(double range, int n)
{
    if (!(range > 0))
        return 1.0;
    double raw = range / n;
    double p = pow(10.0, floor(log10(raw)));
    double f = raw / p;
    double m = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0;
    return m * p;
}

/* Tick label without trailing zeros, fixed precision from the step. */
static void tick_label(StrBuf *out, double v, double step)
{
    int dec = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6)
        dec = 6;
    if (fabs(v) < step * 1e-6)
        v = 0.0;
    sb_addf(out, "%.*f", dec, v);
}

static void html_legend(StrBuf *out, const ReportRun *runs, size_t n, int only_logs)
{
    sb_adds(out, "<div class=\"legend\">");
    for (size_t r = 0; r < n; r++) {
        if (only_logs && !runs[r].nlog)
            continue;
        sb_addf(out, "<span><i style=\"background:%s\"></i>", palette[r % NPALETTE]);
        html_esc(out, runs[r].name);
        sb_adds(out, "</span>");
    }
    sb_adds(out, "</div>\n");
}

static void html_table(StrBuf *out, const ReportRun *runs, size_t n)
{
    int *best = xcalloc(n ? n * REPORT_NCOL : 1, sizeof *best);
    report_best(runs, n, best);
    sb_adds(out, "<table>\n<thead><tr><th rowspan=\"2\" class=\"name\">Model</th>"
                 "<th colspan=\"5\" class=\"grp\">IFEval</th><th colspan=\"3\" class=\"grp sep\">IFEval-Flatten</th></tr>\n<tr>");
    static const char *const sub[REPORT_NCOL] = {"[S]P", "[S]I", "[L]P", "[L]I", "Avg.", "[S]I", "[L]I", "Avg."};
    for (int c = 0; c < REPORT_NCOL; c++)
        sb_addf(out, "<th%s>%s</th>", c == REPORT_FSI ? " class=\"sep\"" : "", sub[c]);
    sb_adds(out, "</tr></thead>\n<tbody>\n");
    for (size_t r = 0; r < n; r++) {
        sb_addf(out, "<tr><td class=\"name\"><i style=\"background:%s\"></i>", palette[r % NPALETTE]);
        html_esc(out, runs[r].name);
        sb_adds(out, "</td>");
        for (int c = 0; c < REPORT_NCOL; c++) {
            const char *sep = c == REPORT_FSI ? " class=\"sep\"" : "";
            if (!runs[r].has[c])
                sb_addf(out, "<td%s>%s</td>", sep, DASH);
            else if (best[r * REPORT_NCOL + c])
                sb_addf(out, "<td%s><b>%.2f</b></td>", sep, runs[r].col[c]);
            else
                sb_addf(out, "<td%s>%.2f</td>", sep, runs[r].col[c]);
        }
        sb_adds(out, "</tr>\n");
    }
    sb_adds(out, "</tbody>\n</table>\n");
    free(best);
}

/* Union of instruction ids over all runs, sorted; returns the count. */
static size_t inst_ids(const ReportRun *runs, size_t n, const char ***out)
{
    size_t cap = 0, k = 0;
    const char **ids = NULL;
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < runs[r].ninst; i++) {
            size_t j;
            for (j = 0; j < k && strcmp(ids[j], runs[r].inst[i].id); j++)
                ;
            if (j < k)
                continue;
            ids = grow_array(ids, &cap, k + 1, sizeof *ids);
            ids[k++] = runs[r].inst[i].id;
        }
    for (size_t i = 1; i < k; i++) /* insertion sort: at most a few dozen ids */
        for (size_t j = i; j > 0 && strcmp(ids[j - 1], ids[j]) > 0; j--) {
            const char *t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    *out = ids;
    return k;
}

static const ReportInst *find_inst(const ReportRun *run, const char *id)
{
    for (size_t i = 0; i < run->ninst; i++)
        if (!strcmp(run->inst[i].id, id))
            return &run->inst[i];
    return NULL;
}

/* Horizontal grouped bars: one group per instruction id, one bar per run. */
static void html_bars(StrBuf *out, const ReportRun *runs, size_t n)
{
    const char **ids;
    size_t k = inst_ids(runs, n, &ids);
    if (!k) {
        sb_adds(out, "<p class=\"none\">No per-instruction results in the summaries.</p>\n");
        return;
    }
    const int LABEL = 300, PLOT = 600, BAR = 10, GAP = 10, TOP = 24, BOTTOM = 8;
    int group = (int)n * BAR + GAP;
    int height = TOP + (int)k * group + BOTTOM;
    int width = LABEL + PLOT + 50;
    sb_addf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                 "role=\"img\" aria-label=\"per-instruction strict accuracy\">\n",
            width, height, width, height);
    /* grid and axis labels */
    for (int t = 0; t <= 100; t += 20) {
        double x = LABEL + PLOT * t / 100.0;
        sb_addf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>"
                     "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%d%%</text>\n",
                x, TOP - 4, x, height - BOTTOM, x, TOP - 8, t);
    }
    for (size_t i = 0; i < k; i++) {
        int y0 = TOP + (int)i * group + GAP / 2;
        if (i % 2 == 0)
            sb_addf(out, "<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"band\"/>\n",
                    y0 - GAP / 2, LABEL + PLOT, group);
        sb_addf(out, "<text x=\"%d\" y=\"%.1f\" class=\"label\" text-anchor=\"end\">", LABEL - 8,
                y0 + n * BAR / 2.0 + 4);
        html_esc(out, ids[i]);
        sb_adds(out, "</text>\n");
        for (size_t r = 0; r < n; r++) {
            const ReportInst *ri = find_inst(&runs[r], ids[i]);
            int y = y0 + (int)r * BAR;
            if (!ri) {
                sb_addf(out, "<text x=\"%d\" y=\"%d\" class=\"val\">%s</text>\n", LABEL + 4, y + BAR - 1, DASH);
                continue;
            }
            double w = PLOT * ri->strict / 100.0;
            sb_addf(out, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>", LABEL, y, w,
                    BAR - 1, palette[r % NPALETTE]);
            html_esc(out, runs[r].name);
            sb_addf(out, " %s: strict %.2f%%, loose %.2f%% (n=%ld)</title></rect>", ids[i], ri->strict, ri->loose,
                    ri->n);
            sb_addf(out, "<text x=\"%.1f\" y=\"%d\" class=\"val\">%.1f</text>\n", LABEL + w + 3, y + BAR - 1,
                    ri->strict);
        }
    }
    sb_adds(out, "</svg>\n");
    free(ids);
}

/* Loss against step, one polyline per run with a log. */
static void html_loss(StrBuf *out, const ReportRun *runs, size_t n)
{
    double x0 = DBL_MAX, x1 = -DBL_MAX, y0 = DBL_MAX, y1 = -DBL_MAX;
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < runs[r].nlog; i++) {
            x0 = fmin(x0, runs[r].step[i]);
            x1 = fmax(x1, runs[r].step[i]);
            y0 = fmin(y0, runs[r].loss[i]);
            y1 = fmax(y1, runs[r].loss[i]);
        }
    if (x0 > x1) {
        sb_adds(out, "<p class=\"none\">No training logs given.</p>\n");
        return;
    }
    if (x1 - x0 < 1e-12) { x0 -= 1; x1 += 1; }
    if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
    double ys = nice_step(y1 - y0, 6), xs = nice_step(x1 - x0, 8);
    y0 = floor(y0 / ys) * ys;
    y1 = ceil(y1 / ys) * ys;
    x0 = floor(x0 / xs) * xs;
    x1 = ceil(x1 / xs) * xs;
    const int W = 900, H = 380, L = 64, R = 20, T = 16, B = 48;
    const int PW = W - L - R, PH = H - T - B;
#define PX(v) (L + PW * ((v) - x0) / (x1 - x0))
#define PY(v) (T + PH * (1.0 - ((v) - y0) / (y1 - y0)))
    sb_addf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                 "role=\"img\" aria-label=\"training loss\">\n",
            W, H, W, H);
    for (double v = y0; v <= y1 + ys * 1e-6; v += ys) {
        sb_addf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/><text x=\"%d\" y=\"%.1f\" "
                     "class=\"tick\" text-anchor=\"end\">",
                L, PY(v), L + PW, PY(v), L - 6, PY(v) + 4);
        tick_label(out, v, ys);
        sb_adds(out, "</text>\n");
    }
    for (double v = x0; v <= x1 + xs * 1e-6; v += xs) {
        sb_addf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"axis\"/><text x=\"%.1f\" y=\"%d\" "
                     "class=\"tick\" text-anchor=\"middle\">",
                PX(v), T + PH, PX(v), T + PH + 5, PX(v), T + PH + 18);
        tick_label(out, v, xs);
        sb_adds(out, "</text>\n");
    }
    sb_addf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>"
                 "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n",
            L, T, L, T + PH, L, T + PH, L + PW, T + PH);
    sb_addf(out, "<text x=\"%d\" y=\"%d\" class=\"axtitle\" text-anchor=\"middle\">step</text>\n", L + PW / 2, H - 8);
    sb_addf(out, "<text x=\"16\" y=\"%d\" class=\"axtitle\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">"
                 "loss</text>\n",
            T + PH / 2, T + PH / 2);
    for (size_t r = 0; r < n; r++) {
        if (!runs[r].nlog)
            continue;
        if (runs[r].nlog == 1) {
            sb_addf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", PX(runs[r].step[0]),
                    PY(runs[r].loss[0]), palette[r % NPALETTE]);
            continue;
        }
        sb_addf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"",
                palette[r % NPALETTE]);
        for (size_t i = 0; i < runs[r].nlog; i++)
            sb_addf(out, "%s%.1f,%.1f", i ? " " : "", PX(runs[r].step[i]), PY(runs[r].loss[i]));
        sb_adds(out, "\"/>\n");
    }
#undef PX
#undef PY
    sb_adds(out, "</svg>\n");
}

void report_html(StrBuf *out, const ReportRun *runs, size_t n, const char *title)
{
    if (!title || !*title)
        title = "miso report";
    sb_adds(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    html_esc(out, title);
    sb_adds(out,
            "</title>\n<style>\n"
            "body{font-family:sans-serif;color:#222;margin:24px 32px;max-width:1100px;background:#fff}\n"
            "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;"
            "padding-bottom:4px}\n"
            "p.note{color:#666;font-size:13px;margin:4px 0 12px}p.none{color:#888;font-style:italic}\n"
            "table{border-collapse:collapse;font-size:14px}\n"
            "th,td{padding:5px 10px;text-align:right;border-bottom:1px solid #e4e4e4}\n"
            "thead th{background:#f3f5f8;border-bottom:2px solid #bbb}thead th.grp{text-align:center;border-bottom:1px solid #ccc}\n"
            "th.name,td.name{text-align:left}td.name i,.legend i{display:inline-block;width:11px;height:11px;"
            "margin-right:7px;border-radius:2px;vertical-align:-1px}\n"
            ".sep{border-left:2px solid #ccc}tbody tr:hover{background:#fafafa}\n"
            ".legend{font-size:13px;margin:6px 0}.legend span{margin-right:18px}\n"
            "svg{display:block;font-family:sans-serif}svg .grid{stroke:#e2e2e2}svg .axis{stroke:#555}\n"
            "svg .tick{font-size:11px;fill:#555}svg .label{font-size:12px;fill:#333}"
            "svg .val{font-size:9px;fill:#555}\n"
            "svg .band{fill:#f7f8fa}svg .axtitle{font-size:12px;fill:#333}\n"
            "</style>\n</head>\n<body>\n<h1>");
    html_esc(out, title);
    sb_adds(out, "</h1>\n<p class=\"note\">Accuracy in percent; best per column in bold; "
                 "&ldquo;[S]&rdquo;/&ldquo;[L]&rdquo; strict/loose, &ldquo;P&rdquo;/&ldquo;I&rdquo; prompt/"
                 "instruction level; &ndash; not given.</p>\n");
    html_table(out, runs, n);
    sb_adds(out, "<h2>IFEval strict accuracy per instruction id</h2>\n");
    html_legend(out, runs, n, 0);
    html_bars(out, runs, n);
    sb_adds(out, "<h2>Training loss</h2>\n");
    int any_log = 0;
    for (size_t r = 0; r < n; r++)
        any_log |= runs[r].nlog > 0;
    if (any_log)
        html_legend(out, runs, n, 1);
    html_loss(out, runs, n);
    sb_adds(out, "</body>\n</html>\n");
}
