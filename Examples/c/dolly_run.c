/* dolly_run: `dolly run` through the C API, as a host program would embed it.
 *
 *   dolly_run [--greedy] [--raw] [--input CONTEXT] [--max-tokens N] [--threads N] MODEL INSTRUCTION
 *
 * Streams the answer to stdout followed by a newline, like `dolly run` (CI compares the two byte
 * for byte); errors go to stderr with exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dolly.h"

static bool print_piece(const char *text, size_t length, void *user_data) {
    (void)user_data;
    fwrite(text, 1, length, stdout);
    fflush(stdout);  /* each piece shows up the moment it is generated */
    return true;
}

static int fail(const char *what, dolly_error *error) {
    fprintf(stderr, "dolly_run: %s: %s (%s)\n", what, dolly_error_message(error),
            dolly_status_name(dolly_error_code(error)));
    dolly_error_free(error);
    return 1;
}

int main(int argc, char **argv) {
    dolly_model_params model_params = dolly_model_default_params();
    dolly_sampling_params sampling = dolly_sampling_default_params();
    const char *context = NULL;
    uint32_t flags = 0;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--greedy") == 0) sampling.greedy = true;
        else if (strcmp(argv[i], "--raw") == 0) flags |= DOLLY_PROMPT_RAW;
        else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc) context = argv[++i];
        else if (strcmp(argv[i], "--max-tokens") == 0 && i + 1 < argc) sampling.max_tokens = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) model_params.n_threads = atoi(argv[++i]);
        else break;
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: dolly_run [--greedy] [--raw] [--input CONTEXT] [--max-tokens N] [--threads N] "
                        "MODEL INSTRUCTION\n");
        return 2;
    }
    if (dolly_abi_version() != DOLLY_ABI_VERSION) {
        fprintf(stderr, "dolly_run: libdolly has ABI %d, this program was built for %d\n", (int)dolly_abi_version(),
                DOLLY_ABI_VERSION);
        return 1;
    }

    dolly_error *error = NULL;
    dolly_model *model = NULL;
    dolly_session *session = NULL;
    if (dolly_model_load(argv[i], &model_params, &model, &error) != DOLLY_OK) return fail("load", error);
    if (dolly_session_create(model, NULL, &session, &error) != DOLLY_OK) {
        dolly_model_free(model);
        return fail("session", error);
    }
    int status = 0;
    dolly_generate_result result;
    if (dolly_prompt(session, argv[i + 1], context, flags, NULL, &error) != DOLLY_OK) {
        status = fail("prompt", error);
    } else if (dolly_generate(session, &sampling, print_piece, NULL, &result, &error) != DOLLY_OK) {
        status = fail("generate", error);
    } else {
        fputc('\n', stdout);
        if (result.stop_reason == DOLLY_STOP_CONTEXT_FULL) fprintf(stderr, "dolly_run: stopped: the context is full\n");
    }
    dolly_session_free(session);
    dolly_model_free(model);
    return status;
}
