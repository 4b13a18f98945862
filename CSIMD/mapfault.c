// SIGBUS on a mapped file: the kernel raises it when a page of the mapping no longer has file
// behind it (the file was truncated, e.g. by `cp new.dolly model.dolly`). The faulting kernel may
// be deep in an OpenMP region, so there is no safe way back into the program: name the file, exit.
#include "csimd_files.h"
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 64
#define PATH_BYTES 512

typedef struct {
    _Atomic(uintptr_t) base;   // 0: free
    size_t length;
    char path[PATH_BYTES];
} slot_t;

static slot_t slots[SLOTS];
static struct sigaction previous;
static atomic_int installed = 0;

static void say(const char *s) {
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

static void on_sigbus(int sig, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t at = (uintptr_t)info->si_addr;
    for (int i = 0; i < SLOTS; i++) {
        uintptr_t base = atomic_load(&slots[i].base);
        if (base != 0 && at >= base && at - base < slots[i].length) {
            say("dolly: error: ");
            say(slots[i].path);
            say(" changed on disk while in use (truncated or overwritten in place); stopping. "
                "Replace a model file by renaming a new file into place.\n");
            _exit(1);
        }
    }
    // Not ours: hand the fault back to whoever handled it before (a crash reporter, or the default).
    sigaction(sig, &previous, 0);
}

int32_t csimd_mapfault_install(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&installed, &expected, 1)) return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGBUS, &sa, &previous) == 0 ? 0 : -1;
}

int32_t csimd_mapfault_register(const void *base, size_t length, const char *path) {
    for (int i = 0; i < SLOTS; i++) {
        uintptr_t expected = 0;
        // Claim the slot with a placeholder, fill it, then publish the real base.
        if (atomic_compare_exchange_strong(&slots[i].base, &expected, (uintptr_t)1)) {
            slots[i].length = 0;
            strncpy(slots[i].path, path, PATH_BYTES - 1);
            slots[i].path[PATH_BYTES - 1] = 0;
            slots[i].length = length;
            atomic_store(&slots[i].base, (uintptr_t)base);
            return i;
        }
    }
    return -1;
}

void csimd_mapfault_unregister(int32_t slot) {
    if (slot >= 0 && slot < SLOTS) atomic_store(&slots[slot].base, (uintptr_t)0);
}
