/*
 * crab-split - multi-constraint instruction records -> MISO-para samples.
 *
 * Reads Crab records (lib/crab.h), plain {"instruction","constraints",
 * "output"} and Alpaca records, ShareGPT and messages conversations; writes
 * one sample per record (lib/sample.h): inputs [full, single_1..single_n,
 * bare], output unchanged.  Records without constraints pass through as sft.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "crab.h"
#include "jsonl.h"
#include "ofile.h"
#include "progress.h"
#include "rng.h"
#include "sample.h"
#include "util.h"

static void usage(void)
{
    printf("usage: crab-split [OPTIONS] [FILE...]\n"
           "Turn multi-constraint instruction records into MISO-para samples:\n"
           "inputs [full, single_1 ... single_n, bare], the output unchanged.\n"
           "\n"
           "  -k, --max-constraints K  keep a seeded choice of at most K constraints per record\n"
           "      --no-full            leave out the full input (all constraints)\n"
           "      --no-bare            leave out the bare input (no constraint)\n"
           "      --flat               every input becomes its own sft sample (no MISO)\n"
           "  -j, --join space|lines   how constraints attach to the instruction\n"
           "                           (plain and Aug_instruction records; default lines)\n"
           "      --keep-reverse       pass Crab _reverse records through as sft (default: skip)\n"
           "  -i, --instruction original|refined|crab\n"
           "                           x of Crab back-translation records: the user turn (default),\n"
           "                           Aug_instruction.Refined_Instruction when not empty, or\n"
           "                           Crab's seeded choice between them\n"
           "  -s, --seed N             seed of the constraint choice (default %u)\n"
           "      --skip-bad           skip bad records, report counts at the end\n"
           "  -o, --output FILE        write FILE (whole or not at all) instead of stdout\n"
           "  -q, --quiet              no progress and no summary\n"
           "  -h, --help               this help\n"
           "  -V, --version            print the version\n"
           "\n"
           "FILE may be JSONL or one JSON array, gzip or not; '-' or none reads stdin.\n",
           MISO_DEFAULT_SEED);
}

enum { INSTR_ORIGINAL, INSTR_REFINED, INSTR_CRAB };

typedef struct {
    long max_cons;       /* <= 0: all */
    int no_full, no_bare, flat, join_space, keep_reverse, skip_bad, quiet;
    int instr;           /* INSTR_* */
    uint64_t seed;
} Opts;

typedef struct {
    const Opts *o;
    CrabRecord c;
    Sample s;
    StrBuf line;
    size_t *sel;
    size_t capSel;
    const char **texts;
    size_t *lens;
    size_t capTexts;
    size_t nOut, nPara, nSft, nReverse;
    CrabSpan refined;    /* Aug_instruction.Refined_Instruction, or n = 0 */
    long overlap;        /* the record's "overlap" (0 when absent) */
    const char *raw;     /* JSON text of the current record (pass-through) */
    size_t raw_len;
} Split;

/* x + constraints, joined as --join says. */
static void join_into(StrBuf *b, const Split *sp, const size_t *sel, size_t n)
{
    const CrabRecord *c = &sp->c;
    sb_add(b, c->instruction.s, c->instruction.n);
    for (size_t i = 0; i < n; i++) {
        if (sp->o->join_space)
            sb_addc(b, ' ');
        else
            sb_adds(b, i ? "\n" : "\n\n");
        sb_add(b, c->cons[sel[i]].s, c->cons[sel[i]].n);
    }
}

static void build_input(Split *sp, const size_t *sel, size_t n)
{
    CrabRecord *c = &sp->c;
    StrBuf *b = sample_add_input(&sp->s, "", 0);
    if (c->kind == CRAB_WRAPPED && n > 0) {
        CrabSpan one[1];
        if (n == 1) {
            one[0] = c->cons[sel[0]];
            crab_render(b, c->wrapper, c->prefix, c->instruction, one, 1);
        } else {
            CrabSpan *cs = xmalloc(size_mul(n, sizeof *cs));
            for (size_t i = 0; i < n; i++)
                cs[i] = c->cons[sel[i]];
            crab_render(b, c->wrapper, c->prefix, c->instruction, cs, n);
            free(cs);
        }
    } else {
        join_into(b, sp, sel, n);
    }
}

static int write_sample(Split *sp, FILE *f)
{
    sp->nOut++;
    return sample_write(f, &sp->s, &sp->line);
}

/* --flat: one sft sample per input, ids suffixed /full, /c1.., /bare. */
static int write_flat(Split *sp, FILE *f, int has_full, int has_bare)
{
    Sample *s = &sp->s;
    size_t n = s->nInputs, idlen = s->id.len;
    StrBuf *in = s->inputs;
    for (size_t i = 0; i < n; i++) {
        sb_setlen(&s->id, idlen);
        if (has_full && i == 0)
            sb_adds(&s->id, "/full");
        else if (has_bare && i == n - 1)
            sb_adds(&s->id, "/bare");
        else
            sb_addf(&s->id, "/c%zu", i + (has_full ? 0 : 1));
        s->inputs = &in[i];
        s->nInputs = 1;
        s->mode = SAMPLE_SFT;
        int rc = write_sample(sp, f);
        s->inputs = in;
        s->nInputs = n;
        if (rc < 0)
            return -1;
    }
    sb_setlen(&s->id, idlen);
    return 0;
}

static void set_common(Split *sp, const cJSON *rec)
{
    Sample *s = &sp->s;
    CrabRecord *c = &sp->c;
    s->rec = rec;
    s->raw = sp->raw;
    s->raw_len = sp->raw_len;
    s->consumed = c->conv.consumed;
    s->nConsumed = c->conv.nConsumed;
    s->consumed2 = c->consumed;
    s->nConsumed2 = c->nConsumed;
    const ConvTurn *sys = conv_system(&c->conv);
    if (sys) {
        sb_add(&s->system, sys->content, sys->len);
        s->has_system = 1;
    }
    const ConvTurn *y = &c->conv.turns[c->conv.nTurns - 1];
    sb_add(&s->output, y->content, y->len);
    if (c->source)
        sample_meta_str(s, "source", c->source, strlen(c->source));
}

static int emit_sft(Split *sp, const cJSON *rec, FILE *f)
{
    Sample *s = &sp->s;
    CrabRecord *c = &sp->c;
    sample_clear(s);
    s->raw = sp->raw, s->raw_len = sp->raw_len;
    sample_set_id(s, rec, &c->conv, NULL);
    set_common(sp, rec);
    static const char *const shapes[] = {"messages", "sharegpt", "alpaca", "deepseek-r1"};
    sample_meta_str(s, "format", shapes[c->conv.shape], strlen(shapes[c->conv.shape]));
    if (conv_history(&c->conv) > 0) {
        s->messages = c->conv.turns;
        s->nMessages = c->conv.nTurns;
    } else {
        const ConvTurn *u = &c->conv.turns[conv_last_user(&c->conv)];
        sample_add_input(s, u->content, u->len);
    }
    s->mode = SAMPLE_SFT;
    sp->nSft++;
    return write_sample(sp, f);
}

/* Pieces of a split on single spaces (Python's len(text.split(' '))). */
static size_t crab_words(CrabSpan t)
{
    size_t n = 1;
    for (size_t i = 0; i < t.n; i++)
        n += t.s[i] == ' ';
    return n;
}

/* --instruction refined: always; crab: Crab's Forward_data_generate rule, the
 * refined text with probability 1 - (0.3 + 0.1 * overlap) (clamped to
 * [0, 1]) unless it has fewer words than the original, drawn from a stream
 * of the seed and the id (apart from the constraint choice's stream). */
static int use_refined(const Split *sp, const Sample *s)
{
    if (sp->o->instr == INSTR_REFINED)
        return 1;
    if (crab_words(sp->refined) < crab_words(sp->c.instruction))
        return 0;
    double p = 1.0 - (0.3 + 0.1 * (double)sp->overlap);
    p = p < 0 ? 0 : p > 1 ? 1 : p;
    Rng g;
    rng_seed_key(&g, sp->o->seed ^ 0x696e737472756374ULL, s->id.buf, s->id.len);
    return rng_uniform(&g) < p;
}

/* Read Aug_instruction.Refined_Instruction and overlap for --instruction.
 * 0, or -1 with err filled when they have the wrong type. */
static int read_refined(Split *sp, const cJSON *rec, const char *path, long line, Err *err)
{
    sp->refined.s = NULL, sp->refined.n = 0;
    sp->overlap = 0;
    if (sp->o->instr == INSTR_ORIGINAL || sp->c.kind != CRAB_AUG)
        return 0;
    const cJSON *aug = cJSON_GetObjectItemCaseSensitive(rec, "Aug_instruction");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(aug, "Refined_Instruction");
    if (r && !cJSON_IsString(r) && !cJSON_IsNull(r)) {
        err_set(err, path, line, "field 'Aug_instruction.Refined_Instruction' must be a string");
        return -1;
    }
    if (cJSON_IsString(r)) {
        const char *t = r->valuestring;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\n' || t[n - 1] == '\t' || t[n - 1] == '\r'))
            n--;
        while (n && (*t == ' ' || *t == '\n' || *t == '\t' || *t == '\r'))
            t++, n--;
        sp->refined.s = t, sp->refined.n = n;
    }
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(rec, "overlap");
    if (ov && !cJSON_IsNumber(ov)) {
        err_set(err, path, line, "field 'overlap' must be a number");
        return -1;
    }
    if (ov)
        sp->overlap = ov->valuedouble > 100 ? 100 : ov->valuedouble < -100 ? -100 : (long)ov->valuedouble;
    return 0;
}

static int emit_para(Split *sp, const cJSON *rec, FILE *f)
{
    const Opts *o = sp->o;
    Sample *s = &sp->s;
    CrabRecord *c = &sp->c;
    sample_clear(s);
    s->raw = sp->raw, s->raw_len = sp->raw_len;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    if (c->kind == CRAB_AUG && c->source && cJSON_IsNumber(id)) {
        /* seed ids are only unique within their source dataset */
        sb_addf(&s->id, "%s-%lld", c->source, (long long)id->valuedouble);
        s->id_from_rec = 1;
    } else {
        sample_set_id(s, rec, &c->conv, NULL);
    }
    set_common(sp, rec);
    if (c->kind == CRAB_AUG && o->instr != INSTR_ORIGINAL && sp->refined.n && use_refined(sp, s)) {
        c->instruction = sp->refined;
        sample_meta_str(s, "instruction", "refined", 7);
    }
    static const char *const fmt[] = {"crab-aug", "plain", "", "crab-forward", ""};
    sample_meta_str(s, "format", fmt[c->kind], strlen(fmt[c->kind]));

    /* the seeded choice of constraints: depends on seed and id only */
    size_t n = c->nCons, k = n;
    sp->sel = grow_array(sp->sel, &sp->capSel, n, sizeof *sp->sel);
    for (size_t i = 0; i < n; i++)
        sp->sel[i] = i;
    if (o->max_cons > 0 && (size_t)o->max_cons < n) {
        Rng g;
        rng_seed_key(&g, o->seed, s->id.buf, s->id.len);
        k = (size_t)o->max_cons;
        for (size_t i = 0; i < k; i++) { /* partial Fisher-Yates */
            size_t j = i + (size_t)rng_below(&g, n - i);
            size_t t = sp->sel[i];
            sp->sel[i] = sp->sel[j], sp->sel[j] = t;
        }
        /* keep the chosen constraints in their original order */
        for (size_t i = 1; i < k; i++)
            for (size_t j = i; j > 0 && sp->sel[j - 1] > sp->sel[j]; j--) {
                size_t t = sp->sel[j];
                sp->sel[j] = sp->sel[j - 1], sp->sel[j - 1] = t;
            }
    }
    size_t need = k ? k : 1;
    if (need > sp->capTexts) {
        sp->capTexts = need;
        sp->texts = xrealloc(sp->texts, size_mul(need, sizeof *sp->texts));
        sp->lens = xrealloc(sp->lens, size_mul(need, sizeof *sp->lens));
    }
    for (size_t i = 0; i < k; i++)
        sp->texts[i] = c->cons[sp->sel[i]].s, sp->lens[i] = c->cons[sp->sel[i]].n;
    sample_meta_strs(s, "constraints", sp->texts, sp->lens, k);
    if (k && c->types[sp->sel[0]]) {
        for (size_t i = 0; i < k; i++)
            sp->texts[i] = c->types[sp->sel[i]] ? c->types[sp->sel[i]] : "", sp->lens[i] = strlen(sp->texts[i]);
        sample_meta_strs(s, "constraint_types", sp->texts, sp->lens, k);
    }
    if (k < n)
        sample_meta_int(s, "constraints_total", (long long)n);
    if (c->kind == CRAB_WRAPPED) {
        sample_meta_int(s, "wrapper", c->wrapper);
        const char *pn = crab_prefix_name(c->prefix);
        sample_meta_str(s, "prefix", pn, strlen(pn));
    }
    if (conv_history(&c->conv) > 0)
        sample_meta_int(s, "dropped_turns", (long long)conv_history(&c->conv));

    /* inputs: full (skipped when it would equal the single input), singles, bare */
    int has_full = !o->no_full && k > 1;
    if (has_full) {
        if (c->kind == CRAB_WRAPPED && k == n) {
            const ConvTurn *u = &c->conv.turns[conv_last_user(&c->conv)];
            sample_add_input(s, u->content, u->len); /* the record's own text */
        } else {
            build_input(sp, sp->sel, k);
        }
    }
    for (size_t i = 0; i < k; i++)
        build_input(sp, &sp->sel[i], 1);
    int has_bare = !o->no_bare;
    if (has_bare)
        sample_add_input(s, c->instruction.s, c->instruction.n);
    s->mode = SAMPLE_PARA;
    sp->nPara++;
    if (o->flat)
        return write_flat(sp, f, has_full, has_bare);
    return write_sample(sp, f);
}

int main(int argc, char **argv)
{
    util_set_prog(argv[0]);
    Opts o = {.seed = MISO_DEFAULT_SEED};
    const char *out = NULL;
    static const struct option longopts[] = {
        {"max-constraints", required_argument, NULL, 'k'},
        {"no-full", no_argument, NULL, 'F'},
        {"no-bare", no_argument, NULL, 'B'},
        {"flat", no_argument, NULL, 'f'},
        {"join", required_argument, NULL, 'j'},
        {"keep-reverse", no_argument, NULL, 'R'},
        {"instruction", required_argument, NULL, 'i'},
        {"seed", required_argument, NULL, 's'},
        {"skip-bad", no_argument, NULL, 'b'},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "k:j:i:s:o:qhV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            o.max_cons = strtol(optarg, &end, 10);
            if (*end || end == optarg || o.max_cons < 1)
                die_usage("bad --max-constraints '%s' (want an integer >= 1)", optarg);
            break;
        case 'F': o.no_full = 1; break;
        case 'B': o.no_bare = 1; break;
        case 'f': o.flat = 1; break;
        case 'j':
            if (!strcmp(optarg, "space"))
                o.join_space = 1;
            else if (!strcmp(optarg, "lines"))
                o.join_space = 0;
            else
                die_usage("bad --join '%s' (want 'space' or 'lines')", optarg);
            break;
        case 'R': o.keep_reverse = 1; break;
        case 'i':
            if (!strcmp(optarg, "original"))
                o.instr = INSTR_ORIGINAL;
            else if (!strcmp(optarg, "refined"))
                o.instr = INSTR_REFINED;
            else if (!strcmp(optarg, "crab"))
                o.instr = INSTR_CRAB;
            else
                die_usage("bad --instruction '%s' (want 'original', 'refined' or 'crab')", optarg);
            break;
        case 's':
            o.seed = strtoull(optarg, &end, 0);
            if (*end || end == optarg || *optarg == '-')
                die_usage("bad --seed '%s' (want a non-negative integer)", optarg);
            break;
        case 'b': o.skip_bad = 1; break;
        case 'o': out = optarg; break;
        case 'q': o.quiet = 1; break;
        case 'h': usage(); exit(0);
        case 'V': util_print_version();
        default: /* getopt has said what is wrong */
            fprintf(stderr, "try '%s --help' for more information\n", util_prog());
            exit(2);
        }
    }
    Err err;
    OutFile of;
    FILE *f = ofile_open(&of, out, &err);
    if (!f)
        err_die(&err);
    Split sp = {.o = &o};
    sb_init(&sp.line);
    crab_init(&sp.c);
    sample_init(&sp.s);
    SkipCount skips = {0};
    Progress prog;
    progress_init(&prog, "crab-split", 0, o.quiet);
    uint64_t nrec = 0;
    int nfiles = argc - optind;
    for (int fi = 0; fi < (nfiles ? nfiles : 1); fi++) {
        const char *path = nfiles ? argv[optind + fi] : "-";
        JsonlReader r;
        if (jsonl_open(&r, path, &err) < 0)
            err_die(&err);
        cJSON *rec;
        int rc;
        while ((rc = jsonl_next(&r, &rec, &err)) != 0) {
            sp.raw = rc > 0 ? r.raw : NULL;
            sp.raw_len = rc > 0 ? r.raw_len : 0;
            if (rc > 0 && (crab_read(&sp.c, rec, r.path, r.line, &err) < 0 ||
                           read_refined(&sp, rec, r.path, r.line, &err) < 0)) {
                cJSON_Delete(rec);
                rc = -1;
            }
            const char *nul;
            if (rc > 0 && sp.c.kind != CRAB_REVERSE &&
                (nul = sample_raw_nul(sp.raw, sp.raw_len, rec, sp.c.conv.consumed, sp.c.conv.nConsumed, sp.c.consumed,
                                      sp.c.nConsumed))) {
                err_set(&err, r.path, r.line, "field '%s' contains a NUL character (\\u0000), not supported", nul);
                cJSON_Delete(rec);
                rc = -1;
            }
            if (rc < 0) {
                if (!o.skip_bad)
                    err_die(&err);
                if (!o.quiet)
                    err_warn(&err);
                skip_add(&skips, err.msg);
                continue;
            }
            int wrc = 0;
            if (sp.c.kind == CRAB_REVERSE) {
                if (o.keep_reverse) {
                    if (conv_read(&sp.c.conv, rec, NULL, r.path, r.line, &err) < 0) {
                        cJSON_Delete(rec);
                        if (!o.skip_bad)
                            err_die(&err);
                        if (!o.quiet)
                            err_warn(&err);
                        skip_add(&skips, err.msg);
                        continue;
                    }
                    sp.c.nConsumed = sp.c.source ? 1 : 0;
                    wrc = emit_sft(&sp, rec, f);
                } else {
                    sp.nReverse++;
                }
            } else if (sp.c.kind == CRAB_SFT || sp.c.nCons == 0) {
                wrc = emit_sft(&sp, rec, f);
            } else {
                wrc = emit_para(&sp, rec, f);
            }
            cJSON_Delete(rec);
            if (wrc < 0)
                die("write error:");
            progress_update(&prog, ++nrec, NULL);
        }
        jsonl_close(&r);
    }
    progress_done(&prog);
    if (ofile_commit(&of, &err) < 0)
        err_die(&err);
    if (sp.nReverse)
        fprintf(stderr, "crab-split: skipped %zu Crab _reverse record%s (not multi-constraint instructions; "
                        "--keep-reverse passes them through as sft)\n",
                sp.nReverse, sp.nReverse == 1 ? "" : "s");
    skip_report(&skips, stderr, "crab-split");
    if (!o.quiet)
        fprintf(stderr, "crab-split: wrote %zu sample%s (%zu para, %zu sft)\n", sp.nOut, sp.nOut == 1 ? "" : "s", sp.nPara,
                sp.nSft);
    skip_release(&skips);
    crab_release(&sp.c);
    sample_release(&sp.s);
    sb_release(&sp.line);
    free(sp.sel);
    free(sp.texts);
    free(sp.lens);
    util_close_stdout();
    return 0;
}
