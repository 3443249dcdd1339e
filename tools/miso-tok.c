/*
 * miso-tok - text lines to token ids and back, with any tokenizer miso reads
 * (lib/tokenizer.h).  One input line is one text; one output line is its ids.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chat.h"
#include "jsonl.h"
#include "ofile.h"
#include "progress.h"
#include "tokenizer.h"
#include "util.h"

static const char usage[] =
    "usage: miso-tok --tokenizer PATH [options] [FILE...]\n"
    "Encode each input line (a text) as one line of space-separated token ids,\n"
    "or with --decode turn lines of ids back into text.  FILE '-' or none is\n"
    "standard input; .gz input is read transparently.\n"
    "\n"
    "  -t, --tokenizer PATH  tokenizer folder, tokenizer.json, llama2.c tokenizer.bin, or 'byte'\n"
    "  -j, --json            texts are JSON strings, one per line (in, or out with --decode)\n"
    "  -b, --bos             prepend the tokenizer's BOS id to each line of ids\n"
    "      --eos             append the tokenizer's EOS id to each line of ids\n"
    "      --no-special      treat special-token text (\"<|eot_id|>\") as plain text\n"
    "      --chat TEMPLATE   each text is a user message: encode it rendered with a chat template\n"
    "                        (llama3, mistral, chatml, plain, or auto: guessed from the tokenizer)\n"
    "                        up to and including the generation prompt\n"
    "      --system TEXT     with --chat: a system message before each user message\n"
    "  -d, --decode          ids to text\n"
    "      --skip-special    with --decode: leave special tokens out\n"
    "      --info            print the tokenizer's kind, vocabulary size, BOS and EOS, and exit\n"
    "  -o, --output FILE     write here (atomically) instead of standard output\n"
    "  -q, --quiet           no progress display\n"
    "  -h, --help            this help\n"
    "  -V, --version         version\n";

typedef struct {
    int json, bos, eos, special, decode, skip_special, quiet;
    int chat;
    ChatTemplate tpl;
    const char *system;
} Opts;

static void encode_line(const Tokenizer *t, const Opts *o, const char *s, size_t n, IntVec *ids, StrBuf *out)
{
    ids->n = 0;
    if (o->bos && tok_bos(t) >= 0)
        intvec_push(ids, tok_bos(t));
    if (o->chat) {
        /* the rendered prompt is one text, encoded with its special tokens
         * recognised, as HF's apply_chat_template(tokenize=True) does */
        StrBuf user = SB_INIT, text = SB_INIT;
        sb_add(&user, s, n);
        chat_render_prompt(o->tpl, t, o->system, user.buf, &text);
        sb_adds(&text, chat_generation_prompt_for(o->tpl, t));
        tok_encode(t, text.buf, text.len, 1, ids);
        sb_release(&user);
        sb_release(&text);
    } else {
        tok_encode(t, s, n, o->special, ids);
    }
    if (o->eos && tok_eos(t) >= 0)
        intvec_push(ids, tok_eos(t));
    /* printf per id was an eighth of the run time: format by hand */
    sb_grow(out, size_mul(ids->n, 12) + 1);
    char *p = out->buf + out->len;
    for (size_t i = 0; i < ids->n; i++) {
        char tmp[12];
        int k = 0;
        uint32_t x = (uint32_t)ids->v[i];
        do
            tmp[k++] = (char)('0' + x % 10);
        while ((x /= 10) != 0);
        if (i)
            *p++ = ' ';
        while (k)
            *p++ = tmp[--k];
    }
    *p++ = '\n';
    sb_setlen(out, (size_t)(p - out->buf));
}

/* "12 7 99" -> ids; -1 with err on anything else. */
static int parse_ids(const char *s, size_t n, IntVec *ids, const char *path, long line, Err *err)
{
    ids->n = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= n)
            break;
        long v = 0;
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9' && v <= 1000000000L)
            v = v * 10 + (s[i++] - '0');
        if (i == st || v > 1000000000L || (i < n && s[i] != ' ' && s[i] != '\t')) {
            err_set(err, path, line, "expected space-separated token ids, got \"%.*s\"", (int)(n - st > 40 ? 40 : n - st),
                    s + st);
            return -1;
        }
        intvec_push(ids, (int32_t)v);
    }
    return 0;
}

static void run(const Tokenizer *t, const Opts *o, const char *path, FILE *f, Progress *pg, uint64_t *count)
{
    JsonlReader r;
    Err err;
    if (jsonl_open(&r, path, &err) < 0)
        err_die(&err);
    IntVec ids = {0};
    StrBuf out = SB_INIT;
    const char *line;
    size_t n;
    int rc;
    while ((rc = jsonl_next_line(&r, &line, &n, &err)) != 0) {
        if (rc < 0)
            err_die(&err);
        sb_reset(&out);
        if (o->decode) {
            if (parse_ids(line, n, &ids, r.path, r.line, &err) < 0)
                err_die(&err);
            StrBuf text = SB_INIT;
            if (tok_decode(t, ids.v, ids.n, o->skip_special, &text, &err) < 0) {
                err.file = r.path;
                err.line = r.line;
                err_die(&err);
            }
            if (o->json) {
                /* ids that stop inside a character: U+FFFD, as HF decodes */
                StrBuf fixed = SB_INIT;
                tok_utf8_repair(text.buf, text.len, &fixed);
                cJSON *js = cJSON_CreateString(fixed.buf);
                sb_release(&fixed);
                char *p = cJSON_PrintUnformatted(js);
                sb_adds(&out, p);
                free(p);
                cJSON_Delete(js);
            } else {
                sb_add(&out, text.buf, text.len);
            }
            sb_addc(&out, '\n');
            sb_release(&text);
        } else if (o->json) {
            cJSON *js = cJSON_ParseWithLength(line, n);
            if (!js || !cJSON_IsString(js)) {
                cJSON_Delete(js);
                err_set(&err, r.path, r.line, "expected one JSON string per line");
                err_die(&err);
            }
            encode_line(t, o, js->valuestring, strlen(js->valuestring), &ids, &out);
            cJSON_Delete(js);
        } else {
            encode_line(t, o, line, n, &ids, &out);
        }
        if (fwrite(out.buf, 1, out.len, f) != out.len)
            die("write error:");
        progress_update(pg, ++*count, NULL);
    }
    jsonl_close(&r);
    intvec_release(&ids);
    sb_release(&out);
}

int main(int argc, char **argv)
{
    util_set_prog(argv[0]);
    enum { OPT_EOS = 256, OPT_NO_SPECIAL, OPT_SKIP_SPECIAL, OPT_INFO, OPT_CHAT, OPT_SYSTEM };
    static const struct option longopts[] = {
        {"tokenizer", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"bos", no_argument, NULL, 'b'},
        {"eos", no_argument, NULL, OPT_EOS},
        {"no-special", no_argument, NULL, OPT_NO_SPECIAL},
        {"decode", no_argument, NULL, 'd'},
        {"skip-special", no_argument, NULL, OPT_SKIP_SPECIAL},
        {"info", no_argument, NULL, OPT_INFO},
        {"chat", required_argument, NULL, OPT_CHAT},
        {"system", required_argument, NULL, OPT_SYSTEM},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    Opts o = {.special = 1};
    const char *tokpath = NULL, *output = NULL, *chat = NULL;
    int info = 0, c;
    while ((c = getopt_long(argc, argv, "t:jbdo:qhV", longopts, NULL)) != -1) {
        switch (c) {
        case 't': tokpath = optarg; break;
        case 'j': o.json = 1; break;
        case 'b': o.bos = 1; break;
        case OPT_EOS: o.eos = 1; break;
        case OPT_NO_SPECIAL: o.special = 0; break;
        case 'd': o.decode = 1; break;
        case OPT_SKIP_SPECIAL: o.skip_special = 1; break;
        case OPT_INFO: info = 1; break;
        case OPT_CHAT: chat = optarg; break;
        case OPT_SYSTEM: o.system = optarg; break;
        case 'o': output = optarg; break;
        case 'q': o.quiet = 1; break;
        case 'h':
            fputs(usage, stdout);
            util_close_stdout();
            return 0;
        case 'V': util_print_version();
        default: die_usage("unknown option");
        }
    }
    if (!tokpath)
        die_usage("--tokenizer PATH is required");
    if (o.decode && (o.bos || o.eos))
        die_usage("--bos/--eos go with encoding, not --decode");
    if (!o.decode && o.skip_special)
        die_usage("--skip-special goes with --decode");
    if (chat && o.decode)
        die_usage("--chat goes with encoding, not --decode");
    if (o.system && !chat)
        die_usage("--system goes with --chat");
    if (chat && strcmp(chat, "auto") != 0 && chat_template_from_name(chat, &o.tpl) < 0)
        die_usage("unknown chat template '%s' (llama3, mistral, chatml, plain, auto)", chat);
    Err err;
    Tokenizer *t = tok_load(tokpath, &err);
    if (!t)
        err_die(&err);
    if (chat) {
        o.chat = 1;
        if (!strcmp(chat, "auto"))
            o.tpl = chat_guess(t);
    }
    if (info) {
        printf("kind\t%s\nvocab_size\t%d\nbos\t%d\neos\t%d\nchat_template\t%s\n", tok_kind(t), tok_vocab_size(t),
               tok_bos(t), tok_eos(t), chat_template_name(chat_guess(t)));
        tok_free(t);
        util_close_stdout();
        return 0;
    }
    OutFile of;
    FILE *f = ofile_open(&of, output, &err);
    if (!f)
        err_die(&err);
    Progress pg;
    progress_init(&pg, "miso-tok", 0, o.quiet);
    uint64_t count = 0;
    if (optind >= argc)
        run(t, &o, "-", f, &pg, &count);
    for (int i = optind; i < argc; i++)
        run(t, &o, argv[i], f, &pg, &count);
    progress_done(&pg);
    if (ofile_commit(&of, &err) < 0)
        err_die(&err);
    tok_free(t);
    util_close_stdout();
    return 0;
}
