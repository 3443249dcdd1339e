/* test_crab.c - the Crab wrapper parser against texts generated here from
 * the documented templates (reference/datasets.md §1 B), every wrapper 1-11
 * times every line prefix, plus the record shapes. */
#include <stdlib.h>
#include <string.h>

#include "crab.h"
#include "testhelp.h"

/* The eleven wrapper texts as documented, and the joiners. */
static const char *const W[12] = {
    NULL,
    "{instruction}\n{additional}",
    "{instruction}\n\nWhen answering, please ensure that the following constraints are also met.{additional}",
    "Please follow the instructions below to generate your response. Additionally, make sure to adhere to the specific constraints mentioned.\n\nInstructions: {instruction}\n\nAdditional Constraints: {additional}",
    "Please carefully read and follow the instructions below, along with the additional restrictions provided, to generate your response.\n\nInstructions: {instruction}\n\nAdditional Restrictions: {additional}",
    "Please ensure you read and follow the detailed instructions and additional constraints provided below to accurately address the query.\n\n- **Instructions**: {instruction}\n- **Additional Constraints**: {additional}\n\nYour compliance with these guidelines is essential for a valid response.",
    "To generate your response, please adhere to the following:\n1. **Instructions**: {instruction}\n2. **Additional Constraints**: {additional}\n\nIt's important to follow these guidelines closely to ensure your response is appropriate.",
    "We invite you to respond by carefully considering the instructions and constraints outlined below. Your thoughtful adherence to these guidelines will greatly enhance the quality of your response.\n\n- **Instructions**: {instruction}\n- **Additional Constraints**: {additional}\n\nThank you for your attention to detail!",
    "Hey there! We'd love for you to take a crack at this by following the steps and rules below:\n- Here's what you need to do: {instruction}\n- Just a couple of things to keep in mind: {additional}\n\nCan't wait to see what you come up with!",
    "{additional}\n{instruction}",
    "{additional}\n\nQuery:\n{instruction}",
    "{instruction}\n\nWhen answering, please ensure that the following constraints are also met.\n{additional}",
};
/* index = CrabPrefix */
static const char *const J[7] = {"{item}", "- {item}", "# {item}", "* {item}", "> {item}", "{index}. {item}", " "};

static void replace(StrBuf *out, const char *t, const char *key, const char *val)
{
    const char *p = strstr(t, key);
    sb_reset(out);
    sb_add(out, t, (size_t)(p - t));
    sb_adds(out, val);
    sb_adds(out, p + strlen(key));
}

/* Forward_data_generate.py's construction, step 6-7. */
static void make_text(StrBuf *out, int w, int j, const char *x, const char *const *cs, size_t n)
{
    StrBuf add = SB_INIT, tmp = SB_INIT;
    const char *indent = (w >= 3 && w <= 8) ? "    " : "";
    int is_long = w >= 9;
    if (j == 6) {
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_addc(&add, ' ');
            sb_adds(&add, cs[i]);
        }
    } else {
        if (!is_long)
            sb_addc(&add, '\n');
        for (size_t i = 0; i < n; i++) {
            char idx[16];
            snprintf(idx, sizeof idx, "%zu", i + 1);
            StrBuf l = SB_INIT, l2 = SB_INIT;
            replace(&l, J[j], "{item}", cs[i]);
            if (strstr(l.buf, "{index}"))
                replace(&l2, l.buf, "{index}", idx);
            else
                sb_adds(&l2, l.buf);
            if (i)
                sb_addc(&add, '\n');
            sb_adds(&add, indent);
            sb_adds(&add, l2.buf);
            sb_release(&l);
            sb_release(&l2);
        }
    }
    replace(&tmp, W[w], "{instruction}", x);
    replace(out, tmp.buf, "{additional}", add.buf);
    sb_release(&add);
    sb_release(&tmp);
}

static int span_eq(CrabSpan s, const char *t)
{
    return s.n == strlen(t) && !memcmp(s.s, t, s.n);
}

int main(void)
{
    const char *xs[] = {
        "Submit a description of a important event in your life.",
        "Given a simple scenario, identify the characters.\n\n### Input:\nA family of four was sitting together at the dinner table.",
        "Haz una lista de las mejores tarjetas gráficas — ¿cuál es mejor?",
    };
    const char *cs[] = {
        "Answer with at most 30 words.",
        "Your response should feature the terms \"dinner table\", \"family seated\".",
        "Could you make sure that your response is free of any commas?",
        "Escribe en español, por favor: ñandú.",
    };
    CrabRecord c;
    crab_init(&c);
    StrBuf t = SB_INIT;
    Err err;
    for (int w = 1; w <= 11; w++) {
        for (int j = 0; j < 7; j++) {
            int all_ok = 1, all_refused = 1;
            int expect_ok_any = 0, expect_refused_any = 0;
            for (size_t xi = 0; xi < 3; xi++) {
                for (size_t n = 1; n <= 4; n++) {
                    make_text(&t, w, j, xs[xi], cs, n);
                    int expect = j != 6 && !(j == 0 && (w == 1 || w == 9)) &&
                                 !(j == 0 && n == 1 && (w == 2 || w == 10 || w == 11));
                    int rc = crab_parse(&c, t.buf, t.len, "t", 1, &err);
                    int ok = rc == 0;
                    if (expect) {
                        expect_ok_any = 1;
                        ok = ok && c.wrapper == (w == 11 ? 2 : w) && (int)c.prefix == j &&
                             span_eq(c.instruction, xs[xi]) && c.nCons == n;
                        for (size_t i = 0; ok && i < n; i++)
                            ok = span_eq(c.cons[i], cs[i]);
                        if (!ok) {
                            all_ok = 0;
                            printf("    wrapper %d prefix %s x%zu n=%zu: rc %d wrapper %d prefix %d n %zu %s\n", w,
                                   J[j], xi, n, rc, c.wrapper, c.prefix, c.nCons, rc ? err.msg : "");
                        }
                    } else {
                        expect_refused_any = 1;
                        if (rc == 0) {
                            all_refused = 0;
                            printf("    wrapper %d prefix '%s' x%zu n=%zu: parsed, expected a refusal\n", w, J[j],
                                   xi, n);
                        } else if (strncmp(err.msg, "cannot take the constraints apart: ", 35)) {
                            all_refused = 0;
                        }
                    }
                }
            }
            if (expect_ok_any)
                CHECK(all_ok, "wrapper %d with prefix '%s' gives back x and c1..cn", w, J[j]);
            if (expect_refused_any)
                CHECK(all_refused, "wrapper %d with prefix '%s' is refused where ambiguous", w, J[j]);
        }
    }

    /* render = the documented construction */
    int same = 1;
    for (int w = 1; w <= 11; w++)
        for (int j = 0; j < 7; j++) {
            CrabSpan x = {xs[1], strlen(xs[1])}, sp[3];
            for (int i = 0; i < 3; i++)
                sp[i] = (CrabSpan){cs[i], strlen(cs[i])};
            StrBuf r = SB_INIT;
            crab_render(&r, w, (CrabPrefix)j, x, sp, 3);
            make_text(&t, w, j, xs[1], cs, 3);
            same &= r.len == t.len && !memcmp(r.buf, t.buf, t.len);
            sb_release(&r);
        }
    CHECK(same, "crab_render builds the same text as the documented templates for all 77 combinations");

    const char *msg = "cannot take the constraints apart: constraints joined by spaces cannot be separated (wrapper 3)";
    make_text(&t, 3, 6, xs[0], cs, 3);
    CHECK(crab_parse(&c, t.buf, t.len, "f.jsonl", 7, &err) < 0 && err.line == 7 && !strcmp(err.msg, msg),
          "reports space-joined constraints in wrapper 3 with the record's line and the wrapper");
    const char *one = "Name a river.\n\nWhen answering, please ensure that the following constraints are also met.\nBe brief.";
    CHECK(crab_parse(&c, one, strlen(one), "f", 1, &err) < 0 &&
              !strcmp(err.msg, "cannot take the constraints apart: the constraint block is one unmarked line: one "
                               "constraint, or several joined by spaces (wrapper 2 or 11)"),
          "refuses one unmarked line after the wrapper 2/11 sentence, naming both wrappers");
    StrBuf why = SB_INIT;
    err_reason(err.msg, &why);
    CHECK(!strcmp(why.buf, "cannot take the constraints apart: the constraint block is one unmarked line: one "
                           "constraint, or several joined by spaces"),
          "--skip-bad counts it under the refusal's reason, without the wrapper");
    sb_release(&why);
    CHECK(crab_parse(&c, "just a question", 15, "f", 1, &err) < 0, "refuses a text with no constraint block");
    const char *both = "- a\n- b\nx\n\n- c\n- d";
    CHECK(crab_parse(&c, both, strlen(both), "f", 1, &err) < 0 && strstr(err.msg, "wrapper 1 or 9"),
          "refuses marked lines at both ends (wrapper 1 or 9)");

    /* records */
    cJSON *rec = cJSON_Parse("{\"id\":603,\"source\":\"alpaca\",\"messages\":[{\"role\":\"user\",\"content\":\"X\"},"
                             "{\"role\":\"assistant\",\"content\":\"Y\"}],\"Aug_instruction\":{\"Refined_Instruction\":\"\","
                             "\"Additional_Instruction\":{\"Digit\":\"Aim for 60 words.\",\" Hierarchical_Instructions\":"
                             "\" Describe it. \",\"Empty\":\"\"}},\"score\":9.0}");
    CHECK(crab_read(&c, rec, "f", 1, &err) == 0 && c.kind == CRAB_AUG && c.nCons == 2, "reads a shape A record, skipping \"\"");
    CHECK(c.nCons == 2 && !strcmp(c.types[1], "Hierarchical_Instructions") && span_eq(c.cons[1], "Describe it."),
          "trims the leading space of a type key and the constraint text");
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"id\":1,\"messages\":[{\"role\":\"user\",\"content\":\"X\"},{\"role\":\"assistant\",\"content\":\"Y\"}],"
                      "\"Aug_instruction\":{\"Additional_Instruction\":[1]}}");
    CHECK(crab_read(&c, rec, "f", 4, &err) < 0 &&
              !strcmp(err.msg, "field 'Aug_instruction.Additional_Instruction' must be an object"),
          "reports a mistyped Additional_Instruction");
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"id\":\"9_reverse\",\"messages\":[]}");
    CHECK(crab_read(&c, rec, "f", 1, &err) == 0 && c.kind == CRAB_REVERSE, "recognises a _reverse record");
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"instruction\":\"I\",\"constraints\":[\"a\",\"b\"],\"output\":\"O\"}");
    CHECK(crab_read(&c, rec, "f", 1, &err) == 0 && c.kind == CRAB_PLAIN && c.nCons == 2 && !c.types[0],
          "reads the plain form with a constraint array");
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"instruction\":\"I\",\"constraints\":\"a\",\"output\":\"O\"}");
    CHECK(crab_read(&c, rec, "f", 2, &err) < 0 && !strcmp(err.msg, "field 'constraints' must be an object or an array"),
          "reports constraints of the wrong type");
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"id\":\"5_forward\",\"messages\":[{\"role\":\"user\",\"content\":\"Do it.\\n\\n- a\\n- b\"},"
                      "{\"role\":\"assistant\",\"content\":\"Y\"}]}");
    CHECK(crab_read(&c, rec, "f", 1, &err) == 0 && c.kind == CRAB_WRAPPED && c.wrapper == 1 && c.nCons == 2,
          "takes a _forward record apart");
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"id\":\"5_forward\",\"messages\":[{\"role\":\"user\",\"content\":\"Do it. a b\"},"
                      "{\"role\":\"assistant\",\"content\":\"Y\"}]}");
    CHECK(crab_read(&c, rec, "f", 3, &err) < 0 && err.line == 3, "reports a _forward record it cannot take apart");
    cJSON_Delete(rec);
    rec = cJSON_Parse("{\"conversations\":[{\"from\":\"human\",\"value\":\"Q\"},{\"from\":\"gpt\",\"value\":\"A\"}]}");
    CHECK(crab_read(&c, rec, "f", 1, &err) == 0 && c.kind == CRAB_SFT, "passes ShareGPT through as sft");
    cJSON_Delete(rec);
    sb_release(&t);
    crab_release(&c);
    return TEST_REPORT();
}
