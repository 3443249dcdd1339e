/*
 * chat.c - the four built-in chat templates, written out by hand from the
 * models' Jinja templates (reference/datasets.md §6 quotes them).  A Jinja
 * engine would be the general answer, but miso only needs these four and
 * each is a few lines of string building; the token-id examples of the
 * reference are checked in tests/unit/test_chat.c.
 */
#include "chat.h"

#include <string.h>

static const char *const names[] = {"llama3", "mistral", "chatml", "plain"};

int chat_template_from_name(const char *name, ChatTemplate *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (ChatTemplate)i;
            return 0;
        }
    return -1;
}

const char *chat_template_name(ChatTemplate tpl)
{
    return (unsigned)tpl < 4 ? names[tpl] : "?";
}

ChatTemplate chat_guess(const Tokenizer *t)
{
    if (!t)
        return CHAT_PLAIN;
    /* The tokenizer's own chat template says which format the model was
     * tuned on, even when its vocabulary has other families' tokens (a
     * ChatML fine-tune of Llama-3 keeps <|start_header_id|>).  A Llama-2
     * chat template ([INST] with <<SYS>>) maps to mistral: the user turns
     * are the same, the system turn is not. */
    const char *tpl = tok_chat_template(t);
    if (tpl) {
        if (strstr(tpl, "<|start_header_id|>"))
            return CHAT_LLAMA3;
        if (strstr(tpl, "<|im_start|>"))
            return CHAT_CHATML;
        if (strstr(tpl, "[INST]"))
            return CHAT_MISTRAL;
    }
    if (tok_token_id(t, "<|eot_id|>") >= 0 && tok_token_id(t, "<|start_header_id|>") >= 0)
        return CHAT_LLAMA3;
    if (tok_token_id(t, "<|im_start|>") >= 0 && tok_token_id(t, "<|im_end|>") >= 0)
        return CHAT_CHATML;
    if (tok_token_id(t, "[INST]") >= 0)
        return CHAT_MISTRAL;
    if (!strcmp(tok_kind(t), "sentencepiece-bpe") && tok_token_id(t, "<s>") >= 0 && tok_token_id(t, "</s>") >= 0)
        return CHAT_MISTRAL;
    return CHAT_PLAIN;
}

static int is_byte(const Tokenizer *t)
{
    return !t || !strcmp(tok_kind(t), "byte");
}

/* BOS text of the template: the tokenizer's BOS if it has one. */
static const char *bos_text(ChatTemplate tpl, const Tokenizer *t)
{
    const char *s = t && tok_bos(t) >= 0 ? tok_id_text(t, tok_bos(t)) : NULL;
    switch (tpl) {
    case CHAT_LLAMA3:
        return s ? s : "<|begin_of_text|>";
    case CHAT_MISTRAL:
        return s ? s : "<s>";
    case CHAT_CHATML:
        return "";
    case CHAT_PLAIN:
        return is_byte(t) ? "<s>" : s ? s : "";
    }
    return "";
}

static const char *eos_text(const Tokenizer *t, const char *dflt)
{
    const char *s = t && tok_eos(t) >= 0 ? tok_id_text(t, tok_eos(t)) : NULL;
    return s ? s : dflt;
}

const char *chat_generation_prompt(ChatTemplate tpl)
{
    switch (tpl) {
    case CHAT_LLAMA3:
        return "<|start_header_id|>assistant<|end_header_id|>\n\n";
    case CHAT_MISTRAL:
        return "";
    case CHAT_CHATML:
        return "<|im_start|>assistant\n";
    case CHAT_PLAIN:
        return "<|assistant|>\n";
    }
    return "";
}

const char *chat_end_of_turn(ChatTemplate tpl)
{
    switch (tpl) {
    case CHAT_LLAMA3:
        return "<|eot_id|>";
    case CHAT_MISTRAL:
        return "</s>";
    case CHAT_CHATML:
        return "<|im_end|>";
    case CHAT_PLAIN:
        return "<|end|>";
    }
    return "";
}

const char *chat_generation_prompt_for(ChatTemplate tpl, const Tokenizer *t)
{
    if (tpl == CHAT_PLAIN && !is_byte(t))
        return "### Assistant:\n";
    return chat_generation_prompt(tpl);
}

const char *chat_end_of_turn_for(ChatTemplate tpl, const Tokenizer *t)
{
    if (tpl == CHAT_PLAIN && !is_byte(t))
        return eos_text(t, "");
    if (tpl == CHAT_MISTRAL)
        return eos_text(t, "</s>");
    return chat_end_of_turn(tpl);
}

/* Length of the Unicode white space character at s (Python's str.isspace,
 * which Jinja's trim uses), 0 if none. */
static size_t space_len(const char *s, size_t n)
{
    uint32_t cp;
    size_t k = utf8_decode(s, n, &cp);
    if (k == 0)
        return 0;
    if ((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
        (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
        cp == 0x3000)
        return k;
    return 0;
}

static void add_trimmed(StrBuf *out, const char *s)
{
    size_t n = strlen(s), b = 0, k;
    while (b < n && (k = space_len(s + b, n - b)) > 0)
        b += k;
    size_t e = n;
    while (e > b) {
        /* step back one code point */
        size_t p = e - 1;
        while (p > b && ((unsigned char)s[p] & 0xC0) == 0x80)
            p--;
        if (space_len(s + p, e - p) != e - p)
            break;
        e = p;
    }
    sb_add(out, s + b, e - b);
}

void chat_render_messages(ChatTemplate tpl, const Tokenizer *t, const char *const *roles,
                          const char *const *contents, size_t n, int add_generation_prompt, StrBuf *out)
{
    const char *eot = chat_end_of_turn_for(tpl, t);
    sb_adds(out, bos_text(tpl, t));
    const char *pending_system = NULL; /* mistral: folded into the next user turn */
    for (size_t i = 0; i < n; i++) {
        const char *role = roles[i], *c = contents[i] ? contents[i] : "";
        switch (tpl) {
        case CHAT_LLAMA3:
            sb_adds(out, "<|start_header_id|>");
            sb_adds(out, role);
            sb_adds(out, "<|end_header_id|>\n\n");
            add_trimmed(out, c);
            sb_adds(out, eot);
            break;
        case CHAT_CHATML:
            sb_adds(out, "<|im_start|>");
            sb_adds(out, role);
            sb_addc(out, '\n');
            sb_adds(out, c);
            sb_adds(out, "<|im_end|>\n");
            break;
        case CHAT_MISTRAL:
            if (!strcmp(role, "system")) {
                pending_system = c;
            } else if (!strcmp(role, "user")) {
                sb_adds(out, "[INST] ");
                if (pending_system) {
                    sb_adds(out, pending_system);
                    sb_adds(out, "\n\n");
                    pending_system = NULL;
                }
                sb_adds(out, c);
                sb_adds(out, " [/INST]");
            } else {
                sb_adds(out, c);
                sb_adds(out, eot);
            }
            break;
        case CHAT_PLAIN:
            if (is_byte(t)) {
                const char *tag = !strcmp(role, "system") ? "<|system|>" : !strcmp(role, "user") ? "<|user|>"
                                                                                                 : "<|assistant|>";
                sb_adds(out, tag);
                sb_addc(out, '\n');
                sb_adds(out, c);
                sb_adds(out, "<|end|>\n");
            } else {
                const char *tag = !strcmp(role, "system") ? "### System:\n" : !strcmp(role, "user") ? "### User:\n"
                                                                                                   : "### Assistant:\n";
                sb_adds(out, tag);
                sb_adds(out, c);
                if (strcmp(role, "system") != 0 && strcmp(role, "user") != 0)
                    sb_adds(out, eot);
                sb_adds(out, "\n\n");
            }
            break;
        }
    }
    if (add_generation_prompt)
        sb_adds(out, chat_generation_prompt_for(tpl, t));
}

void chat_render_prompt(ChatTemplate tpl, const Tokenizer *t, const char *system, const char *user, StrBuf *out)
{
    const char *roles[2], *contents[2];
    size_t n = 0;
    if (system) {
        roles[n] = "system";
        contents[n++] = system;
    }
    roles[n] = "user";
    contents[n++] = user;
    chat_render_messages(tpl, t, roles, contents, n, 0, out);
}
