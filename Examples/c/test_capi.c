/* The C API's test (run by tools/ci/capi.sh, natively and under the sanitizers / Valgrind):
 *
 *   test_capi errors MODEL SCRATCH_DIR   every documented error path returns its code, and the
 *                                        calls around them (tokenizer, grammar, logits, cancel,
 *                                        two threads with a session each on one model)
 *   test_capi cycles MODEL N             load -> session -> prompt -> generate -> free, N times
 *                                        (for the leak checkers)
 *
 * Exit status 0 when every check passed; each failure is one line on stderr. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dolly.h"

static int failures = 0;

#define CHECK(cond)                                                               \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "test_capi:%d: check failed: %s\n", __LINE__, #cond); \
            failures++;                                                           \
        }                                                                         \
    } while (0)

/* A call must fail with `expected` and say something: the error object carries the same code. */
#define EXPECT_STATUS(expected, call)                                                                   \
    do {                                                                                                \
        dolly_error *err_ = NULL;                                                                       \
        dolly_status got_ = (call);                                                                     \
        if (got_ != (expected) || (got_ != DOLLY_OK && (err_ == NULL || dolly_error_code(err_) != got_ || \
                                                        dolly_error_message(err_)[0] == '\0'))) {      \
            fprintf(stderr, "test_capi:%d: %s returned %s, expected %s (%s)\n", __LINE__, #call,        \
                    dolly_status_name(got_), dolly_status_name(expected),                               \
                    err_ ? dolly_error_message(err_) : "no error object");                              \
            failures++;                                                                                 \
        }                                                                                               \
        dolly_error_free(err_);                                                                         \
    } while (0)
#define E (&err_) /* the error out-argument inside EXPECT_STATUS */

/* A raw prompt the demo model continues until max_tokens ("4,4,4,..."). */
static const char *const counting = "1, 2, 3, 4,";
static const char *const quote = "Three hours a day will produce as much as a man ought to write.\n\t\t-- Trollope";

typedef struct collected {
    char text[4096];
    size_t length;
    int pieces;
    int stop_after;             /* return false at this piece (0: never) */
    dolly_session *session;     /* for the reentrancy and cancel checks */
    dolly_status reentrant;     /* what dolly_generate said from inside the callback */
    bool cancel_from_thread;
} collected;

static void *cancel_thread(void *session) {
    dolly_session_cancel((dolly_session *)session);
    return NULL;
}

static bool collect(const char *text, size_t length, void *user_data) {
    collected *c = user_data;
    if (c->length + length < sizeof c->text) {
        memcpy(c->text + c->length, text, length);
        c->length += length;
        c->text[c->length] = '\0';
    }
    c->pieces++;
    if (c->session && c->pieces == 1) {
        c->reentrant = dolly_generate(c->session, NULL, NULL, NULL, NULL, NULL);
        if (c->cancel_from_thread) {  /* another thread cancels; this generation must stop after this token */
            pthread_t thread;
            pthread_create(&thread, NULL, cancel_thread, c->session);
            pthread_join(thread, NULL);
        }
    }
    return c->stop_after == 0 || c->pieces < c->stop_after;
}

static void write_file(const char *path, const char *bytes, size_t length) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    fwrite(bytes, 1, length, f);
    fclose(f);
}

static void load_errors(const char *model_path, const char *scratch) {
    dolly_model *model = NULL;
    dolly_model_params p = dolly_model_default_params();
    char path[4096];
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_model_load(NULL, NULL, &model, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_model_load(model_path, NULL, NULL, E));
    snprintf(path, sizeof path, "%s/no-such-model.dolly", scratch);
    EXPECT_STATUS(DOLLY_ERR_NOT_FOUND, dolly_model_load(path, NULL, &model, E));
    /* A damaged .dolly file (the magic, then garbage) and a folder whose config is not JSON. */
    snprintf(path, sizeof path, "%s/damaged.dolly", scratch);
    write_file(path, "DOLLY\0\0\0garbage garbage garbage", 32);
    EXPECT_STATUS(DOLLY_ERR_BAD_MODEL, dolly_model_load(path, NULL, &model, E));
    snprintf(path, sizeof path, "%s/config.json", scratch);
    write_file(path, "{ not json", 10);
    EXPECT_STATUS(DOLLY_ERR_BAD_MODEL, dolly_model_load(scratch, NULL, &model, E));
    p.n_threads = -1;
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_model_load(model_path, &p, &model, E));
    p = dolly_model_default_params();
    p.kv_type = 7;
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_model_load(model_path, &p, &model, E));
    p = dolly_model_default_params();
    p.n_context = 1 << 30;
    EXPECT_STATUS(DOLLY_ERR_CONTEXT, dolly_model_load(model_path, &p, &model, E));
    CHECK(model == NULL);
    /* NULL error out-argument: the status alone. */
    CHECK(dolly_model_load(NULL, NULL, &model, NULL) == DOLLY_ERR_INVALID_ARGUMENT);
    CHECK(dolly_error_message(NULL)[0] != '\0');
    CHECK(dolly_error_code(NULL) == DOLLY_ERR_INVALID_ARGUMENT);
    dolly_error_free(NULL);
    dolly_model_free(NULL);
    dolly_session_free(NULL);
    dolly_grammar_free(NULL);
    dolly_session_cancel(NULL);
}

static void tokenizer_checks(dolly_model *model, const dolly_model_info *info) {
    int32_t tokens[512];
    size_t count = 0, length = 0;
    char text[1024];
    const char *hello = "Hello world";
    EXPECT_STATUS(DOLLY_OK, dolly_tokenize(model, hello, strlen(hello), tokens, 512, &count, E));
    CHECK(count == 2 && tokens[0] == 12092 && tokens[1] == 1533);  /* GPT-NeoX-20B's ids */
    EXPECT_STATUS(DOLLY_ERR_BUFFER_TOO_SMALL, dolly_tokenize(model, quote, strlen(quote), tokens, 3, &count, E));
    size_t needed = count;
    CHECK(needed > 3);
    EXPECT_STATUS(DOLLY_OK, dolly_tokenize(model, quote, strlen(quote), tokens, needed, &count, E));
    CHECK(count == needed);
    EXPECT_STATUS(DOLLY_ERR_BUFFER_TOO_SMALL, dolly_tokenize(model, quote, strlen(quote), NULL, 0, &count, E));
    CHECK(count == needed);
    EXPECT_STATUS(DOLLY_OK, dolly_tokenize(model, "", 0, NULL, 0, &count, E));
    CHECK(count == 0);
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_tokenize(model, "\xff\xfe", 2, tokens, 512, &count, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_tokenize(NULL, hello, 5, tokens, 512, &count, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_tokenize(model, NULL, 5, tokens, 512, &count, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_tokenize(model, hello, 5, tokens, 512, NULL, E));

    EXPECT_STATUS(DOLLY_OK, dolly_tokenize(model, quote, strlen(quote), tokens, 512, &count, E));
    EXPECT_STATUS(DOLLY_OK, dolly_detokenize(model, tokens, count, text, sizeof text, &length, E));
    CHECK(length == strlen(quote) && strcmp(text, quote) == 0);
    EXPECT_STATUS(DOLLY_ERR_BUFFER_TOO_SMALL, dolly_detokenize(model, tokens, count, text, 4, &length, E));
    CHECK(length == strlen(quote));
    EXPECT_STATUS(DOLLY_ERR_BUFFER_TOO_SMALL, dolly_detokenize(model, tokens, count, text, length, &length, E));
    int32_t bad[2] = {tokens[0], -1};
    EXPECT_STATUS(DOLLY_ERR_TOKEN_OUT_OF_RANGE, dolly_detokenize(model, bad, 2, text, sizeof text, &length, E));
    bad[1] = info->n_vocab;
    EXPECT_STATUS(DOLLY_ERR_TOKEN_OUT_OF_RANGE, dolly_detokenize(model, bad, 2, text, sizeof text, &length, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_detokenize(model, NULL, 2, text, sizeof text, &length, E));
}

static void session_errors(dolly_model *model, const dolly_model_info *info) {
    dolly_session *session = NULL;
    dolly_model_params p = dolly_model_default_params();
    p.n_context = info->n_context_max + 1;
    EXPECT_STATUS(DOLLY_ERR_CONTEXT, dolly_session_create(model, &p, &session, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_session_create(NULL, NULL, &session, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_session_create(model, NULL, NULL, E));
    /* A handle of the wrong kind is refused, not reinterpreted. */
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_session_create((const dolly_model *)session, NULL, &session, E));
    p = dolly_model_default_params();
    p.n_context = 64;
    p.n_threads = 1;
    EXPECT_STATUS(DOLLY_OK, dolly_session_create(model, &p, &session, E));
    if (!session) return;

    dolly_sampling_params s = dolly_sampling_default_params();
    EXPECT_STATUS(DOLLY_ERR_INVALID_STATE, dolly_generate(session, NULL, NULL, NULL, NULL, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_prompt(session, NULL, NULL, 0, NULL, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_prompt(session, "Hi", "context", DOLLY_PROMPT_RAW, NULL, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_prompt(session, "", NULL, DOLLY_PROMPT_RAW, NULL, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_prompt(session, "Hi", NULL, 0x80, NULL, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_prompt(session, "\xc3", NULL, 0, NULL, E));
    char longer[2048] = "";
    for (int i = 0; i < 40; i++) strcat(longer, "many words here ");
    EXPECT_STATUS(DOLLY_ERR_CONTEXT, dolly_prompt(session, longer, NULL, 0, NULL, E));
    int32_t n_prompt = 0;
    EXPECT_STATUS(DOLLY_OK, dolly_prompt(session, "Name a river.", NULL, 0, &n_prompt, E));
    CHECK(n_prompt > 10);
    s.top_p = 0;
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_generate(session, &s, NULL, NULL, NULL, E));
    s = dolly_sampling_default_params();
    s.max_tokens = 0;
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_generate(session, &s, NULL, NULL, NULL, E));
    s = dolly_sampling_default_params();
    s.n_stop_texts = 1;
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_generate(session, &s, NULL, NULL, NULL, E));
    const char *stops[] = {""};
    s.stop_texts = stops;
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_generate(session, &s, NULL, NULL, NULL, E));

    /* Logits: none before an evaluation; ids checked; the buffer's size checked. */
    float *logits = malloc(sizeof(float) * (size_t)info->n_vocab);
    size_t n_logits = 0;
    EXPECT_STATUS(DOLLY_ERR_INVALID_STATE, dolly_get_logits(session, logits, (size_t)info->n_vocab, &n_logits, E));
    int32_t ids[3] = {12092, 1533, info->n_vocab};
    EXPECT_STATUS(DOLLY_ERR_TOKEN_OUT_OF_RANGE, dolly_eval(session, ids, 3, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_eval(session, NULL, 3, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_eval(session, ids, 0, E));
    EXPECT_STATUS(DOLLY_OK, dolly_eval(session, ids, 2, E));
    int32_t position = 0;
    EXPECT_STATUS(DOLLY_OK, dolly_session_get_position(session, &position, E));
    CHECK(position == 2);
    EXPECT_STATUS(DOLLY_ERR_BUFFER_TOO_SMALL, dolly_get_logits(session, logits, 10, &n_logits, E));
    CHECK(n_logits == (size_t)info->n_vocab);
    EXPECT_STATUS(DOLLY_OK, dolly_get_logits(session, logits, (size_t)info->n_vocab, &n_logits, E));
    int best = 0;
    for (int i = 1; i < info->n_vocab; i++) if (logits[i] > logits[best]) best = i;
    /* The arg-max is the first token a greedy raw continuation of the same text starts with. */
    char best_text[256];
    size_t best_length = 0;
    int32_t best_id = best;
    EXPECT_STATUS(DOLLY_OK, dolly_detokenize(model, &best_id, 1, best_text, sizeof best_text, &best_length, E));
    collected c = {0};
    s = dolly_sampling_default_params();
    s.greedy = true;
    s.max_tokens = 4;
    EXPECT_STATUS(DOLLY_OK, dolly_prompt(session, "Hello world", NULL, DOLLY_PROMPT_RAW, NULL, E));
    EXPECT_STATUS(DOLLY_OK, dolly_generate(session, &s, collect, &c, NULL, E));
    CHECK(best_length > 0 && strncmp(c.text, best_text, best_length) == 0);
    int32_t filler[64] = {0};
    EXPECT_STATUS(DOLLY_OK, dolly_session_reset(session, E));
    EXPECT_STATUS(DOLLY_OK, dolly_eval(session, filler, 64, E));
    EXPECT_STATUS(DOLLY_ERR_CONTEXT, dolly_eval(session, filler, 1, E));
    free(logits);
    dolly_session_free(session);
}

static void generation_checks(dolly_model *model) {
    dolly_session *session = NULL;
    EXPECT_STATUS(DOLLY_OK, dolly_session_create(model, NULL, &session, E));
    if (!session) return;
    dolly_sampling_params s = dolly_sampling_default_params();
    s.greedy = true;
    dolly_generate_result r;

    /* The callback stops it; then the callback calls back in (BUSY); then another thread cancels. */
    collected stopper = {.stop_after = 2};
    EXPECT_STATUS(DOLLY_OK, dolly_prompt(session, counting, NULL, DOLLY_PROMPT_RAW, NULL, E));
    EXPECT_STATUS(DOLLY_OK, dolly_generate(session, &s, collect, &stopper, &r, E));
    /* (a piece held back, e.g. an incomplete character, may still come after the stop) */
    CHECK(r.stop_reason == DOLLY_STOP_CANCELLED && stopper.pieces >= 2 && stopper.pieces <= 3);
    collected reentrant = {.session = session, .cancel_from_thread = true};
    EXPECT_STATUS(DOLLY_OK, dolly_generate(session, &s, collect, &reentrant, &r, E));
    CHECK(reentrant.reentrant == DOLLY_ERR_BUSY);
    CHECK(r.stop_reason == DOLLY_STOP_CANCELLED && r.n_generated_tokens <= 2);
    /* A finished cancel is not kept for the next generation. */
    collected again = {0};
    s.max_tokens = 8;
    EXPECT_STATUS(DOLLY_OK, dolly_generate(session, &s, collect, &again, &r, E));
    CHECK(r.stop_reason == DOLLY_STOP_MAX_TOKENS && r.n_generated_tokens == 8);
    /* A cancel between prompt and generate: the generation returns at once. */
    EXPECT_STATUS(DOLLY_OK, dolly_prompt(session, counting, NULL, DOLLY_PROMPT_RAW, NULL, E));
    dolly_session_cancel(session);
    collected none = {0};
    EXPECT_STATUS(DOLLY_OK, dolly_generate(session, &s, collect, &none, &r, E));
    CHECK(r.stop_reason == DOLLY_STOP_CANCELLED && r.n_generated_tokens == 0 && none.pieces == 0);
    /* A stop text ends the answer before it. */
    EXPECT_STATUS(DOLLY_OK, dolly_prompt(session, "Once upon a time", NULL, DOLLY_PROMPT_RAW, NULL, E));
    const char *stops[] = {" "};
    s.stop_texts = stops;
    s.n_stop_texts = 1;
    collected stopped = {0};
    EXPECT_STATUS(DOLLY_OK, dolly_generate(session, &s, collect, &stopped, &r, E));
    CHECK(r.stop_reason == DOLLY_STOP_TEXT && strchr(stopped.text, ' ') == NULL);

    /* Grammars: errors, then JSON that matches the schema. */
    dolly_grammar *grammar = NULL;
    EXPECT_STATUS(DOLLY_ERR_GRAMMAR, dolly_grammar_from_gbnf(model, "root ::= missing", &grammar, E));
    EXPECT_STATUS(DOLLY_ERR_GRAMMAR, dolly_grammar_from_json_schema(model, "{\"type\": 12}", &grammar, E));
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_grammar_from_gbnf(model, NULL, &grammar, E));
    EXPECT_STATUS(DOLLY_OK, dolly_grammar_from_json_schema(
        model, "{\"type\":\"object\",\"properties\":{\"who\":{\"type\":\"string\"}},\"required\":[\"who\"]}", &grammar, E));
    s = dolly_sampling_default_params();
    s.greedy = true;
    s.max_tokens = 64;
    s.grammar = grammar;
    collected json = {0};
    EXPECT_STATUS(DOLLY_OK, dolly_prompt(session, "Who is quoted in this text?", quote, 0, NULL, E));
    EXPECT_STATUS(DOLLY_OK, dolly_generate(session, &s, collect, &json, &r, E));
    CHECK(json.text[0] == '{' && strstr(json.text, "\"who\"") != NULL);
    if (json.text[0] != '{') fprintf(stderr, "test_capi: JSON answer: %s\n", json.text);
    dolly_grammar_free(grammar);  /* before the session and model: each keeps what it needs alive */
    dolly_session_free(session);
}

/* Bytes malloc has handed out and not had back (glibc; 0 elsewhere, e.g. under the sanitizers'
 * allocators): a leak that stays reachable (a cache growing forever) shows up here, not in LeakSanitizer. */
static size_t heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}

/* One model, two threads, a session each, at once: both answers equal the one a lone session gives. */
typedef struct parallel_run {
    dolly_model *model;
    collected answer;
    dolly_status status;
} parallel_run;

static void *generate_alone(void *argument) {
    parallel_run *run = argument;
    dolly_session *session = NULL;
    dolly_model_params p = dolly_model_default_params();
    p.n_threads = 1;
    run->status = dolly_session_create(run->model, &p, &session, NULL);
    if (run->status != DOLLY_OK) return NULL;
    dolly_sampling_params s = dolly_sampling_default_params();
    s.greedy = true;
    run->status = dolly_prompt(session, "Who is quoted in this text?", quote, 0, NULL, NULL);
    if (run->status == DOLLY_OK) run->status = dolly_generate(session, &s, collect, &run->answer, NULL, NULL);
    dolly_session_free(session);
    return NULL;
}

static void parallel_sessions(dolly_model *model) {
    parallel_run alone = {.model = model}, runs[2] = {{.model = model}, {.model = model}};
    generate_alone(&alone);
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, generate_alone, &runs[i]);
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    CHECK(alone.status == DOLLY_OK && alone.answer.length > 0);
    for (int i = 0; i < 2; i++) CHECK(runs[i].status == DOLLY_OK && strcmp(runs[i].answer.text, alone.answer.text) == 0);
}

static int cycles(const char *model_path, int n) {
    size_t after_first = 0;
    for (int i = 0; i < n; i++) {
        if (i == 1) after_first = heap_in_use();  /* the first cycle fills the runtime's one-time caches */
        dolly_model *model = NULL;
        dolly_session *session = NULL;
        dolly_model_params p = dolly_model_default_params();
        p.n_threads = 2;
        EXPECT_STATUS(DOLLY_OK, dolly_model_load(model_path, &p, &model, E));
        EXPECT_STATUS(DOLLY_OK, dolly_session_create(model, NULL, &session, E));
        dolly_model_free(model);  /* the session keeps it */
        dolly_sampling_params s = dolly_sampling_default_params();
        s.max_tokens = 8;
        s.greedy = true;  /* (top-p sampling sorts the vocabulary: slow in a debug build, and not what leaks) */
        collected c = {0};
        EXPECT_STATUS(DOLLY_OK, dolly_prompt(session, "Who is quoted in this text?", quote, 0, NULL, E));
        EXPECT_STATUS(DOLLY_OK, dolly_generate(session, &s, collect, &c, NULL, E));
        /* An error object made and freed each cycle. */
        EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_prompt(session, "x", "context", DOLLY_PROMPT_RAW, NULL, E));
        dolly_session_free(session);
        if (failures) break;
    }
    size_t in_use = heap_in_use();
    if (n > 1 && after_first > 0) {
        long growth = (long)in_use - (long)after_first;
        printf("test_capi: %d cycles; heap in use after the first %zu bytes, at the end %zu (%+ld)\n", n, after_first,
               in_use, growth);
        CHECK(growth < 64 * 1024);  /* nothing that grows with the number of cycles */
    }
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "cycles") == 0) return cycles(argv[2], atoi(argv[3]));
    if (argc != 4 || strcmp(argv[1], "errors") != 0) {
        fprintf(stderr, "usage: test_capi errors MODEL SCRATCH_DIR | test_capi cycles MODEL N\n");
        return 2;
    }
    CHECK(dolly_abi_version() == DOLLY_ABI_VERSION);
    CHECK(strlen(dolly_version()) > 0);
    CHECK(strcmp(dolly_status_name(DOLLY_ERR_BUSY), "DOLLY_ERR_BUSY") == 0);
    CHECK(strcmp(dolly_status_name((dolly_status)12345), "DOLLY_ERR_UNKNOWN") == 0);
    load_errors(argv[2], argv[3]);
    dolly_model *model = NULL;
    EXPECT_STATUS(DOLLY_OK, dolly_model_load(argv[2], NULL, &model, E));
    if (!model) return 1;
    dolly_model_info info;
    EXPECT_STATUS(DOLLY_ERR_INVALID_ARGUMENT, dolly_model_get_info(model, NULL, E));
    EXPECT_STATUS(DOLLY_OK, dolly_model_get_info(model, &info, E));
    CHECK(info.n_vocab > 50000 && info.n_context_max >= info.n_context && info.n_params > 0 && info.end_token >= 0);
    tokenizer_checks(model, &info);
    session_errors(model, &info);
    generation_checks(model);
    parallel_sessions(model);
    dolly_model_free(model);
    if (failures == 0) printf("test_capi: all checks passed\n");
    return failures ? 1 : 0;
}
