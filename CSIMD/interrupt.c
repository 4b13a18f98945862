// SIGINT as a polled flag: long jobs (conversion, generation) check it between steps and stop
// cleanly (remove partial files, print what they have) instead of dying mid-write.
#include "csimd.h"
#include <signal.h>

static volatile sig_atomic_t interrupted = 0;

static void on_sigint(int sig) {
    (void)sig;
    if (interrupted) {
        // A second Ctrl-C while we clean up: give up at once, as users expect.
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
    }
    interrupted = 1;
}

int32_t csimd_interrupt_install(void) {
    struct sigaction sa;
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    return sigaction(SIGINT, &sa, 0) == 0 ? 0 : -1;
}

int32_t csimd_interrupt_requested(void) { return interrupted ? 1 : 0; }

void csimd_interrupt_clear(void) { interrupted = 0; }
