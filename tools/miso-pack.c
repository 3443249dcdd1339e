/*
 * miso-pack - sample-contract records -> token ids, position ids and loss
 * masks in a packed training file (lib/pack.h), or the same as HF-style
 * JSONL for PyTorch trainers.  The rules are in lib/packer.h.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "jsonl.h"
#include "ofile.h"
#include "pack.h"
#include "packer.h"
#include "progress.h"
#include "tokenizer.h"
#include "util.h"

static void usage(void)
{
    printf("usage: miso-pack [OPTIONS] [FILE...]\n"
           "Tokenise sample-contract records (JSONL, .gz, '-' = stdin) into a packed\n"
           "training file for miso-train, or into HF-style JSONL.\n"
           "\n"
           "  -t, --tokenizer PATH   tokenizer: model dir, tokenizer.json, tokenizer.bin or 'byte'\n"
           "  -T, --template NAME    chat template: llama3, mistral, chatml, plain\n"
           "                         (default: guessed from the tokenizer)\n"
           "  -m, --max-len N        truncate outputs so no sample is longer than N\n"
           "                         positions (see miso-pack(1)); 0 = no limit (default)\n"
           "  -f, --format FMT       pack (default) or jsonl (input_ids, position_ids,\n"
           "                         segment_ids, labels with -100)\n"
           "  -V, --vocab-size N     vocabulary size for checking pre-tokenised ids\n"
           "                         (default: the tokenizer's)\n"
           "  -o, --output FILE      write FILE (whole or not at all) instead of stdout\n"
           "  -q, --quiet            no statistics or progress on stderr\n"
           "  -h, --help             show this help\n"
           "      --version          print the version\n");
}

static int parse_int(const char *s, const char *opt)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 1 << 30)
        die_usage("option '%s' needs a non-negative integer, not '%s'", opt, s);
    return (int)v;
}

static void report(const PackerStats *st)
{
    fprintf(stderr,
            "miso-pack: %llu samples (sft %llu, para %llu, succ %llu), %llu tokens "
            "(inputs %llu, outputs %llu, supervised %llu)\n",
            (unsigned long long)st->samples, (unsigned long long)st->by_mode[PACK_SFT],
            (unsigned long long)st->by_mode[PACK_PARA], (unsigned long long)st->by_mode[PACK_SUCC],
            (unsigned long long)(st->input_tokens + st->output_tokens), (unsigned long long)st->input_tokens,
            (unsigned long long)st->output_tokens, (unsigned long long)st->loss_tokens);
    fprintf(stderr, "miso-pack: inputs per sample: mean %.2f, max %d; longest sample %d positions\n",
            st->samples ? (double)st->inputs / (double)st->samples : 0.0, st->max_inputs, st->max_len_seen);
    fprintf(stderr, "miso-pack: truncated %llu samples (%llu output tokens cut), dropped %llu\n",
            (unsigned long long)st->truncated, (unsigned long long)st->truncated_tokens,
            (unsigned long long)st->dropped);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tokenizer", required_argument, 0, 't'}, {"template", required_argument, 0, 'T'},
        {"max-len", required_argument, 0, 'm'},   {"format", required_argument, 0, 'f'},
        {"vocab-size", required_argument, 0, 'V'}, {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 1},           {0, 0, 0, 0}};
    const char *tok_path = NULL, *tpl_name = NULL, *out_path = NULL;
    int max_len = 0, vocab = 0, quiet = 0, jsonl_fmt = 0, c;
    util_set_prog(argv[0]);
    while ((c = getopt_long(argc, argv, "t:T:m:f:V:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 't': tok_path = optarg; break;
        case 'T': tpl_name = optarg; break;
        case 'm': max_len = parse_int(optarg, "--max-len"); break;
        case 'V': vocab = parse_int(optarg, "--vocab-size"); break;
        case 'o': out_path = optarg; break;
        case 'q': quiet = 1; break;
        case 'f':
            if (!strcmp(optarg, "jsonl"))
                jsonl_fmt = 1;
            else if (strcmp(optarg, "pack"))
                die_usage("unknown format '%s' (need pack or jsonl)", optarg);
            break;
        case 'h': usage(); return 0;
        case 1: util_print_version();
        default: die_usage("unknown option");
        }
    }
    ChatTemplate tpl = CHAT_PLAIN;
    if (tpl_name && chat_template_from_name(tpl_name, &tpl) < 0)
        die_usage("unknown template '%s' (need llama3, mistral, chatml or plain)", tpl_name);
    Err err;
    Tokenizer *tok = NULL;
    if (tok_path) {
        if (!(tok = tok_load(tok_path, &err)))
            err_die(&err);
        if (!tpl_name)
            tpl = chat_guess(tok);
    }
    if (!vocab && tok)
        vocab = tok_vocab_size(tok);

    OutFile of;
    FILE *out = ofile_open(&of, out_path, &err);
    if (!out)
        err_die(&err);
    PackWriter w;
    if (!jsonl_fmt && pack_writer_init(&w, out, vocab, &err) < 0)
        err_die(&err);
    Packer *p = packer_new(tok, tpl, max_len, vocab);
    Progress prog;
    progress_init(&prog, "miso-pack", 0, quiet);
    StrBuf scratch = SB_INIT;
    uint64_t nrec = 0;
    int nfiles = optind < argc ? argc - optind : 1;
    for (int fi = 0; fi < nfiles; fi++) {
        const char *path = optind < argc ? argv[optind + fi] : "-";
        JsonlReader r;
        cJSON *rec;
        int rc;
        if (jsonl_open(&r, path, &err) < 0)
            err_die(&err);
        while ((rc = jsonl_next(&r, &rec, &err)) != 0) {
            if (rc < 0)
                err_die(&err);
            PackSample s;
            rc = packer_next(p, rec, r.path, r.line, &s, &err);
            if (rc < 0)
                err_die(&err);
            if (rc == 0)
                err_warn(&err);
            else if (jsonl_fmt ? packer_write_jsonl(out, &s, &scratch) < 0 : pack_write(&w, &s, &err) < 0)
                die("write error:");
            cJSON_Delete(rec);
            progress_update(&prog, ++nrec, NULL);
        }
        jsonl_close(&r);
    }
    progress_done(&prog);
    if (ofile_commit(&of, &err) < 0)
        err_die(&err);
    if (!quiet)
        report(packer_stats(p));
    sb_release(&scratch);
    packer_free(p);
    tok_free(tok);
    util_close_stdout();
    return 0;
}
