// O_TMPFILE and linkat, which Swift's Glibc module cannot see without _GNU_SOURCE.
#define _GNU_SOURCE
#include "csimd_files.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int32_t csimd_tmpfile_open(const char *dir) {
#ifdef O_TMPFILE
    return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
#else
    (void)dir;
    errno = EOPNOTSUPP;
    return -1;
#endif
}

int32_t csimd_tmpfile_link(int32_t fd, const char *path) {
#ifdef AT_EMPTY_PATH
    // Needs CAP_DAC_READ_SEARCH; the /proc route below works for everyone else.
    if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0) return 0;
    if (errno == EEXIST) return -1;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", (int)fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 ? 0 : -1;
#else
    (void)fd; (void)path;
    errno = EOPNOTSUPP;
    return -1;
#endif
}
