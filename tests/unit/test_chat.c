/* test_chat.c - the chat templates render the exact strings of
 * reference/datasets.md §6; with MISO_TOK_LLAMA3 / MISO_TOK_MISTRAL set to
 * tokenizer folders (tests/sh/tokenizer.sh does it) the documented token id
 * examples are checked too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat.h"
#include "testhelp.h"

static char *render(ChatTemplate tpl, const Tokenizer *t, const char *const *roles, const char *const *c, size_t n,
                    int gen)
{
    static StrBuf sb = SB_INIT;
    sb_reset(&sb);
    chat_render_messages(tpl, t, roles, c, n, gen, &sb);
    return sb.buf;
}

static int ids_equal(const IntVec *v, const int32_t *want, size_t n)
{
    if (v->n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v->v[i] != want[i])
            return 0;
    return 1;
}

/* ---------------------------------------------------------------- guessing
 * Synthetic tokenizer folders: a tiny byte-level tokenizer.json whose added
 * tokens are those of one family, and a tokenizer_config.json (or
 * chat_template.jinja) whose chat_template is that of another. */
static char tmpdir[64];

static void put(const char *sub, const char *name, const char *text)
{
    char path[192];
    snprintf(path, sizeof path, "%s/%s", tmpdir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", tmpdir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

/* a tokenizer.json with Llama-3's header tokens (so the token-based guess
 * alone says llama3) */
static const char *const llama3_like =
    "{\"added_tokens\": [{\"id\": 3, \"content\": \"<|eot_id|>\", \"special\": true},"
    "  {\"id\": 4, \"content\": \"<|start_header_id|>\", \"special\": true},"
    "  {\"id\": 5, \"content\": \"<|end_header_id|>\", \"special\": true}],"
    " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},"
    " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2}, \"merges\": []}}";

static ChatTemplate guess_dir(const char *sub, const char **tpl_out)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, sub);
    Err e;
    Tokenizer *t = tok_load(path, &e);
    if (!t) {
        fprintf(stderr, "%s\n", e.msg);
        return (ChatTemplate)-1;
    }
    ChatTemplate g = chat_guess(t);
    static char keep[256];
    snprintf(keep, sizeof keep, "%s", tok_chat_template(t) ? tok_chat_template(t) : "(null)");
    if (tpl_out)
        *tpl_out = keep;
    tok_free(t);
    return g;
}

static void test_guess_from_template(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/miso-chat-test.%d", (int)getpid());
    mkdir(tmpdir, 0755);
    const char *tpl = NULL;

    put("none", "tokenizer.json", llama3_like);
    CHECK(guess_dir("none", &tpl) == CHAT_LLAMA3 && !strcmp(tpl, "(null)"),
          "without a chat_template the special tokens decide (llama3)");

    put("chatml", "tokenizer.json", llama3_like);
    put("chatml", "tokenizer_config.json",
        "{\"chat_template\": \"{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + "
        "'<|im_end|>' + '\\n'}}{% endfor %}\"}");
    CHECK(guess_dir("chatml", &tpl) == CHAT_CHATML, "a ChatML chat_template wins over Llama-3's tokens");
    CHECK(strstr(tpl, "{% for m in messages %}") == tpl, "tok_chat_template returns the config's string");

    put("inst", "tokenizer.json", llama3_like);
    put("inst", "tokenizer_config.json",
        "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"<|im_start|>\"},"
        " {\"name\": \"default\", \"template\": \"{{ bos_token }}[INST] {{ m }} [/INST]\"}]}");
    CHECK(guess_dir("inst", &tpl) == CHAT_MISTRAL, "a list of templates: the one named default ([INST]) is used");

    put("l3", "tokenizer.json", "{\"added_tokens\": [{\"id\": 3, \"content\": \"<|im_start|>\", \"special\": true},"
        " {\"id\": 4, \"content\": \"<|im_end|>\", \"special\": true}],"
        " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},"
        " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2}, \"merges\": []}}");
    CHECK(guess_dir("l3", NULL) == CHAT_CHATML, "without a template, <|im_start|> and <|im_end|> tokens guess chatml");
    put("l3", "chat_template.jinja", "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' }}");
    CHECK(guess_dir("l3", &tpl) == CHAT_LLAMA3, "a chat_template.jinja file with <|start_header_id|> guesses llama3");

    put("other", "tokenizer.json", llama3_like);
    put("other", "tokenizer_config.json", "{\"chat_template\": \"{{ '### Human: ' + m }}\"}");
    CHECK(guess_dir("other", NULL) == CHAT_LLAMA3, "a template without a known marker falls back to the tokens");

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
    const char *roles[] = {"user", "assistant"}, *conv[] = {"Hi", "Hello"};
    const char *roles3[] = {"system", "user", "assistant"}, *conv3[] = {"Be brief.", "Hi", "Hello"};
    ChatTemplate tpl;

    CHECK(chat_template_from_name("llama3", &tpl) == 0 && tpl == CHAT_LLAMA3, "\"llama3\" names CHAT_LLAMA3");
    CHECK(chat_template_from_name("chatml", &tpl) == 0 && tpl == CHAT_CHATML, "\"chatml\" names CHAT_CHATML");
    CHECK(chat_template_from_name("vicuna", &tpl) == -1, "an unknown template name is refused");
    CHECK_STR(chat_template_name(CHAT_MISTRAL), "mistral", "template names round-trip");

    CHECK_STR(render(CHAT_LLAMA3, NULL, roles, conv, 2, 0),
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>",
              "llama3 renders the documented example string");
    const char *padded[] = {"  Hi \n", "\u3000Hello\u00a0"};
    CHECK_STR(render(CHAT_LLAMA3, NULL, roles, padded, 2, 1),
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n",
              "llama3 trims message content (Unicode white space) and adds the generation prompt");
    CHECK_STR(render(CHAT_MISTRAL, NULL, roles, conv, 2, 0), "<s>[INST] Hi [/INST]Hello</s>",
              "mistral renders the v0.2 form");
    const char *roles4[] = {"user", "assistant", "user"}, *conv4[] = {"Hi", "Hello", "Again"};
    CHECK_STR(render(CHAT_MISTRAL, NULL, roles4, conv4, 3, 1), "<s>[INST] Hi [/INST]Hello</s>[INST] Again [/INST]",
              "mistral: no space after </s> (v0.2), empty generation prompt");
    CHECK_STR(render(CHAT_MISTRAL, NULL, roles3, conv3, 3, 0), "<s>[INST] Be brief.\n\nHi [/INST]Hello</s>",
              "mistral folds a system message into the first user turn");
    CHECK_STR(render(CHAT_CHATML, NULL, roles3, conv3, 3, 1),
              "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
              "<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>assistant\n",
              "chatml renders each turn with <|im_start|>/<|im_end|> and no BOS");
    CHECK_STR(chat_generation_prompt(CHAT_LLAMA3), "<|start_header_id|>assistant<|end_header_id|>\n\n",
              "llama3 generation prompt");
    CHECK_STR(chat_end_of_turn(CHAT_LLAMA3), "<|eot_id|>", "llama3 end of turn");
    CHECK_STR(chat_end_of_turn(CHAT_CHATML), "<|im_end|>", "chatml end of turn");
    CHECK_STR(chat_end_of_turn(CHAT_MISTRAL), "</s>", "mistral end of turn");

    /* plain, byte tokenizer */
    Err err;
    Tokenizer *bt = tok_load("byte", &err);
    CHECK(bt != NULL, "the byte tokenizer loads");
    StrBuf sb = SB_INIT;
    chat_render_prompt(CHAT_PLAIN, bt, "sys", "hello", &sb);
    CHECK_STR(sb.buf, "<s><|system|>\nsys<|end|>\n<|user|>\nhello<|end|>\n", "plain prompt for the byte tokenizer");
    sb_reset(&sb);
    chat_render_prompt(CHAT_PLAIN, bt, NULL, "hello", &sb);
    CHECK_STR(sb.buf, "<s><|user|>\nhello<|end|>\n", "plain prompt without a system turn");
    CHECK_STR(chat_generation_prompt_for(CHAT_PLAIN, bt), "<|assistant|>\n", "plain generation prompt (byte)");
    CHECK_STR(chat_end_of_turn_for(CHAT_PLAIN, bt), "<|end|>", "plain end of turn (byte)");
    IntVec ids = {0};
    sb_reset(&sb);
    chat_render_prompt(CHAT_PLAIN, bt, NULL, "hi", &sb);
    sb_adds(&sb, chat_generation_prompt(CHAT_PLAIN));
    tok_encode(bt, sb.buf, sb.len, 1, &ids);
    const int32_t want_plain[] = {256, 258, 10, 104, 105, 261, 10, 259, 10};
    CHECK(ids_equal(&ids, want_plain, 9), "plain template on the byte tokenizer encodes to its special ids");
    CHECK(chat_guess(bt) == CHAT_PLAIN, "the byte tokenizer guesses plain");
    intvec_release(&ids);
    tok_free(bt);

    const char *p3 = getenv("MISO_TOK_LLAMA3");
    if (p3) {
        Tokenizer *t = tok_load(p3, &err);
        CHECK(t != NULL, "Llama-3 tokenizer loads from %s", p3);
        if (t) {
            sb_reset(&sb);
            chat_render_messages(CHAT_LLAMA3, t, roles, conv, 2, 0, &sb);
            tok_encode(t, sb.buf, sb.len, 1, &ids);
            const int32_t want[] = {128000, 128006, 882, 128007, 271, 13347, 128009, 128006, 78191, 128007, 271, 9906, 128009};
            CHECK(ids_equal(&ids, want, 13), "the Llama-3 example encodes to the documented 13 ids");
            CHECK(chat_guess(t) == CHAT_LLAMA3, "a tokenizer with <|eot_id|> guesses llama3");
            CHECK(tok_token_id(t, "system") == 9125 && tok_token_id(t, "<|end_header_id|>") == 128007,
                  "token ids of \"system\" and <|end_header_id|>");
            CHECK_STR(chat_generation_prompt_for(CHAT_PLAIN, t), "### Assistant:\n", "plain generation prompt (BPE)");
            CHECK_STR(chat_end_of_turn_for(CHAT_PLAIN, t), "<|end_of_text|>", "plain end of turn is EOS (BPE)");
            intvec_release(&ids);
            tok_free(t);
        }
    }
    const char *pm = getenv("MISO_TOK_MISTRAL");
    if (pm) {
        Tokenizer *t = tok_load(pm, &err);
        CHECK(t != NULL, "Mistral tokenizer loads from %s", pm);
        if (t) {
            sb_reset(&sb);
            chat_render_messages(CHAT_MISTRAL, t, roles, conv, 1, 0, &sb);
            sb_adds(&sb, "Hello");
            /* the documented example has BOS as an id, the rest as text */
            intvec_push(&ids, tok_bos(t));
            const char *text = sb.buf + strlen("<s>");
            tok_encode(t, text, strlen(text), 0, &ids);
            const int32_t want[] = {1, 733, 16289, 28793, 15359, 733, 28748, 16289, 28793, 16230};
            CHECK(ids_equal(&ids, want, 10), "the Mistral example \"[INST] Hi [/INST]Hello\" encodes to the documented ids");
            ids.n = 0;
            tok_encode(t, sb.buf, sb.len, 1, &ids);
            CHECK(ids.n > 0 && ids.v[0] == 1, "<s> in rendered text becomes BOS id 1");
            CHECK(chat_guess(t) == CHAT_MISTRAL, "a SentencePiece tokenizer with <s> and </s> guesses mistral");
            intvec_release(&ids);
            tok_free(t);
        }
    }
    const char *pq = getenv("MISO_TOK_QWEN");
    if (pq) {
        Tokenizer *t = tok_load(pq, &err);
        CHECK(t != NULL, "Qwen tokenizer loads from %s", pq);
        if (t) {
            CHECK(chat_guess(t) == CHAT_CHATML, "a tokenizer with <|im_start|> guesses chatml");
            sb_reset(&sb);
            chat_render_messages(CHAT_CHATML, t, roles, conv, 1, 1, &sb);
            tok_encode(t, sb.buf, sb.len, 1, &ids);
            const int32_t want[] = {151644, 872, 198, 13048, 151645, 198, 151644, 77091, 198};
            CHECK(ids_equal(&ids, want, 9), "chatml user turn + generation prompt encode to Qwen's ids");
            CHECK_STR(chat_end_of_turn_for(CHAT_CHATML, t), "<|im_end|>", "chatml end of turn");
            intvec_release(&ids);
            tok_free(t);
        }
    }
    sb_release(&sb);
    test_guess_from_template();
    return TEST_REPORT();
}
