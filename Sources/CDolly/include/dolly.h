/*
 * dolly.h: the C API of dolly (Databricks' Dolly v2, a GPT-NeoX model, on CPUs).
 *
 * C99. Every name starts with dolly_ / DOLLY_. Handles are opaque; no Swift type crosses the
 * boundary. The library is built by SwiftPM as the products DollyC (libDollyC.so) and
 * DollyCStatic (libDollyCStatic.a); README "Embedding from C and Python" gives the link lines.
 *
 * ERRORS
 *   Every function that can fail returns a dolly_status (DOLLY_OK is 0) and takes a last argument
 *   `dolly_error **error`. When that argument is not NULL and the call fails, *error receives a new
 *   error object (its code and a one-line message); the caller frees it with dolly_error_free. On
 *   success *error is not touched. Passing NULL means "status code only". No call aborts the
 *   process on bad input: a wrong path, a damaged file, a NULL where a pointer is required, a
 *   buffer too small, a token id out of range, a value out of range all return a status.
 *
 * THREADS
 *   - A dolly_model is immutable once loaded: any number of threads may use one model at once
 *     (tokenize, detokenize, info, creating sessions and grammars).
 *   - A dolly_session is used by one thread at a time. A second call on a session that is busy
 *     (from another thread, or from inside its own callback) returns DOLLY_ERR_BUSY instead of
 *     corrupting it. The one exception is dolly_session_cancel, which any thread may call at any
 *     time while the session exists.
 *   - A dolly_grammar is immutable: one grammar may constrain any number of sessions at once.
 *   - Sessions and grammars keep their model alive: dolly_model_free may come before them; the
 *     memory goes when the last of them is freed.
 *   - The library never installs a signal handler (Ctrl-C is the host program's business: call
 *     dolly_session_cancel from it, or return false from the generation callback).
 *   - Each session runs its forward passes on n_threads threads (OpenMP), whichever thread calls
 *     it; OMP_NUM_THREADS does not change that.
 */
#ifndef DOLLY_H
#define DOLLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes: dolly_abi_version() returns the library's. Bumped whenever a
 * struct below or a function's signature changes; a host should refuse a library whose ABI
 * version differs from the one it was compiled with. */
#define DOLLY_ABI_VERSION 1

/* ---------------------------------------------------------------- status codes and errors */

typedef enum dolly_status {
    DOLLY_OK = 0,
    DOLLY_ERR_INVALID_ARGUMENT = 1,   /* NULL where a pointer is required, a value out of range,
                                         text that is not UTF-8 */
    DOLLY_ERR_BUFFER_TOO_SMALL = 2,   /* the required length was stored; call again with more room */
    DOLLY_ERR_TOKEN_OUT_OF_RANGE = 3, /* a token id outside [0, n_vocab) */
    DOLLY_ERR_NOT_FOUND = 4,          /* a file or folder that does not exist */
    DOLLY_ERR_BAD_MODEL = 5,          /* a damaged, truncated or unsupported model, config,
                                         tokenizer or checkpoint, or one that cannot be read */
    DOLLY_ERR_CONTEXT = 6,            /* does not fit the context: prompt too long, context full,
                                         a context length the model cannot have */
    DOLLY_ERR_GRAMMAR = 7,            /* a GBNF grammar or JSON Schema that is wrong or unsupported */
    DOLLY_ERR_OUT_OF_MEMORY = 8,      /* the system refused memory for a cache or buffer */
    DOLLY_ERR_BUSY = 9,               /* the session is in use by another call */
    DOLLY_ERR_INVALID_STATE = 10,     /* e.g. dolly_generate before dolly_prompt, logits before any
                                         evaluation */
    DOLLY_ERR_INTERNAL = 99           /* a bug: please report it with the message */
} dolly_status;

typedef struct dolly_error dolly_error;

/* The error's status code; DOLLY_ERR_INVALID_ARGUMENT for a NULL error. */
dolly_status dolly_error_code(const dolly_error *error);

/* The error's message: one line of UTF-8, owned by the error (valid until dolly_error_free).
 * A static text for a NULL error. Never NULL. */
const char *dolly_error_message(const dolly_error *error);

/* Frees an error. NULL is allowed (does nothing). */
void dolly_error_free(dolly_error *error);

/* A static name for a status code ("DOLLY_ERR_BUSY"); "DOLLY_ERR_UNKNOWN" for other values. */
const char *dolly_status_name(dolly_status status);

/* ---------------------------------------------------------------- version */

/* The library's version, e.g. "0.1.0" (static text). */
const char *dolly_version(void);

/* The library's ABI version; compare with DOLLY_ABI_VERSION. */
int32_t dolly_abi_version(void);

/* ---------------------------------------------------------------- model */

typedef struct dolly_model dolly_model;

/* Element type of a session's KV cache. */
typedef enum dolly_kv_type {
    DOLLY_KV_F16 = 0,  /* default */
    DOLLY_KV_F32 = 1,
    DOLLY_KV_Q8 = 2    /* int8 with a scale per head row: about half of f16's memory */
} dolly_kv_type;

/* How a model is loaded, and the defaults of the sessions made from it. Get one from
 * dolly_model_default_params() and change the fields you need. */
typedef struct dolly_model_params {
    int32_t n_threads;   /* threads per forward pass; 0: the physical cores this process may use */
    int32_t n_context;   /* tokens a session holds; 0: min(2048, the model's maximum) */
    int32_t kv_type;     /* a dolly_kv_type */
    bool read_into_memory; /* copy a .dolly file into memory instead of mapping it (survives the
                              file changing on disk; costs the file's size in RSS) */
} dolly_model_params;

dolly_model_params dolly_model_default_params(void);

/* Loads a .dolly file or a Hugging Face folder (config.json, tokenizer.json, weights).
 * path: UTF-8, required. params: NULL for the defaults. *out_model receives the model, to be freed
 * with dolly_model_free. Errors: INVALID_ARGUMENT (NULL path or out_model, a parameter out of
 * range), NOT_FOUND, BAD_MODEL, OUT_OF_MEMORY. Takes seconds for a large model (mapping, checks). */
dolly_status dolly_model_load(const char *path, const dolly_model_params *params, dolly_model **out_model,
                              dolly_error **error);

/* Releases the caller's reference to a model. NULL is allowed. */
void dolly_model_free(dolly_model *model);

typedef struct dolly_model_info {
    int32_t n_vocab;            /* rows of the output layer: token ids are in [0, n_vocab) */
    int32_t n_context_max;      /* the model's max_position_embeddings */
    int32_t n_context;          /* the default context of a session (dolly_model_params.n_context) */
    int32_t n_threads;          /* the default thread count of a session */
    int32_t n_embd;             /* hidden size */
    int32_t n_layer;
    int32_t n_head;
    int64_t n_params;           /* parameters */
    int64_t weight_bytes;       /* bytes of the weights as stored (quantized or not) */
    int32_t eos_token;          /* <|endoftext|> */
    int32_t end_token;          /* "### End" (ends every Dolly answer), or -1 */
} dolly_model_info;

/* Fills *out_info. Errors: INVALID_ARGUMENT (NULL model or out_info). */
dolly_status dolly_model_get_info(const dolly_model *model, dolly_model_info *out_info, dolly_error **error);

/* ---------------------------------------------------------------- tokenizer */

/* Token ids for text (text_length bytes of UTF-8; no BOS/EOS is added). Writes at most capacity
 * ids to tokens (which may be NULL when capacity is 0) and the number of ids the text makes to
 * *out_count. When capacity is too small: DOLLY_ERR_BUFFER_TOO_SMALL, *out_count holds the
 * length needed, and the call can be repeated with that much room.
 * Errors: INVALID_ARGUMENT (NULL model or out_count, NULL text with a nonzero length, NULL
 * tokens with a nonzero capacity, text not UTF-8), BUFFER_TOO_SMALL. */
dolly_status dolly_tokenize(const dolly_model *model, const char *text, size_t text_length, int32_t *tokens,
                            size_t capacity, size_t *out_count, dolly_error **error);

/* The text of count token ids (as Hugging Face tokenizers decodes them: a character cut between
 * tokens becomes U+FFFD). Writes the UTF-8 bytes and a terminating NUL to buffer (capacity bytes,
 * NUL included), and the length without the NUL to *out_length. When capacity is too small:
 * DOLLY_ERR_BUFFER_TOO_SMALL and *out_length holds the length (so length + 1 bytes are needed).
 * Errors: INVALID_ARGUMENT (NULL model or out_length, NULL tokens with a nonzero count, NULL
 * buffer with a nonzero capacity), TOKEN_OUT_OF_RANGE, BUFFER_TOO_SMALL. */
dolly_status dolly_detokenize(const dolly_model *model, const int32_t *tokens, size_t count, char *buffer,
                              size_t capacity, size_t *out_length, dolly_error **error);

/* ---------------------------------------------------------------- grammar constraint */

typedef struct dolly_grammar dolly_grammar;

/* A constraint from a GBNF grammar (llama.cpp's syntax, rule "root"), bound to model's vocabulary.
 * Errors: INVALID_ARGUMENT (NULL model, gbnf or out_grammar, text not UTF-8), GRAMMAR. */
dolly_status dolly_grammar_from_gbnf(const dolly_model *model, const char *gbnf, dolly_grammar **out_grammar,
                                     dolly_error **error);

/* A constraint from a JSON Schema (the subset README "Structured output" lists), or, with a NULL
 * schema, any JSON object. Errors: INVALID_ARGUMENT, GRAMMAR. */
dolly_status dolly_grammar_from_json_schema(const dolly_model *model, const char *schema,
                                            dolly_grammar **out_grammar, dolly_error **error);

/* Frees a grammar (sessions generating with it keep it alive until they finish). NULL allowed. */
void dolly_grammar_free(dolly_grammar *grammar);

/* ---------------------------------------------------------------- session */

typedef struct dolly_session dolly_session;

/* A session: one sequence with its own KV cache and scratch (allocated here, once).
 * params: NULL for the model's defaults (those given to dolly_model_load); otherwise its
 * n_threads and n_context are used, 0 meaning the model's default, and its kv_type as given (the
 * read_into_memory field is ignored). Errors: INVALID_ARGUMENT, CONTEXT (a context the model
 * cannot have), OUT_OF_MEMORY. */
dolly_status dolly_session_create(const dolly_model *model, const dolly_model_params *params,
                                  dolly_session **out_session, dolly_error **error);

/* Frees a session. It must not be running a call (free it after dolly_generate returns). NULL allowed. */
void dolly_session_free(dolly_session *session);

/* Forgets every token the session's KV cache holds. Errors: INVALID_ARGUMENT, BUSY. */
dolly_status dolly_session_reset(dolly_session *session, dolly_error **error);

/* Tokens the session's KV cache holds now, to *out_position. Errors: INVALID_ARGUMENT, BUSY. */
dolly_status dolly_session_get_position(dolly_session *session, int32_t *out_position, dolly_error **error);

/* Asks the generation running on session to stop after its current token (it then returns
 * DOLLY_OK with stop_reason DOLLY_STOP_CANCELLED). Callable from any thread, including a signal
 * handler's thread but not a signal handler itself. The request is cleared when a generation
 * ends and by dolly_prompt: a cancel between dolly_prompt and dolly_generate makes that
 * generation return at once. */
void dolly_session_cancel(dolly_session *session);

/* Sets what the next dolly_generate answers.
 * Without DOLLY_PROMPT_RAW: instruction is wrapped in Dolly's template; context (may be NULL) is
 * given as the model card does ("{instruction}\n\nInput:\n{context}"), and the answer is stripped
 * of surrounding whitespace like Dolly's pipeline. With DOLLY_PROMPT_RAW: instruction is a plain
 * prompt continued as is, and context must be NULL. *out_prompt_tokens (may be NULL) receives the
 * prompt's length in tokens. Errors: INVALID_ARGUMENT (NULL session or instruction, a context
 * with RAW, text not UTF-8, an empty raw prompt), CONTEXT (the prompt does not fit), BUSY. */
#define DOLLY_PROMPT_RAW 1u
dolly_status dolly_prompt(dolly_session *session, const char *instruction, const char *context, uint32_t flags,
                          int32_t *out_prompt_tokens, dolly_error **error);

/* How the next token is chosen, transformers' GenerationConfig semantics. Get one from
 * dolly_sampling_default_params() (Dolly's pipeline: top_p 0.92, temperature 1). */
typedef struct dolly_sampling_params {
    int32_t max_tokens;          /* most tokens to generate, >= 1 (default 256) */
    bool greedy;                 /* always take the most likely token */
    float temperature;           /* >= 0; 0 is greedy */
    float top_p;                 /* (0, 1] */
    int32_t top_k;               /* >= 0; 0 disables */
    float min_p;                 /* [0, 1]; 0 disables */
    float repetition_penalty;    /* > 0; 1 disables */
    int32_t no_repeat_ngram_size;/* >= 0; 0 disables */
    float frequency_penalty;     /* [-2, 2] (OpenAI's) */
    float presence_penalty;      /* [-2, 2] (OpenAI's) */
    bool has_seed;               /* false: a random seed */
    uint64_t seed;
    const char *const *stop_texts; /* n_stop_texts non-empty UTF-8 texts: the answer ends where it
                                      would contain one (neither it nor what follows is returned) */
    size_t n_stop_texts;
    const dolly_grammar *grammar;  /* NULL, or only text in this grammar (then a stop token only
                                      where it is complete) */
} dolly_sampling_params;

dolly_sampling_params dolly_sampling_default_params(void);

typedef enum dolly_stop_reason {
    DOLLY_STOP_TOKEN = 0,        /* the model ended its answer (### End or <|endoftext|>) */
    DOLLY_STOP_TEXT = 1,         /* a stop text was reached */
    DOLLY_STOP_MAX_TOKENS = 2,
    DOLLY_STOP_CONTEXT_FULL = 3,
    DOLLY_STOP_CANCELLED = 4,    /* the callback returned false, or dolly_session_cancel */
    DOLLY_STOP_NO_ALLOWED_TOKEN = 5 /* the grammar allowed no token */
} dolly_stop_reason;

typedef struct dolly_generate_result {
    int32_t stop_reason;         /* a dolly_stop_reason */
    int32_t n_prompt_tokens;
    int32_t n_generated_tokens;  /* without the stop token */
    double prompt_seconds;
    double generation_seconds;
} dolly_generate_result;

/* Receives the answer piece by piece: text is length bytes of complete UTF-8 (never a character cut
 * in two, never part of a stop text), NUL-terminated, valid only during the call. Return true to go
 * on, false to stop (the generation then ends with DOLLY_STOP_CANCELLED). It runs on the thread
 * that called dolly_generate; it must not call the session (other than dolly_session_cancel). */
typedef bool (*dolly_text_callback)(const char *text, size_t length, void *user_data);

/* Answers the prompt set by dolly_prompt on session (whose KV cache is reset first: Dolly keeps
 * no history), streaming the text to callback (may be NULL: the text is then dropped, e.g. for
 * timing). sampling: NULL for the defaults. *out_result (may be NULL) receives why it ended and
 * counts. Blocks until the generation ends. Errors: INVALID_ARGUMENT (NULL session, a sampling value
 * out of range, an empty or non-UTF-8 stop text), INVALID_STATE (no prompt set), CONTEXT, BUSY. */
dolly_status dolly_generate(dolly_session *session, const dolly_sampling_params *sampling,
                            dolly_text_callback callback, void *user_data, dolly_generate_result *out_result,
                            dolly_error **error);

/* ---------------------------------------------------------------- logits (for evaluators) */

/* Runs count tokens through the model after those the session holds (appending them to its KV
 * cache), keeping the logits of the last one. Errors: INVALID_ARGUMENT (NULL session, NULL tokens
 * or count 0), TOKEN_OUT_OF_RANGE, CONTEXT (the session would overflow), BUSY. */
dolly_status dolly_eval(dolly_session *session, const int32_t *tokens, size_t count, dolly_error **error);

/* Copies the n_vocab logits of the last position dolly_eval ran (the scores of the next token,
 * before any sampling) to logits (capacity floats). *out_count (may be NULL) receives n_vocab.
 * Errors: INVALID_ARGUMENT, BUFFER_TOO_SMALL (capacity < n_vocab; *out_count is set),
 * INVALID_STATE (no dolly_eval since the session was created, reset or generated), BUSY. */
dolly_status dolly_get_logits(dolly_session *session, float *logits, size_t capacity, size_t *out_count,
                              dolly_error **error);

#ifdef __cplusplus
}
#endif

#endif /* DOLLY_H */
