#!/usr/bin/env bash
# The GPU build, compiled and linked on a CPU machine (nothing runs: there is no GPU here). Makes .venv-cuda
# (ignored by git) with the CUDA 13 build of torch 2.14.1 that lies on these machines' disk (about 5.5 GB once
# installed), configures build-cuda against that wheel's libtorch with the local CUDA toolkit (nvcc 13) and the
# wheel's NCCL headers (nvidia-nccl-cu13), and builds `prospect`, test_model and test_train (what
# scripts/gpu_check.sh builds there) with CUDA and NCCL enabled. Checks that the
# binary links libtorch_cuda and that the configure step found NCCL. Not part of CI (the venv alone is 5.5 GB
# and the build takes ~20 minutes on 2 cores); run by hand before a GPU session so that everything
# scripts/gpu_check.sh compiles there has compiled here first.
#   bash scripts/gpu/build_cuda_here.sh            # venv (once), configure, build, checks
# Environment: CUDA_HOME (default /usr/local/cuda), PROSPECT_CUDA_BUILD (default build-cuda), JOBS.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-cuda
BUILD=${PROSPECT_CUDA_BUILD:-build-cuda}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
JOBS=${JOBS:-$(nproc)}
SECONDS=0
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
  echo "build_cuda_here: making $VENV with torch==2.14.1 (CUDA)"
  python3.11 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input torch==2.14.1
fi
read -r TORCH_VERSION TORCH_CUDA < <("$VENV/bin/python" -c 'import torch; print(torch.__version__, torch.version.cuda)')
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# The CUDA 13 libraries and headers of the wheel's dependencies (libnvrtc, cublas, cusparse, ...): torch's
# CMake config asks for nvrtc, ATen's CUDA headers include cusparse.h and cublas_v2.h (the local toolkit has
# the compiler and runtime only), and the linker must see what libtorch_cuda needs.
CU_LIB=$SITE/nvidia/cu13/lib
echo "build_cuda_here: torch $TORCH_VERSION (CUDA $TORCH_CUDA), nvcc $("$CUDA_HOME/bin/nvcc" --version | grep -o 'release [0-9.]*')"
mkdir -p "$BUILD"
LOG=$BUILD/prospect-configure.log
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S . -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DTorch_DIR="$SITE/torch/share/cmake/Torch" -DCUDAToolkit_ROOT="$CUDA_HOME" -DCUDA_TOOLKIT_ROOT_DIR="$CUDA_HOME" \
  -DCMAKE_CUDA_COMPILER="$CUDA_HOME/bin/nvcc" -DCUDA_nvrtc_LIBRARY="$CU_LIB/libnvrtc.so.13" \
  -DCMAKE_CXX_FLAGS="-isystem $SITE/nvidia/cu13/include -isystem $SITE/nvidia/cudnn/include" \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$CU_LIB -Wl,-rpath-link,$SITE/nvidia/cudnn/lib -Wl,-rpath-link,$SITE/nvidia/nccl/lib -Wl,-rpath-link,$SITE/nvidia/cusparselt/lib -Wl,-rpath-link,$SITE/nvidia/nvshmem/lib" 2>&1 | tee "$LOG" | grep -E '^-- prospect:|Error|error' || true
grep -q "distributed backend nccl" "$LOG" || { echo "build_cuda_here: FAILED: NCCL not found at configure"; exit 1; }
configure_s=$SECONDS
# What scripts/gpu_check.sh builds on the GPU machine: the program and the CUDA-tested suites.
cmake --build "$BUILD" -j"$JOBS" --target prospect test_model test_train test_bench
ldd "$BUILD/prospect" | grep -q 'libtorch_cuda' || { echo "build_cuda_here: FAILED: prospect does not link libtorch_cuda"; exit 1; }
grep -q 'PROSPECT_HAVE_CUDA=1' "$BUILD/build.ninja" 2>/dev/null || grep -rq 'PROSPECT_HAVE_CUDA=1' "$BUILD"/CMakeFiles 2>/dev/null \
  || { echo "build_cuda_here: FAILED: built without PROSPECT_HAVE_CUDA"; exit 1; }
echo "build_cuda_here: OK: $BUILD/prospect, test_model, test_train with CUDA and NCCL against torch $TORCH_VERSION (configure ${configure_s}s, total ${SECONDS}s)"
