/*
 * chat.h - chat templates: turn (system, user, assistant) messages into the
 * exact text a model was fine-tuned on.  Rendering produces text, not ids;
 * encode it with tok_encode(..., allow_special=1) so the special-token
 * strings become their ids.
 *
 * Templates (strings exactly as the models' Jinja templates produce them):
 *   CHAT_LLAMA3  <|begin_of_text|><|start_header_id|>ROLE<|end_header_id|>\n\n
 *                CONTENT<|eot_id|> ... ; generation prompt
 *                "<|start_header_id|>assistant<|end_header_id|>\n\n"
 *   CHAT_MISTRAL <s>[INST] USER [/INST]ASSISTANT</s>[INST] ... : the v0.2
 *                spacing (v0.1 adds one space after each </s>; Mistral has
 *                no system role: a system message is put before the first
 *                user message's text, followed by "\n\n").  The generation
 *                prompt is empty ("[/INST]" ends the user turn).
 *   CHAT_CHATML  <|im_start|>ROLE\nCONTENT<|im_end|>\n ... ; generation
 *                prompt "<|im_start|>assistant\n"
 *   CHAT_PLAIN   for the byte tokenizer:
 *                <s><|system|>\nSYSTEM<|end|>\n<|user|>\nUSER<|end|>\n,
 *                generation prompt "<|assistant|>\n", end of turn <|end|>;
 *                for other tokenizers a plain text form: BOS text (if the
 *                tokenizer has a BOS), "### System:\nSYSTEM\n\n",
 *                "### User:\nUSER\n\n", generation prompt
 *                "### Assistant:\n", assistant turns end with the EOS text
 *                then "\n\n".  Because this depends on the tokenizer, use
 *                chat_generation_prompt_for / chat_end_of_turn_for with
 *                CHAT_PLAIN (the tokenizer-less functions return the byte
 *                tokenizer's strings for CHAT_PLAIN).
 *   llama3 trims each message (Jinja |trim: leading/trailing Unicode white
 *   space); the others use the content as given.  No template inserts a
 *   default system message (Qwen2's template does: pass it as system).
 *
 * Ownership: all strings are borrowed; output is appended to the caller's
 * StrBuf.  The Tokenizer may be NULL (then BOS/EOS texts fall back to the
 * template's defaults).  Nothing here fails except chat_template_from_name.
 *
 * Usage
 *   ChatTemplate tpl = chat_guess(t);
 *   StrBuf sb = SB_INIT;
 *   chat_render_prompt(tpl, t, NULL, "Hi", &sb);
 *   sb_adds(&sb, chat_generation_prompt(tpl));
 */
#ifndef MISO_CHAT_H
#define MISO_CHAT_H

#include <stddef.h>

#include "tokenizer.h"
#include "util.h"

typedef enum { CHAT_LLAMA3, CHAT_MISTRAL, CHAT_CHATML, CHAT_PLAIN } ChatTemplate;

/* "llama3", "mistral", "chatml", "plain"; -1 unknown */
int chat_template_from_name(const char *name, ChatTemplate *out);
/* the name of a template ("llama3" ...) */
const char *chat_template_name(ChatTemplate tpl);
/* From the tokenizer's chat template (tok_chat_template) when it has one
 * with a known marker: "<|start_header_id|>" llama3, "<|im_start|>" chatml,
 * "[INST]" mistral (Llama-2's chat template too, whose system turn differs);
 * else from its special tokens (<|eot_id|> + <|start_header_id|> llama3,
 * <|im_start|> + <|im_end|> chatml, [INST] or a SentencePiece vocabulary
 * with <s> </s> mistral); else plain. */
ChatTemplate chat_guess(const Tokenizer *t);

/* Render text (not ids): the prompt part = BOS text (if the template uses
 * one), optional system turn (system may be NULL), the user turn, up to the
 * end of the user turn, WITHOUT the generation prompt. */
void chat_render_prompt(ChatTemplate tpl, const Tokenizer *t, const char *system, const char *user, StrBuf *out);

/* Render a whole conversation of n messages (roles "system"/"user"/
 * "assistant") as the template does, with add_generation_prompt. */
void chat_render_messages(ChatTemplate tpl, const Tokenizer *t, const char *const *roles,
                          const char *const *contents, size_t n, int add_generation_prompt, StrBuf *out);

/* e.g. "<|start_header_id|>assistant<|end_header_id|>\n\n" */
const char *chat_generation_prompt(ChatTemplate tpl);
/* e.g. "<|eot_id|>", "</s>", "<|im_end|>" */
const char *chat_end_of_turn(ChatTemplate tpl);

/* The same, right for CHAT_PLAIN with any tokenizer (t may be NULL: then
 * as the functions above).  The end of turn of plain with a non-byte
 * tokenizer is its EOS text ("" if it has none). */
const char *chat_generation_prompt_for(ChatTemplate tpl, const Tokenizer *t);
const char *chat_end_of_turn_for(ChatTemplate tpl, const Tokenizer *t);

#endif
