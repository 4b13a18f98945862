// SIGINT (and, while a file is written, SIGTERM and SIGHUP) as a polled flag: long jobs
// (conversion, generation) check it between steps and stop cleanly (remove partial files, print
// what they have) instead of dying mid-write.
#include "csimd.h"
#include "csimd_files.h"
#include <signal.h>

static volatile sig_atomic_t interrupted = 0;

static void on_signal(int sig) {
    if (interrupted) {
        // A second signal while we clean up: give up at once, as users (and init systems) expect.
        signal(sig, SIG_DFL);
        raise(sig);
    }
    interrupted = sig;
}

static int install(int sig) {
    struct sigaction sa;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    return sigaction(sig, &sa, 0) == 0 ? 0 : -1;
}

int32_t csimd_interrupt_install(void) { return install(SIGINT); }

int32_t csimd_interrupt_install_termination(void) {
    return install(SIGTERM) == 0 && install(SIGHUP) == 0 ? 0 : -1;
}

int32_t csimd_interrupt_requested(void) { return interrupted ? 1 : 0; }

int32_t csimd_interrupt_signal(void) { return (int32_t)interrupted; }

void csimd_interrupt_clear(void) { interrupted = 0; }
