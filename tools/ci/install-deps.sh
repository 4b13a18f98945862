#!/usr/bin/env bash
# Installs the one system package the build needs (OpenMP from Debian's libomp-dev), if missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/omp-paths.sh"
if [ -f "$OMP_LIB/libomp.so" ] && [ -f "$OMP_INCLUDE/omp.h" ]; then
  exit 0
fi
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libomp-dev >/dev/null
echo "installed libomp-dev" >&2
