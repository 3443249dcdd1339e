/*
 * miso-train - fine-tune a Llama-family model with MISO attention (or plain
 * SFT) on a packed file from miso-pack; alone or under mpirun.
 *
 * The program is the policy around lib/: it loads the packed file and the
 * model, checks every sample before any work, builds the epoch's shuffled
 * order, and per optimizer step runs train_step over this rank's
 * micro-batches, all-reduces the gradient block, clips, checks for NaN/Inf,
 * updates with AdamW, logs, and checkpoints.  See man/miso-train.1.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "adamw.h"
#include "attention.h"
#include "checkpoint.h"
#include "dist.h"
#include "model.h"
#include "ofile.h"
#include "pack.h"
#include "progress.h"
#include "rng.h"
#include "train.h"
#include "util.h"

static void usage(void)
{
    printf("usage: miso-train [OPTIONS] [PACKED-FILE]\n"
           "Fine-tune a model with MISO attention on a packed file from miso-pack\n"
           "(standard input when PACKED-FILE is missing or '-').\n\n"
           "model:\n"
           "  -i, --init PATH          start from a Hugging Face directory or llama2.c .bin\n"
           "  -p, --preset NAME        or from a random tiny|small|mid model\n"
           "  -s, --seed N             initialisation and shuffling seed (default %u)\n"
           "  -a, --attn VARIANT       miso (default), miso-fid, weights, concat\n"
           "optimisation:\n"
           "      --lr X               peak learning rate (default 5e-6)\n"
           "      --warmup-ratio X     fraction of steps warming up (default 0.1)\n"
           "      --schedule NAME      linear (default), cosine, constant\n"
           "      --weight-decay X     decoupled weight decay on matrices (default 0)\n"
           "      --clip X             global gradient-norm clip, 0 = off (default 1.0)\n"
           "      --beta1 X, --beta2 X, --adam-eps X   AdamW (0.9, 0.999, 1e-8)\n"
           "  -b, --batch N            samples per optimizer step (default 8)\n"
           "  -m, --micro-batch N      samples per forward/backward (default 4)\n"
           "  -e, --epochs N           passes over the data (default 1)\n"
           "      --steps N            stop after N optimizer steps\n"
           "      --max-len N          cut outputs so no position id reaches N\n"
           "output:\n"
           "  -o, --output DIR         write the trained model (HF directory) here\n"
           "      --log FILE           per-step JSONL log (default DIR/train_log.jsonl)\n"
           "      --save-dtype T       f32 (default) or bf16\n"
           "      --checkpoint-every N write DIR/checkpoint.bin every N steps\n"
           "      --resume DIR         continue from DIR/checkpoint.bin\n"
           "other modes:\n"
           "      --eval-only          loss (and gradients) of the data, no update\n"
           "      --dump-grads FILE    with --eval-only: write gradients as safetensors\n"
           "      --synthetic          random tokens of the preset's shape (benchmark)\n"
           "      --seq N              --synthetic sequence length (default 256)\n"
           "  -t, --threads N          OpenMP/OpenBLAS threads\n"
           "  -q, --quiet              no progress display\n"
           "  -h, --help, -V, --version\n",
           MISO_DEFAULT_SEED);
}

enum {
    OPT_LR = 256, OPT_WARMUP, OPT_SCHED, OPT_WD, OPT_CLIP, OPT_B1, OPT_B2, OPT_AEPS, OPT_STEPS, OPT_MAXLEN, OPT_LOG,
    OPT_DTYPE, OPT_CKEVERY, OPT_RESUME, OPT_EVAL, OPT_DUMP, OPT_SYNTH, OPT_SEQ
};

static const struct option longopts[] = {
    {"init", required_argument, 0, 'i'},        {"preset", required_argument, 0, 'p'},
    {"seed", required_argument, 0, 's'},        {"attn", required_argument, 0, 'a'},
    {"lr", required_argument, 0, OPT_LR},       {"warmup-ratio", required_argument, 0, OPT_WARMUP},
    {"schedule", required_argument, 0, OPT_SCHED}, {"weight-decay", required_argument, 0, OPT_WD},
    {"clip", required_argument, 0, OPT_CLIP},   {"beta1", required_argument, 0, OPT_B1},
    {"beta2", required_argument, 0, OPT_B2},    {"adam-eps", required_argument, 0, OPT_AEPS},
    {"batch", required_argument, 0, 'b'},       {"micro-batch", required_argument, 0, 'm'},
    {"epochs", required_argument, 0, 'e'},      {"steps", required_argument, 0, OPT_STEPS},
    {"max-len", required_argument, 0, OPT_MAXLEN}, {"output", required_argument, 0, 'o'},
    {"log", required_argument, 0, OPT_LOG},     {"save-dtype", required_argument, 0, OPT_DTYPE},
    {"checkpoint-every", required_argument, 0, OPT_CKEVERY}, {"resume", required_argument, 0, OPT_RESUME},
    {"eval-only", no_argument, 0, OPT_EVAL},    {"dump-grads", required_argument, 0, OPT_DUMP},
    {"synthetic", no_argument, 0, OPT_SYNTH},   {"seq", required_argument, 0, OPT_SEQ},
    {"threads", required_argument, 0, 't'},     {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, 'h'},              {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0}};

static double num_arg(const char *opt, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !(x >= lo && x <= hi))
        die_usage("invalid value '%s' for --%s", s, opt);
    return x;
}

static long int_arg(const char *opt, const char *s, long lo, long hi)
{
    double x = num_arg(opt, s, (double)lo, (double)hi);
    if (x != floor(x))
        die_usage("invalid value '%s' for --%s (an integer is needed)", s, opt);
    return (long)x;
}

/* ---------------------------------------------------------------------------
 * Synthetic data: single-input SFT sequences of seq tokens (1 prompt token,
 * seq - 1 output tokens, all supervised after the first). */
typedef struct {
    int32_t *ids, *pos;
    uint8_t *mask;
    PackSample *s;
    size_t n;
} Synth;

static void synth_make(Synth *y, size_t n, int seq, int V, uint64_t seed)
{
    Rng g;
    rng_seed(&g, seed);
    y->n = n;
    y->ids = xmalloc(size_mul(n, (size_t)seq) * sizeof(int32_t));
    y->pos = xmalloc(size_mul(n, (size_t)seq) * sizeof(int32_t));
    y->mask = xmalloc(size_mul(n, (size_t)seq));
    y->s = xcalloc(n, sizeof(PackSample));
    for (size_t i = 0; i < n; i++) {
        int32_t *id = y->ids + i * seq, *ps = y->pos + i * seq;
        uint8_t *mk = y->mask + i * seq;
        for (int j = 0; j < seq; j++)
            id[j] = (int32_t)rng_below(&g, (uint64_t)V), ps[j] = j, mk[j] = j >= 2;
        PackSample *s = &y->s[i];
        s->mode = PACK_SFT, s->n_inputs = 1, s->in_len[0] = 1, s->in_ids[0] = id, s->in_pos[0] = ps;
        s->out_len = seq - 1, s->out_ids = id + 1, s->out_pos = ps + 1, s->loss_mask = mk + 1;
    }
}

/* ---------------------------------------------------------------------------
 * Log file: JSONL, one object per optimizer step, flushed per line.  On
 * resume the lines after the checkpoint's step are dropped, so the log reads
 * as if the run had never stopped. */
static FILE *log_open(const char *path, uint64_t keep_steps)
{
    if (!strcmp(path, "-"))
        return stdout;
    StrBuf kept = SB_INIT;
    if (keep_steps > 0) {
        FILE *old = fopen(path, "r");
        if (old) {
            char line[4096];
            while (fgets(line, sizeof line, old)) {
                const char *p = strstr(line, "\"step\":");
                if (p && strtoull(p + 7, NULL, 10) <= keep_steps && strchr(line, '\n'))
                    sb_adds(&kept, line);
            }
            fclose(old);
        }
    }
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the log '%s':", path);
    fputs(kept.buf, f);
    fflush(f);
    sb_release(&kept);
    return f;
}

static int copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb");
    if (!in)
        return 0;
    Err err;
    OutFile o;
    FILE *out = ofile_open(&o, dst, &err);
    if (!out)
        err_die(&err);
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, k, out);
    fclose(in);
    if (ofile_commit(&o, &err) < 0)
        err_die(&err);
    return 1;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static int all_finite(const float *x, size_t n)
{
    int ok = 1;
#pragma omp parallel for schedule(static) reduction(&& : ok)
    for (size_t i = 0; i < n; i++)
        ok = ok && isfinite(x[i]);
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    util_set_prog(argv[0]);
    Dist dist;
    dist_init(&dist, &argc, &argv);
    const char *init = NULL, *preset = NULL, *out_dir = NULL, *log_path = NULL, *resume = NULL, *dump = NULL;
    uint64_t seed = MISO_DEFAULT_SEED;
    int variant = ATTN_MISO, batch = 8, mb = 4, epochs = 1, quiet = 0, eval_only = 0, synthetic = 0, seq = 256;
    int save_dtype = MODEL_SAVE_F32;
    long steps_limit = 0, max_len = 0, ck_every = 0, threads = 0;
    AdamW opt = {.lr = 5e-6, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .wd = 0.0, .warmup_ratio = 0.1,
                 .schedule = SCHED_LINEAR};
    double clip = 1.0;
    int c;
    while ((c = getopt_long(argc, argv, "i:p:s:a:b:m:e:o:t:qhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': init = optarg; break;
        case 'p': preset = optarg; break;
        case 's': seed = (uint64_t)int_arg("seed", optarg, 0, 9007199254740991L); break;
        case 'a':
            variant = attn_variant_parse(optarg);
            if (variant < 0)
                die_usage("unknown attention variant '%s' (miso, miso-fid, weights, concat)", optarg);
            break;
        case OPT_LR: opt.lr = num_arg("lr", optarg, 0, 1e38); break;
        case OPT_WARMUP: opt.warmup_ratio = num_arg("warmup-ratio", optarg, 0, 1); break;
        case OPT_SCHED:
            if (!strcmp(optarg, "linear")) opt.schedule = SCHED_LINEAR;
            else if (!strcmp(optarg, "cosine")) opt.schedule = SCHED_COSINE;
            else if (!strcmp(optarg, "constant")) opt.schedule = SCHED_CONSTANT;
            else die_usage("unknown schedule '%s' (linear, cosine, constant)", optarg);
            break;
        case OPT_WD: opt.wd = num_arg("weight-decay", optarg, 0, 10); break;
        case OPT_CLIP: clip = num_arg("clip", optarg, 0, 1e9); break;
        case OPT_B1: opt.beta1 = num_arg("beta1", optarg, 0, 0.999999); break;
        case OPT_B2: opt.beta2 = num_arg("beta2", optarg, 0, 0.999999999); break;
        case OPT_AEPS: opt.eps = num_arg("adam-eps", optarg, 1e-30, 1); break;
        case 'b': batch = (int)int_arg("batch", optarg, 1, 1 << 20); break;
        case 'm': mb = (int)int_arg("micro-batch", optarg, 1, 1 << 20); break;
        case 'e': epochs = (int)int_arg("epochs", optarg, 1, 1 << 20); break;
        case OPT_STEPS: steps_limit = int_arg("steps", optarg, 1, 1L << 40); break;
        case OPT_MAXLEN: max_len = int_arg("max-len", optarg, 2, 1 << 24); break;
        case 'o': out_dir = optarg; break;
        case OPT_LOG: log_path = optarg; break;
        case OPT_DTYPE:
            if (!strcmp(optarg, "f32")) save_dtype = MODEL_SAVE_F32;
            else if (!strcmp(optarg, "bf16")) save_dtype = MODEL_SAVE_BF16;
            else die_usage("unknown dtype '%s' (f32, bf16)", optarg);
            break;
        case OPT_CKEVERY: ck_every = int_arg("checkpoint-every", optarg, 0, 1L << 40); break;
        case OPT_RESUME: resume = optarg; break;
        case OPT_EVAL: eval_only = 1; break;
        case OPT_DUMP: dump = optarg; break;
        case OPT_SYNTH: synthetic = 1; break;
        case OPT_SEQ: seq = (int)int_arg("seq", optarg, 3, 1 << 20); break;
        case 't': threads = int_arg("threads", optarg, 1, 1024); break;
        case 'q': quiet = 1; break;
        case 'h': usage(); util_close_stdout(); return 0;
        case 'V': util_print_version();
        default: die_usage("unknown option");
        }
    }
    if (optind + 1 < argc)
        die_usage("too many arguments");
    const char *in_path = optind < argc ? argv[optind] : "-";
    if (init && preset)
        die_usage("give either --init or --preset, not both");
    if (!resume && !init && !preset)
        die_usage("give --init PATH, --preset NAME or --resume DIR");
    if (dump && !eval_only)
        die_usage("--dump-grads needs --eval-only");
    if (!out_dir && !eval_only && !synthetic)
        die_usage("--output DIR is required");
    if (synthetic && !preset && !init)
        die_usage("--synthetic needs --preset or --init");
    if (synthetic && !steps_limit)
        die_usage("--synthetic needs --steps N");
    if (mb > batch)
        mb = batch;
    if (dist.rank != 0)
        quiet = 1;
#ifdef _OPENMP
    if (threads)
        omp_set_num_threads((int)threads);
#endif
    Err err;

    /* ---- model ---- */
    Model m;
    memset(&m, 0, sizeof m);
    CkptState st;
    memset(&st, 0, sizeof st);
    float *mom = NULL, *vel = NULL;
    if (resume) {
        ModelConfig rc;
        float *params;
        size_t n;
        if (ckpt_load(resume, &rc, &st, &params, &mom, &vel, &n, &err) < 0)
            err_die(&err);
        m.cfg = rc;
        m.block = params;
        m.nparams = n;
        model_point_weights(&m.cfg, m.block, &m.w);
        seed = st.seed;
    } else if (preset) {
        ModelConfig pc;
        if (model_preset(&pc, preset) < 0)
            die_usage("unknown preset '%s' (tiny, small, mid)", preset);
        model_init_random(&m, &pc, seed);
    } else if (model_load(&m, init, &err) < 0) {
        err_die(&err);
    }
    const ModelConfig *cfg = &m.cfg;

    /* ---- data: loaded and checked whole before any work ---- */
    PackData pd;
    memset(&pd, 0, sizeof pd);
    Synth syn;
    memset(&syn, 0, sizeof syn);
    PackSample *samples;
    size_t ns;
    if (synthetic) {
        synth_make(&syn, (size_t)batch, seq, cfg->vocab_size, seed);
        samples = syn.s;
        ns = syn.n;
    } else {
        if (pack_load(&pd, in_path, &err) < 0)
            err_die(&err);
        const char *disp = strcmp(in_path, "-") ? in_path : "<stdin>";
        if (pd.vocab_size && pd.vocab_size != cfg->vocab_size)
            die("'%s' was packed for a vocabulary of %d tokens, the model has %d", disp, pd.vocab_size,
                cfg->vocab_size);
        if (pd.n == 0)
            die("'%s' holds no samples", disp);
        ns = pd.n;
        samples = xmalloc(size_mul(ns, sizeof(PackSample)));
        size_t cut = 0, skipped = 0, keep = 0;
        for (size_t i = 0; i < ns; i++) {
            PackSample s;
            pack_sample(&pd, i, &s);
            if (train_check_sample(&s, cfg, variant, &err) < 0)
                die("%s: sample %zu ('%.*s'): %s", disp, i + 1, s.id_len, s.id, err.msg);
            if (max_len) { /* positions, as miso-pack counts them */
                int in_ok = 1, room = 0;
                for (int k = 0; k < s.n_inputs && in_ok; k++)
                    for (int j = 0; j < s.in_len[k]; j++)
                        in_ok &= s.in_pos[k][j] < max_len;
                while (room < s.out_len && s.out_pos[room] < max_len)
                    room++;
                if (!in_ok || room < 2 ||
                    train_sample_targets(&(PackSample){.out_len = room, .loss_mask = s.loss_mask}) == 0) {
                    skipped++;
                    continue;
                }
                if (room < s.out_len) {
                    s.out_len = room;
                    cut++;
                }
            }
            if (train_sample_targets(&s) == 0) {
                skipped++;
                continue;
            }
            samples[keep++] = s;
        }
        if ((cut || skipped) && dist.rank == 0)
            warn("%zu samples with outputs cut to --max-len %ld, %zu skipped (inputs longer than --max-len or "
                 "no supervised token)",
                 cut, max_len, skipped);
        ns = keep;
        if (!ns)
            die("no sample left to train on");
    }
    uint32_t data_hash = synthetic ? 0 : (uint32_t)rng_hash(pd.data, pd.size);
    if (resume && !synthetic && st.data_hash != data_hash)
        die("the checkpoint in '%s' was made on other data (the packed file differs)", resume);
    if (resume && !synthetic && st.nsamples != ns)
        die("the checkpoint in '%s' was made for %llu samples, the data has %zu", resume,
            (unsigned long long)st.nsamples, ns);

    /* ---- schedule ---- */
    uint64_t steps_per_epoch = (ns + (size_t)batch - 1) / (size_t)batch;
    uint64_t total = synthetic ? (uint64_t)steps_limit : steps_per_epoch * (uint64_t)epochs;
    if (steps_limit && (uint64_t)steps_limit < total)
        total = (uint64_t)steps_limit;
    if (eval_only)
        total = 1;
    if (resume && !eval_only && (st.total_steps != total || st.batch != batch || st.micro_batch != mb || st.attn != variant))
        die("'%s': the checkpoint was made with other settings (%llu steps, batch %d, micro-batch %d, attention "
            "%s); resume with the same options",
            resume, (unsigned long long)st.total_steps, st.batch, st.micro_batch, attn_variant_name(st.attn));

    TrainLimits lim = {0};
    train_limits_bound(&lim, samples, ns, mb);
    Train tr;
    train_init(&tr, cfg, &lim, variant);
    size_t np = m.nparams;
    float *grad = xmalloc(size_mul(np, sizeof(float)));
    ModelWeights gw;
    model_point_weights(cfg, grad, &gw);
    unsigned char *decay = xmalloc(np);
    adamw_decay_mask(cfg, decay);
    if (!mom) {
        mom = xcalloc(np, sizeof(float));
        vel = xcalloc(np, sizeof(float));
    }

    /* ---- eval-only: loss and gradient of the whole data ---- */
    if (eval_only) {
        long nsup_all = 0, nsup;
        for (size_t i = 0; i < ns; i++)
            nsup_all += train_sample_targets(&samples[i]);
        memset(grad, 0, np * sizeof(float));
        double loss = 0;
        size_t nmb = (ns + (size_t)mb - 1) / (size_t)mb;
        for (size_t j = (size_t)dist.rank; j < nmb; j += (size_t)dist.size) {
            size_t b0 = j * (size_t)mb, nb = ns - b0 < (size_t)mb ? ns - b0 : (size_t)mb;
            loss += train_step(&tr, &m.w, &gw, samples + b0, (int)nb, (double)nsup_all, &nsup);
        }
        dist_allreduce_sum(&dist, grad, np);
        dist_allreduce_sum_f64(&dist, &loss, 1);
        loss /= (double)nsup_all;
        if (dist.rank == 0) {
            if (dump && ckpt_dump_grads(dump, cfg, grad, loss, &err) < 0)
                err_die(&err);
            printf("{\"loss\":%.9g,\"tokens\":%ld,\"samples\":%zu}\n", loss, nsup_all, ns);
            util_close_stdout();
        }
        free(grad), free(decay), free(mom), free(vel);
        if (!synthetic)
            free(samples);
        train_release(&tr);
        pack_release(&pd);
        model_release(&m);
        dist_finalize(&dist);
        return 0;
    }

    /* ---- training ---- */
    if (dist.rank == 0 && out_dir && mkdir(out_dir, 0777) < 0 && errno != EEXIST)
        die("cannot create '%s':", out_dir);
    FILE *logf = NULL;
    if (dist.rank == 0 && (out_dir || log_path)) {
        char def[4096];
        if (!log_path) {
            snprintf(def, sizeof def, "%s/train_log.jsonl", out_dir);
            log_path = def;
        }
        logf = log_open(log_path, resume ? st.step : 0);
    }
    if (!resume) {
        st.total_steps = total, st.seed = seed, st.nsamples = ns;
        st.batch = batch, st.micro_batch = mb, st.attn = variant;
        st.data_hash = data_hash;
        rng_seed_key(&st.rng, seed, "epoch-0", 7);
    }
    size_t *order = xmalloc(sizeof(size_t) * ns);
    Progress prog;
    progress_init(&prog, "miso-train", total, quiet);
    prog.unit = "step";
    double flops_tok = train_flops_per_token(cfg, synthetic ? seq : 256);
    double t_start = util_now(), *times = xmalloc(sizeof(double) * (total + 1));
    double tokens_run = 0;
    uint64_t step0 = st.step;
    PackSample *mbp = xmalloc(sizeof(PackSample) * (size_t)mb);
    int order_epoch = -1;
    while (st.step < total) {
        if ((int)st.epoch != order_epoch) { /* the epoch's order, from its PRNG state */
            Rng g = st.rng;
            for (size_t i = 0; i < ns; i++)
                order[i] = i;
            if (!synthetic)
                rng_shuffle(&g, order, ns, sizeof order[0]);
            order_epoch = (int)st.epoch;
        }
        double t0 = util_now();
        size_t b0 = st.batch_pos * (size_t)batch, bn = ns - b0 < (size_t)batch ? ns - b0 : (size_t)batch;
        long nsup_all = 0, tokens = 0, nsup;
        for (size_t i = 0; i < bn; i++) {
            const PackSample *s = &samples[order[b0 + i]];
            nsup_all += train_sample_targets(s);
            tokens += s->out_len;
            for (int k = 0; k < s->n_inputs; k++)
                tokens += s->in_len[k];
        }
        memset(grad, 0, np * sizeof(float));
        double loss = 0;
        size_t nmb = (bn + (size_t)mb - 1) / (size_t)mb;
        for (size_t j = (size_t)dist.rank; j < nmb; j += (size_t)dist.size) {
            size_t m0 = j * (size_t)mb, mn = bn - m0 < (size_t)mb ? bn - m0 : (size_t)mb;
            for (size_t i = 0; i < mn; i++)
                mbp[i] = samples[order[b0 + m0 + i]];
            loss += train_step(&tr, &m.w, &gw, mbp, (int)mn, (double)nsup_all, &nsup);
        }
        dist_allreduce_sum(&dist, grad, np);
        dist_allreduce_sum_f64(&dist, &loss, 1);
        loss /= (double)nsup_all;
        uint64_t stepno = st.step + 1;
        double gnorm = adamw_clip(grad, np, clip);
        if (!isfinite(loss) || !isfinite(gnorm)) {
            progress_done(&prog);
            if (logf && logf != stdout)
                fclose(logf);
            if (ck_every && out_dir && ckpt_exists(out_dir))
                die("step %llu: %s is %s; stopping, the last good checkpoint is kept in '%s/checkpoint.bin'",
                    (unsigned long long)stepno, isfinite(loss) ? "the gradient norm" : "the loss",
                    isnan(isfinite(loss) ? gnorm : loss) ? "nan" : "inf", out_dir);
            die("step %llu: %s is %s; stopping (no checkpoint was written: use --checkpoint-every)",
                (unsigned long long)stepno, isfinite(loss) ? "the gradient norm" : "the loss",
                isnan(isfinite(loss) ? gnorm : loss) ? "nan" : "inf");
        }
        double lr = adamw_lr(&opt, st.step, total);
        adamw_update(&opt, m.block, grad, mom, vel, np, decay, st.step, lr);
        st.step = stepno;
        st.tokens_seen += (double)tokens;
        tokens_run += (double)tokens;
        st.batch_pos++;
        if (st.batch_pos >= steps_per_epoch) {
            st.batch_pos = 0;
            st.epoch++;
            char key[32];
            int kl = snprintf(key, sizeof key, "epoch-%llu", (unsigned long long)st.epoch);
            rng_seed_key(&st.rng, seed, key, (size_t)kl);
        }
        double dt = util_now() - t0;
        times[stepno - step0 - 1] = dt;
        if (logf) {
            fprintf(logf,
                    "{\"step\":%llu,\"epoch\":%.4f,\"loss\":%.9g,\"lr\":%.6g,\"grad_norm\":%.6g,\"tokens\":%ld,"
                    "\"tokens_per_s\":%.1f}\n",
                    (unsigned long long)stepno,
                    (double)(stepno) / (double)steps_per_epoch, loss, lr, gnorm, tokens, (double)tokens / dt);
            fflush(logf);
        }
        char extra[96];
        snprintf(extra, sizeof extra, "loss %.4f  %.0f tok/s", loss, tokens_run / (util_now() - t_start));
        progress_update(&prog, stepno, extra);
        if (ck_every && out_dir && dist.rank == 0 && stepno % (uint64_t)ck_every == 0 && stepno < total) {
            if (!all_finite(m.block, np))
                die("step %llu: a parameter is not finite; stopping, the last good checkpoint is kept in "
                    "'%s/checkpoint.bin'",
                    (unsigned long long)stepno, out_dir);
            if (ckpt_save(out_dir, cfg, &st, m.block, mom, vel, np, &err) < 0)
                err_die(&err);
        }
    }
    progress_done(&prog);
    double elapsed = util_now() - t_start;
    if (logf && logf != stdout)
        fclose(logf);

    if (synthetic) {
        /* median over the steps after two warm-up steps */
        uint64_t nt = st.step - step0, skip = nt > 3 ? 2 : 0;
        qsort(times + skip, nt - skip, sizeof(double), cmp_double);
        double med = times[skip + (nt - skip) / 2];
        long toks = (long)batch * seq;
        if (dist.rank == 0)
            printf("{\"preset\":\"%s\",\"seq\":%d,\"batch\":%d,\"steps\":%llu,\"step_s\":%.4f,\"tokens_per_s\":%.1f,"
                   "\"gflops\":%.2f,\"flops_per_token\":%.0f,\"peak_rss_mb\":%.0f,\"threads\":%d}\n",
                   preset ? preset : "init", seq, batch, (unsigned long long)nt, med, (double)toks * dist.size / med,
                   (double)toks * dist.size / med * flops_tok / 1e9, flops_tok, peak_rss_mb(), tr.nthreads);
    } else if (!quiet) {
        fprintf(stderr, "miso-train: %llu steps, %.0f tokens in %.1f s (%.0f tok/s)\n",
                (unsigned long long)(st.step - step0), tokens_run, elapsed, tokens_run / elapsed);
    }
    if (out_dir && dist.rank == 0) {
        if (model_save_hf(&m, out_dir, save_dtype, &err) < 0)
            err_die(&err);
        if (init) {
            char src[4096], dst[4096];
            const char *files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                   "generation_config.json"};
            for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
                snprintf(src, sizeof src, "%s/%s", init, files[i]);
                snprintf(dst, sizeof dst, "%s/%s", out_dir, files[i]);
                copy_file(src, dst);
            }
        }
        if (ck_every && ckpt_save(out_dir, cfg, &st, m.block, mom, vel, np, &err) < 0)
            err_die(&err);
    }
    free(syn.ids), free(syn.pos), free(syn.mask), free(syn.s);
    free(mbp), free(times), free(order), free(grad), free(decay), free(mom), free(vel);
    if (!synthetic)
        free(samples);
    train_release(&tr);
    pack_release(&pd);
    model_release(&m);
    dist_finalize(&dist);
    util_close_stdout();
    return 0;
}
