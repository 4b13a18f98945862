// Times llama.cpp's grammar sampler per generated token, through libllama's public API only
// (llama-cli/llama-server print no grammar timing: common_perf_print says "TODO: measure grammar
// performance", and llama_perf_sampler covers the sampler chain, not the grammar).
//
// Per step it measures, on the same logits and grammar state:
//   apply_us  - llama_sampler_apply(grammar, all n_vocab candidates): the full mask, what
//               common_sampler_sample pays with grammar_first or after a rejected token;
//   check_us  - llama_sampler_apply(grammar, 1 candidate): common_sampler_sample's fast path,
//               which first samples without the grammar and only checks that one token;
//   accept_us - llama_sampler_accept(grammar, token): advancing the grammar's stacks.
// WATCH_IDS=0,50277 in the environment records those ids' logits (then the unconstrained argmax's and
// the chosen token's) at every step, to explain where another engine's choice differs.
// Greedy mode (--seeds 0) chooses the argmax of the masked logits, which is what llama-cli
// --temp 0 --top-k 1 --grammar-file chooses, and prints the token ids and text. --seeds R adds R
// generations sampled at temperature 1 (seeds 1...R) under the grammar, like `dolly bench`.
//
// Build (tools/bench/grammar_llamacpp.py does this):
//   g++ -O2 -std=c++17 llamacpp_grammar_timing.cpp -I LLAMA/include -I LLAMA/ggml/include \
//       -L LLAMA/build-shared/bin -lllama -lggml -lggml-base -Wl,-rpath,LLAMA/build-shared/bin -o llamacpp_grammar_timing
// Run:
//   llamacpp_grammar_timing MODEL.gguf GRAMMAR.gbnf PROMPT_FILE N_PREDICT THREADS SEEDS > out.json
#include "llama.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static double now_us() {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static std::string read_file(const char * path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

static std::string json_escape(const std::string & s) {
    std::string o;
    for (unsigned char c : s) {
        switch (c) {
            case '"': o += "\\\""; break;
            case '\\': o += "\\\\"; break;
            case '\n': o += "\\n"; break;
            case '\r': o += "\\r"; break;
            case '\t': o += "\\t"; break;
            default:
                if (c < 0x20) { char b[8]; snprintf(b, sizeof b, "\\u%04x", c); o += b; } else { o += (char) c; }
        }
    }
    return o;
}

template <typename T> static std::string json_array(const std::vector<T> & v) {
    std::string o = "[";
    for (size_t i = 0; i < v.size(); i++) {
        if (i) o += ",";
        std::ostringstream ss;
        ss.precision(9);
        ss << v[i];
        o += ss.str();
    }
    return o + "]";
}

struct Run {
    std::vector<int> tokens;
    std::vector<double> apply_us, check_us, accept_us, argmax_us;
    std::vector<int> rejected_at;  // per step: 1 when the unconstrained argmax broke the grammar
    std::vector<std::vector<float>> watch;  // per step: the logits of the ids in WATCH_IDS (a diagnostic)
    int rejected = 0;  // steps where the unconstrained choice broke the grammar (common resamples)
    std::string text, stop;
};

// One generation under the grammar: greedy when seed == 0, else temperature 1 with that seed.
static std::vector<int> watch_ids;

static Run generate(llama_model * model, llama_context_params cparams, const std::string & gbnf,
                    const std::vector<llama_token> & prompt, int n_predict, uint32_t seed) {
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    llama_context * ctx = llama_init_from_model(model, cparams);
    llama_sampler * grammar = llama_sampler_init_grammar(vocab, gbnf.c_str(), "root");
    if (!grammar) { fprintf(stderr, "grammar failed to parse\n"); exit(2); }
    llama_sampler * dist = seed ? llama_sampler_init_dist(seed) : nullptr;
    std::vector<llama_token> p(prompt);
    if (llama_decode(ctx, llama_batch_get_one(p.data(), (int32_t) p.size()))) { fprintf(stderr, "decode failed\n"); exit(3); }
    Run run;
    std::vector<llama_token_data> cand(n_vocab);
    run.stop = "length";
    for (int step = 0; step < n_predict; step++) {
        const float * logits = llama_get_logits_ith(ctx, -1);
        // Unconstrained argmax (what the chain picks under --temp 0 --top-k 1) and the fast-path check.
        double t0 = now_us();
        int best = 0;
        for (int i = 1; i < n_vocab; i++) if (logits[i] > logits[best]) best = i;
        double t1 = now_us();
        llama_token_data one = { best, 1.0f, 0.0f };
        llama_token_data_array one_arr = { &one, 1, -1, false };
        double t2 = now_us();
        llama_sampler_apply(grammar, &one_arr);
        double t3 = now_us();
        // The full mask.
        for (int i = 0; i < n_vocab; i++) cand[i] = { i, logits[i], 0.0f };
        llama_token_data_array arr = { cand.data(), (size_t) n_vocab, -1, false };
        double t4 = now_us();
        llama_sampler_apply(grammar, &arr);
        double t5 = now_us();
        run.argmax_us.push_back(t1 - t0);
        std::vector<float> w;
        for (int id : watch_ids) w.push_back(logits[id]);
        w.push_back(logits[best]);
        run.watch.push_back(w);
        run.check_us.push_back(t3 - t2);
        run.apply_us.push_back(t5 - t4);
        if (one.logit == -INFINITY) run.rejected++;
        run.rejected_at.push_back(one.logit == -INFINITY ? 1 : 0);
        llama_token tok;
        if (seed == 0) {
            int b = -1;
            for (int i = 0; i < n_vocab; i++) if (cand[i].logit != -INFINITY && (b < 0 || cand[i].logit > cand[b].logit)) b = i;
            if (b < 0) { run.stop = "no_allowed_token"; break; }
            tok = cand[b].id;
        } else {
            llama_sampler_apply(dist, &arr);
            tok = arr.data[arr.selected].id;
        }
        run.watch.back().push_back(logits[tok]);
        if (llama_vocab_is_eog(vocab, tok)) { run.stop = "eog"; run.tokens.push_back(tok); break; }
        double t6 = now_us();
        llama_sampler_accept(grammar, tok);
        double t7 = now_us();
        run.accept_us.push_back(t7 - t6);
        run.tokens.push_back(tok);
        char buf[256];
        int n = llama_token_to_piece(vocab, tok, buf, sizeof buf, 0, false);
        if (n > 0) run.text.append(buf, n);
        if (llama_decode(ctx, llama_batch_get_one(&tok, 1))) { run.stop = "decode_failed"; break; }
    }
    if (dist) llama_sampler_free(dist);
    llama_sampler_free(grammar);
    llama_free(ctx);
    return run;
}

static std::string watch_json(const std::vector<std::vector<float>> & w) {
    std::string o = "[";
    for (size_t i = 0; i < w.size(); i++) o += (i ? "," : "") + json_array(w[i]);
    return o + "]";
}

static std::string run_json(const Run & r) {
    return "{\"tokens\":" + json_array(r.tokens) + ",\"text\":\"" + json_escape(r.text) + "\",\"stop\":\"" + r.stop +
           "\",\"rejected\":" + std::to_string(r.rejected) + ",\"rejected_at\":" + json_array(r.rejected_at) + ",\"apply_us\":" + json_array(r.apply_us) +
           ",\"check_us\":" + json_array(r.check_us) + ",\"accept_us\":" + json_array(r.accept_us) +
           ",\"argmax_us\":" + json_array(r.argmax_us) + ",\"watch\":" + watch_json(r.watch) + "}";
}

int main(int argc, char ** argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s MODEL.gguf GRAMMAR.gbnf PROMPT_FILE N_PREDICT THREADS SEEDS\n", argv[0]);
        return 1;
    }
    const std::string gbnf = read_file(argv[2]), prompt_text = read_file(argv[3]);
    const int n_predict = atoi(argv[4]), threads = atoi(argv[5]), seeds = atoi(argv[6]);
    if (const char * w = getenv("WATCH_IDS")) {  // e.g. WATCH_IDS=0,50277: their logits at every step, then the argmax's
        for (std::string s(w); !s.empty();) {
            size_t c = s.find(',');
            watch_ids.push_back(atoi(s.substr(0, c).c_str()));
            s = c == std::string::npos ? "" : s.substr(c + 1);
        }
    }
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    llama_backend_init();
    llama_model * model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = 256;
    cparams.n_batch = 256;
    cparams.n_threads = threads;
    cparams.n_threads_batch = threads;
    // The prompt as llama-cli tokenizes it: no BOS added by us, special tokens parsed.
    std::vector<llama_token> prompt(prompt_text.size() + 8);
    int n = llama_tokenize(vocab, prompt_text.c_str(), (int32_t) prompt_text.size(), prompt.data(), (int32_t) prompt.size(),
                           /*add_special*/ true, /*parse_special*/ true);
    if (n < 0) { fprintf(stderr, "tokenize failed\n"); return 1; }
    prompt.resize(n);
    std::vector<int> eog;
    for (int i = 0; i < llama_vocab_n_tokens(vocab); i++) if (llama_vocab_is_eog(vocab, i)) eog.push_back(i);
    std::string out = "{\"prompt_tokens\":" + json_array(std::vector<int>(prompt.begin(), prompt.end())) +
                      ",\"eog\":" + json_array(eog) + ",\"greedy\":" +
                      run_json(generate(model, cparams, gbnf, prompt, n_predict, 0)) + ",\"sampled\":[";
    for (int s = 1; s <= seeds; s++) {
        if (s > 1) out += ",";
        out += run_json(generate(model, cparams, gbnf, prompt, n_predict, (uint32_t) s));
    }
    out += "]}\n";
    fputs(out.c_str(), stdout);
    llama_model_free(model);
    return 0;
}
