/*
 * miso-chunk - instruction records -> MISO-succ samples: the instruction cut
 * into k successive chunks at whitespace (lib/chunk.h), k drawn per record
 * from --probs with a stream that depends only on --seed and the record id.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "jsonl.h"
#include "ofile.h"
#include "progress.h"
#include "rng.h"
#include "sample.h"
#include "util.h"

static void usage(void)
{
    printf("usage: miso-chunk [OPTIONS] [FILE...]\n"
           "Cut the instruction of each record into 1..n successive chunks at whitespace\n"
           "(MISO-succ samples); the chunks concatenated give the instruction byte for byte.\n"
           "\n"
           "  -p, --probs P1,P2,...     probabilities of k = 1, 2, ... (default 0.55,0.15,0.15,0.15;\n"
           "                            normalised to sum 1)\n"
           "  -t, --think-template T    how DeepSeek-R1-Distill input and reasoning_content are\n"
           "                            joined: {input} and {reasoning} are replaced, \\n \\t \\\\\n"
           "                            are escapes (default \"{input}\\n<think>\\n{reasoning}\\n</think>\")\n"
           "  -s, --seed N              seed of the chunk counts (default %u)\n"
           "      --skip-bad            skip bad records, report counts at the end\n"
           "  -o, --output FILE         write FILE (whole or not at all) instead of stdout\n"
           "  -q, --quiet               no progress and no summary\n"
           "  -h, --help                this help\n"
           "  -V, --version             print the version\n"
           "\n"
           "Reads messages, ShareGPT conversations, Alpaca and DeepSeek-R1-Distill records\n"
           "(JSONL or one JSON array, gzip or not); '-' or none reads stdin.\n",
           MISO_DEFAULT_SEED);
}

/* "\n", "\t", "\\" escapes of the --think-template text. */
static char *unescape(const char *s)
{
    StrBuf b = SB_INIT;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            if (*s == 'n')
                sb_addc(&b, '\n');
            else if (*s == 't')
                sb_addc(&b, '\t');
            else if (*s == '\\')
                sb_addc(&b, '\\');
            else
                die_usage("bad escape '\\%c' in --think-template (want \\n, \\t or \\\\)", *s);
        } else {
            sb_addc(&b, *s);
        }
    }
    return sb_detach(&b, NULL);
}

int main(int argc, char **argv)
{
    util_set_prog(argv[0]);
    static const struct option longopts[] = {
        {"probs", required_argument, NULL, 'p'},
        {"think-template", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},
        {"skip-bad", no_argument, NULL, 'b'},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    double probs[CHUNK_MAX_K] = {0.55, 0.15, 0.15, 0.15};
    size_t nprobs = 4;
    char *tmpl = NULL;
    uint64_t seed = MISO_DEFAULT_SEED;
    int skip_bad = 0, quiet = 0;
    const char *out = NULL;
    Err err;
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "p:t:s:o:qhV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (chunk_parse_probs(optarg, probs, &nprobs, &err) < 0)
                die_usage("%s", err.msg);
            break;
        case 't':
            free(tmpl);
            tmpl = unescape(optarg);
            if (!strstr(tmpl, "{input}"))
                die_usage("--think-template '%s' lacks {input}", optarg);
            break;
        case 's':
            seed = strtoull(optarg, &end, 0);
            if (*end || end == optarg || *optarg == '-')
                die_usage("bad --seed '%s' (want a non-negative integer)", optarg);
            break;
        case 'b': skip_bad = 1; break;
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(); exit(0);
        case 'V': util_print_version();
        default: /* getopt has said what is wrong */
            fprintf(stderr, "try '%s --help' for more information\n", util_prog());
            exit(2);
        }
    }
    OutFile of;
    FILE *f = ofile_open(&of, out, &err);
    if (!f)
        err_die(&err);
    Conv c;
    conv_init(&c);
    Sample s;
    sample_init(&s);
    StrBuf line = SB_INIT;
    ChunkCuts cc = {0};
    SkipCount skips = {0};
    size_t hist[CHUNK_MAX_K + 1] = {0};
    size_t nout = 0;
    Progress prog;
    progress_init(&prog, "miso-chunk", 0, quiet);
    static const char *const shapes[] = {"messages", "sharegpt", "alpaca", "deepseek-r1"};
    int nfiles = argc - optind;
    for (int fi = 0; fi < (nfiles ? nfiles : 1); fi++) {
        const char *path = nfiles ? argv[optind + fi] : "-";
        JsonlReader r;
        if (jsonl_open(&r, path, &err) < 0)
            err_die(&err);
        cJSON *rec;
        int rc;
        while ((rc = jsonl_next(&r, &rec, &err)) != 0) {
            const char *raw = rc > 0 ? r.raw : NULL;
            size_t raw_len = rc > 0 ? r.raw_len : 0;
            if (rc > 0 && conv_read(&c, rec, tmpl, r.path, r.line, &err) < 0) {
                cJSON_Delete(rec);
                rc = -1;
            }
            const char *nul;
            if (rc > 0 && (nul = sample_raw_nul(raw, raw_len, rec, c.consumed, c.nConsumed, NULL, 0))) {
                err_set(&err, r.path, r.line, "field '%s' contains a NUL character (\\u0000), not supported", nul);
                cJSON_Delete(rec);
                rc = -1;
            }
            if (rc < 0) {
                if (!skip_bad)
                    err_die(&err);
                if (!quiet)
                    err_warn(&err);
                skip_add(&skips, err.msg);
                continue;
            }
            sample_clear(&s);
            s.raw = raw;
            s.raw_len = raw_len;
            sample_set_id(&s, rec, &c, NULL);
            s.rec = rec;
            s.consumed = c.consumed;
            s.nConsumed = c.nConsumed;
            s.mode = SAMPLE_SUCC;
            const ConvTurn *sys = conv_system(&c);
            if (sys) {
                sb_add(&s.system, sys->content, sys->len);
                s.has_system = 1;
            }
            const ConvTurn *u = &c.turns[conv_last_user(&c)], *y = &c.turns[c.nTurns - 1];
            sb_add(&s.output, y->content, y->len);
            Rng g;
            rng_seed_key(&g, seed, s.id.buf, s.id.len);
            size_t want = chunk_draw_k(&g, probs, nprobs);
            size_t k = chunk_cut(&cc, u->content, u->len, want);
            for (size_t i = 0; i < k; i++)
                sample_add_input(&s, u->content + cc.off[i], cc.off[i + 1] - cc.off[i]);
            const cJSON *src = cJSON_GetObjectItemCaseSensitive(rec, "source");
            if (cJSON_IsString(src)) {
                static const char *const both[] = {"source", NULL};
                sample_meta_str(&s, "source", src->valuestring, strlen(src->valuestring));
                s.consumed2 = both;
                s.nConsumed2 = 1;
            }
            sample_meta_str(&s, "format", shapes[c.shape], strlen(shapes[c.shape]));
            sample_meta_int(&s, "chunks", (long long)k);
            if (k != want)
                sample_meta_int(&s, "chunks_drawn", (long long)want);
            if (conv_history(&c) > 0)
                sample_meta_int(&s, "dropped_turns", (long long)conv_history(&c));
            hist[k]++;
            nout++;
            if (sample_write(f, &s, &line) < 0)
                die("write error:");
            cJSON_Delete(rec);
            progress_update(&prog, nout, NULL);
        }
        jsonl_close(&r);
    }
    progress_done(&prog);
    if (ofile_commit(&of, &err) < 0)
        err_die(&err);
    skip_report(&skips, stderr, "miso-chunk");
    if (!quiet) {
        fprintf(stderr, "miso-chunk: wrote %zu sample%s (chunks:", nout, nout == 1 ? "" : "s");
        for (size_t k = 1; k <= nprobs; k++)
            fprintf(stderr, " %zu=%zu", k, hist[k]);
        fprintf(stderr, ")\n");
    }
    skip_release(&skips);
    chunk_release(&cc);
    sb_release(&line);
    sample_release(&s);
    conv_release(&c);
    free(tmpl);
    util_close_stdout();
    return 0;
}
