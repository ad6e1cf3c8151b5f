#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for this project, idempotently:
#   - apt: libtorch-dev, OpenBLAS, a C/C++ compiler, libjpeg-turbo and libpng headers (and, with
#     --oracle, python3-torch and python3-torchvision, the test oracle), Node.js/npm when missing;
#   - with --bench, what the benchmarks compare against (implies --oracle): tcmalloc for the
#     Python reference's second column, scikit-learn for open-reid's own metrics;
#   - npm: the pinned Deno (node_modules/.bin/deno) and the npm packages (exact pins);
#   - the native shim (deno task build).
# Usage: bash scripts/setup.sh [--oracle] [--bench]
set -euo pipefail
cd "$(dirname "$0")/.."

oracle=0
bench=0
for arg in "$@"; do
  case "$arg" in
    --oracle) oracle=1 ;;
    --bench) oracle=1; bench=1 ;;
    *) echo "setup: unknown option '$arg' (expected --oracle or --bench)" >&2; exit 2 ;;
  esac
done

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
if [ -z "${LIBTORCH:-}" ]; then
  have_pkg libtorch-dev || need+=(libtorch-dev)
  # Debian's libtorch links libblas.so.3, which is the slow reference BLAS unless an optimized one
  # is installed: OpenBLAS (OpenMP build, like libtorch) makes matmuls ~14x faster here.
  have_pkg libopenblas0-openmp || need+=(libopenblas0-openmp)
  # Gloo's headers: libtorch's ProcessGroupGloo.hpp includes them (multi-process training).
  have_pkg libgloo-dev || need+=(libgloo-dev)
  # oneDNN's headers: the fused inference convolution (native/fused_conv.cpp) calls the same
  # shared libdnnl that Debian's libtorch uses (conv + residual sum + ReLU in one kernel).
  have_pkg libdnnl-dev || need+=(libdnnl-dev)
fi
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v cc >/dev/null 2>&1 || need+=(gcc)
# The image codec library (native/image/, build/libecn_image.so): libjpeg-turbo and libpng, as
# Pillow uses. libjpeg-dev is libjpeg62-turbo-dev on Debian and libjpeg-turbo8-dev on Ubuntu.
have_pkg libjpeg62-turbo-dev || have_pkg libjpeg-turbo8-dev || need+=(libjpeg-dev)
have_pkg libpng-dev || need+=(libpng-dev)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ "$oracle" = 1 ]; then
  have_pkg python3-torch || need+=(python3-torch)
  have_pkg python3-torchvision || need+=(python3-torchvision)
fi
if [ "$bench" = 1 ]; then
  have_pkg libtcmalloc-minimal4 || need+=(libtcmalloc-minimal4)
  have_pkg python3-sklearn || need+=(python3-sklearn)
fi
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages: ${need[*]}; run as root or: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi

if [ ! -x node_modules/.bin/deno ] || ! cmp -s package-lock.json node_modules/.package-lock.json.stamp 2>/dev/null; then
  # npm ci refuses lock files that omit other platforms' optional Deno binaries; install from the
  # exact pins in package.json and package-lock.json instead, without rewriting them.
  npm install --no-audit --no-fund --no-save --loglevel=error
  cp package-lock.json node_modules/.package-lock.json.stamp
fi
# npm's launcher (node_modules/deno/bin.cjs) exits 0 when Deno dies from a signal (it passes on
# spawnSync's null status): point node_modules/.bin/deno at the binary itself, so that a crash
# exits with 128+signal (tests/exit_status_test.ts checks it).
if [ -x node_modules/deno/deno ] && [ "$(readlink node_modules/.bin/deno)" != ../deno/deno ]; then
  ln -sfn ../deno/deno node_modules/.bin/deno
fi
node_modules/.bin/deno --version | head -n 1
node_modules/.bin/deno task build
