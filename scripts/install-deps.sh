#!/usr/bin/env bash
# Install what neurofit needs to build and test, from Debian's packages.
# Run as root (CI does). CUDA (nvcc + cuRAND) is optional and not installed here.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config dpkg-dev file \
  libcriterion-dev libcjson-dev liblapacke-dev liblapack-dev libblas-dev libhdf5-dev \
  libopenmpi-dev openmpi-bin \
  python3 python3-numpy python3-pytest >/dev/null
echo "neurofit: build dependencies installed"
