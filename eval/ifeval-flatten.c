/*
 * ifeval-flatten - IFEval -> IFEval-Flatten: each n-constraint prompt becomes
 * n single-constraint prompts (rules in lib/flatten, hand-written overrides).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flatten.h"
#include "jsonl.h"
#include "ofile.h"
#include "progress.h"
#include "util.h"

static void usage(void)
{
    printf("usage: ifeval-flatten [OPTIONS] [INPUT]\n"
           "\n"
           "Turn each n-constraint IFEval prompt into n single-constraint prompts\n"
           "(IFEval-Flatten: 834 records from the 541 IFEval prompts).  INPUT is\n"
           "IFEval JSONL (default: the shipped datasets/ifeval/input_data.jsonl;\n"
           "'-' is standard input).  Each output record has one instruction id and\n"
           "its kwargs, key \"<key>-<index>\", source_key, index and derivation\n"
           "(single, rules, override or base) with the removed text.\n"
           "\n"
           "  -o, --output FILE      write to FILE (default standard output)\n"
           "      --overrides FILE   hand-written flattened prompts for what the rules\n"
           "                         cannot settle (default: the shipped\n"
           "                         datasets/ifeval/flatten_overrides.jsonl)\n"
           "      --no-overrides     use the rules alone\n"
           "      --base FILE        build each prompt as a constraint-free base text\n"
           "                         (JSONL: key + model_output or prompt) plus the\n"
           "                         constraint's own sentences\n"
           "      --allow-unresolved emit what the rules cannot settle (derivation\n"
           "                         \"unresolved\", prompt unchanged) instead of failing\n"
           "      --report           list unresolved constraints on stderr (implies\n"
           "                         --allow-unresolved)\n"
           "  -q, --quiet            no progress or summary on stderr\n"
           "  -h, --help             show this help and exit\n"
           "  -V, --version          show the version and exit\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"overrides", required_argument, NULL, 'O'},
        {"no-overrides", no_argument, NULL, 'N'},
        {"base", required_argument, NULL, 'b'},
        {"allow-unresolved", no_argument, NULL, 'u'},
        {"report", no_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    util_set_prog(argv[0]);
    const char *output = "-", *ovpath = NULL, *basepath = NULL;
    int no_ov = 0, allow = 0, report = 0, quiet = 0, c;
    while ((c = getopt_long(argc, argv, "o:qhV", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'O': ovpath = optarg; break;
        case 'N': no_ov = 1; break;
        case 'b': basepath = optarg; break;
        case 'u': allow = 1; break;
        case 'r': report = allow = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(); util_close_stdout(); return 0;
        case 'V': util_print_version();
        default: /* getopt has said what is wrong */
            fprintf(stderr, "try '%s --help' for more information\n", util_prog());
            exit(2);
        }
    }
    if (argc - optind > 1)
        die_usage("only one input file may be given");
    if (no_ov && ovpath)
        die_usage("--overrides and --no-overrides exclude each other");
    char *input = xstrdup(optind < argc ? argv[optind] : util_datapath("ifeval/input_data.jsonl"));
    Err err;
    FlattenOverrides ov = {0};
    FlattenBase base = {0};
    if (!no_ov) {
        char *p = xstrdup(ovpath ? ovpath : util_datapath("ifeval/flatten_overrides.jsonl"));
        if (flatten_overrides_load(&ov, p, &err) < 0)
            err_die(&err);
        free(p);
    }
    if (basepath && flatten_base_load(&base, basepath, &err) < 0)
        err_die(&err);
    FlattenOptions fo = {no_ov ? NULL : &ov, basepath ? &base : NULL, allow};

    JsonlReader r;
    if (jsonl_open(&r, input, &err) < 0)
        err_die(&err);
    OutFile of;
    FILE *f = ofile_open(&of, output, &err);
    if (!f)
        err_die(&err);
    Progress pg;
    progress_init(&pg, "ifeval-flatten", 0, quiet);
    long nin = 0, nout = 0, count[5] = {0};
    static const char *const kinds[5] = {"single", "rules", "override", "base", "unresolved"};
    cJSON *rec;
    int rc;
    while ((rc = jsonl_next(&r, &rec, &err)) != 0) {
        if (rc < 0)
            err_die(&err);
        cJSON *outs = flatten_record(rec, &fo, r.path, r.line, &err);
        if (!outs)
            err_die(&err);
        const cJSON *o;
        cJSON_ArrayForEach(o, outs) {
            const char *d = json_str(o, "derivation");
            for (int k = 0; k < 5; k++)
                if (d && !strcmp(d, kinds[k]))
                    count[k]++;
            if (report && d && !strcmp(d, "unresolved")) {
                const cJSON *ids = cJSON_GetObjectItemCaseSensitive(o, "instruction_id_list");
                char *k = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "key"));
                fprintf(stderr, "ifeval-flatten: %s:%ld: key %s: %s: %s\n", r.path, r.line, k,
                        cJSON_GetArrayItem(ids, 0)->valuestring, json_str(o, "reason"));
                free(k);
            }
            if (jsonl_write(f, o) < 0)
                die("write error:");
            nout++;
        }
        cJSON_Delete(outs);
        cJSON_Delete(rec);
        progress_update(&pg, (uint64_t)++nin, NULL);
    }
    progress_done(&pg);
    jsonl_close(&r);
    if (ofile_commit(&of, &err) < 0)
        err_die(&err);
    for (size_t i = 0; i < ov.n; i++)
        if (!ov.v[i].used && ov.v[i].seen && !quiet && !basepath) /* stale: the rules settle it now */
            warn("override for key %s index %ld was not used", ov.v[i].key, ov.v[i].index);
    if (!quiet)
        fprintf(stderr, "ifeval-flatten: %ld prompts -> %ld records (%ld single, %ld rules, %ld override, %ld base, "
                        "%ld unresolved)\n",
                nin, nout, count[0], count[1], count[2], count[3], count[4]);
    flatten_overrides_release(&ov);
    flatten_base_release(&base);
    free(input);
    util_close_stdout();
    return 0;
}
