// CSIMD's file-safety helpers: the system calls Swift's Glibc module does not import (they need
// _GNU_SOURCE), and the signal handlers that keep a killed or faulting process from leaving
// damage behind. Not kernels: no OpenMP here.
#ifndef CSIMD_FILES_H
#define CSIMD_FILES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- Unnamed output files (Linux O_TMPFILE) ----

/// Opens an unnamed regular file in directory `dir` for writing (O_TMPFILE), mode 0644 before the
/// umask. Returns the descriptor, or -1 with errno set (EOPNOTSUPP/EISDIR/EINVAL where the system
/// or filesystem has no O_TMPFILE: the caller falls back to a named temporary file).
int32_t csimd_tmpfile_open(const char *dir);

/// Gives the unnamed file `fd` the name `path`, which must not exist (linkat, EEXIST if it does).
/// Returns 0, or -1 with errno set.
int32_t csimd_tmpfile_link(int32_t fd, const char *path);

// ---- Termination signals while writing ----

/// Makes SIGTERM and SIGHUP set the same polled flag as SIGINT (csimd_interrupt_install), so a job
/// writing a file stops cleanly on any of them. A second signal of any kind ends the process at once.
int32_t csimd_interrupt_install_termination(void);

/// The signal that set the flag (SIGINT, SIGTERM or SIGHUP), 0 if none.
int32_t csimd_interrupt_signal(void);

// ---- Faults on mapped files ----

/// Installs a SIGBUS handler: a fault inside a registered mapping (a file truncated under us)
/// prints one line naming the file and ends the process with status 1; any other fault goes to
/// the handler that was there before.
int32_t csimd_mapfault_install(void);

/// Registers [base, base + length) as the mapping of `path`. Returns a slot for
/// csimd_mapfault_unregister, or -1 when the table is full (the mapping is then just not named).
int32_t csimd_mapfault_register(const void *base, size_t length, const char *path);
void csimd_mapfault_unregister(int32_t slot);

#ifdef __cplusplus
}
#endif

#endif
