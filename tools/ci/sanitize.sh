#!/usr/bin/env bash
# Runs the test suite under the sanitizers; any report fails the run.
#   tools/ci/sanitize.sh [address|undefined|thread|all]      (default: all)
#
# address    ASan over the Swift and C code: kernels, ops, readers, format, reference model, tokenizer,
#            generation at other thread counts on other threads, and `dolly serve` under OMP_NUM_THREADS=8.
# undefined  UBSan over all C code (CSIMD: kernels, ops, attention, conversion) through the whole
#            XCTest suite, plus the kernel self-test built with gcc under ASan+UBSan natively and under
#            UBSan for aarch64 (qemu-user). Swift itself has no UBSan on Linux (swiftc refuses
#            -sanitize=undefined): its overflow, bounds and nil checks trap in every build instead.
# thread     TSan over concurrent generation sessions sharing one model (EmbeddingAPITests).
#
# Separate scratch paths (.build-asan, .build-ubsan, .build-tsan) keep the normal build intact.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || echo "$here/../..")"  # the repository root
what="${1:-all}"
ubsan_rt=$(ls "$(dirname "$(readlink -f "$(command -v swift)")")"/../lib/clang/*/lib/linux/libclang_rt.ubsan_standalone-x86_64.a | head -1)

run_address() {
    echo "== AddressSanitizer"
    # LeakSanitizer only reports XCTest's own harness objects. OpenMP's default is set apart from every
    # thread count the tests use: no buffer may be sized from it.
    OMP_NUM_THREADS=8 ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 swift test --disable-swift-testing --scratch-path .build-asan \
        --sanitize=address \
        --filter "KernelTests|InterleavedKernelTests|OpsTests|FormatTests|ReferenceModelTests|HeadShapeTests|TokenizerTests|Checkpoint|PromptFidelityTests|StopTextTests|ThreadOwnershipTests|testServeHonoursThreads"
}

run_undefined() {
    echo "== UndefinedBehaviorSanitizer (C code, whole suite)"
    local flags=(-Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=all -Xlinker "$ubsan_rt")
    swift build --build-tests --scratch-path .build-ubsan "${flags[@]}"
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 swift test --disable-swift-testing --skip-build \
        --scratch-path .build-ubsan "${flags[@]}"
    echo "== kernel self-test under ASan+UBSan"
    SANITIZE=address,undefined tools/ci/csimd-selftest/run.sh
}

run_thread() {
    echo "== ThreadSanitizer"
    # libomp keeps its worker threads alive at exit, TSan's only (leak) report.
    TSAN_OPTIONS=report_thread_leaks=0:halt_on_error=1 swift test --disable-swift-testing --scratch-path .build-tsan \
        --sanitize=thread --filter EmbeddingAPITests
}

case "$what" in
    address) run_address ;;
    undefined) run_undefined ;;
    thread) run_thread ;;
    all) run_address; run_undefined; run_thread ;;
    *) echo "usage: tools/ci/sanitize.sh [address|undefined|thread|all]" >&2; exit 2 ;;
esac
echo "sanitizers clean: $what"
