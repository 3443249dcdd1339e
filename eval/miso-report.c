/*
 * miso-report - several runs' IFEval / IFEval-Flatten summaries (and training
 * logs) -> the paper's comparison table as Markdown, CSV and an HTML page.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ofile.h"
#include "report.h"
#include "util.h"

static void usage(void)
{
    printf("usage: miso-report [OPTIONS] --run NAME:IFEVAL[:FLATTEN[:LOG]] ...\n"
           "\n"
           "Put runs side by side in the form of the MISO paper's tables: IFEval\n"
           "[S]P [S]I [L]P [L]I Avg and IFEval-Flatten [S]I [L]I Avg, in percent,\n"
           "best per column marked.  IFEVAL and FLATTEN are `ifeval-score --summary`\n"
           "files, LOG a training log (JSONL with step and loss).  FLATTEN and LOG\n"
           "may be left out or empty (NAME:a.json::log.jsonl); missing pieces print\n"
           "as an en dash.  A RUN may also be given without --run.\n"
           "\n"
           "  -r, --run SPEC      add a run (repeatable, kept in order)\n"
           "  -o, --output FILE   write the Markdown table to FILE (default stdout)\n"
           "      --csv FILE      also write the table as CSV\n"
           "      --html FILE     also write a self-contained HTML page with plots\n"
           "      --title TEXT    title of the HTML page (default \"miso report\")\n"
           "      --no-markdown   do not print the Markdown table\n"
           "  -q, --quiet         no messages on stderr\n"
           "  -h, --help          show this help and exit\n"
           "  -V, --version       show the version and exit\n");
}

typedef struct {
    char *name, *ifeval, *flatten, *log;
} Spec;

static void parse_spec(const char *arg, Spec *s)
{
    char *copy = xstrdup(arg);
    char *f[4] = {NULL, NULL, NULL, NULL};
    int nf = 0;
    char *p = copy;
    for (;;) {
        char *colon = strchr(p, ':');
        if (nf >= 4)
            die_usage("run '%s' has more than four ':'-separated fields", arg);
        else
            f[nf++] = p;
        if (!colon)
            break;
        *colon = '\0';
        p = colon + 1;
    }
    if (!*f[0])
        die_usage("run '%s' has an empty name", arg);
    if (nf < 2 || !*f[1])
        die_usage("run '%s' needs an IFEval summary: NAME:IFEVAL[:FLATTEN[:LOG]]", arg);
    s->name = xstrdup(f[0]);
    s->ifeval = xstrdup(f[1]);
    s->flatten = nf > 2 ? xstrdup(f[2]) : NULL;
    s->log = nf > 3 ? xstrdup(f[3]) : NULL;
    free(copy);
}

static void write_file(const char *path, const StrBuf *sb)
{
    Err err;
    if (ofile_write_all(path, sb->buf, sb->len, &err) < 0)
        err_die(&err);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"run", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'},
        {"csv", required_argument, NULL, 'c'},
        {"html", required_argument, NULL, 'H'},
        {"title", required_argument, NULL, 't'},
        {"no-markdown", no_argument, NULL, 'M'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    util_set_prog(argv[0]);
    Spec *specs = NULL;
    size_t nspec = 0, cap = 0;
    const char *output = "-", *csv = NULL, *html = NULL, *title = NULL;
    int markdown = 1, quiet = 0, c;
    while ((c = getopt_long(argc, argv, "r:o:qhV", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            specs = grow_array(specs, &cap, nspec + 1, sizeof *specs);
            parse_spec(optarg, &specs[nspec++]);
            break;
        case 'o': output = optarg; break;
        case 'c': csv = optarg; break;
        case 'H': html = optarg; break;
        case 't': title = optarg; break;
        case 'M': markdown = 0; break;
        case 'q': quiet = 1; break;
        case 'h': usage(); util_close_stdout(); return 0;
        case 'V': util_print_version();
        default: /* getopt has said what is wrong */
            fprintf(stderr, "try '%s --help' for more information\n", util_prog());
            exit(2);
        }
    }
    for (int i = optind; i < argc; i++) {
        specs = grow_array(specs, &cap, nspec + 1, sizeof *specs);
        parse_spec(argv[i], &specs[nspec++]);
    }
    if (!nspec)
        die_usage("no runs given (use --run NAME:IFEVAL[:FLATTEN[:LOG]])");

    ReportRun *runs = xcalloc(nspec, sizeof *runs);
    Err err;
    for (size_t i = 0; i < nspec; i++)
        if (report_run_load(&runs[i], specs[i].name, specs[i].ifeval, specs[i].flatten, specs[i].log, &err) < 0)
            err_die(&err);

    StrBuf sb = SB_INIT;
    if (markdown) {
        report_markdown(&sb, runs, nspec);
        write_file(output, &sb);
    }
    if (csv) {
        sb_reset(&sb);
        report_csv(&sb, runs, nspec);
        write_file(csv, &sb);
    }
    if (html) {
        sb_reset(&sb);
        report_html(&sb, runs, nspec, title);
        write_file(html, &sb);
        if (!quiet)
            fprintf(stderr, "miso-report: wrote '%s' (%zu run%s)\n", html, nspec, nspec == 1 ? "" : "s");
    }
    sb_release(&sb);
    for (size_t i = 0; i < nspec; i++) {
        report_run_release(&runs[i]);
        free(specs[i].name);
        free(specs[i].ifeval);
        free(specs[i].flatten);
        free(specs[i].log);
    }
    free(runs);
    free(specs);
    util_close_stdout();
    return 0;
}
