#!/usr/bin/env bash
# Installs everything SiDA Studio needs to build, test and run on Debian 12.
# Idempotent and prompt-free: rerunning it only installs what is missing.
#
#   installer/bootstrap.sh                 system packages + LibTorch (PyPI wheel, pinned)
#   installer/bootstrap.sh --fixture-tools also the Python tools that regenerate test fixtures
#
# LibTorch comes from the PyPI `torch` wheel (CUDA-enabled) in a virtual environment outside the
# source tree, so every clone on this machine reuses it: $SIDA_DEPS_DIR (default
# ~/.local/share/sida-studio). CMake finds it there by itself.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
torch_version=$(cat "$here/torch-version.txt")
deps_dir=${SIDA_DEPS_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/sida-studio}
venv="$deps_dir/venv-torch-$torch_version"
fixture_tools=0
for arg in "$@"; do
  case "$arg" in
    --fixture-tools) fixture_tools=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "bootstrap: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

apt_packages=(
  build-essential cmake ninja-build ccache git pkg-config file
  python3 python3-venv python3-pip
  qt6-base-dev qt6-svg-dev libqt6svg6 libqcustomplot-dev
  libsentencepiece-dev nlohmann-json3-dev liburing-dev
  clang libclang-rt-14-dev
  dpkg-dev desktop-file-utils appstream librsvg2-bin
  xvfb xauth fonts-dejavu-core
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" 2>/dev/null; then
  echo "bootstrap: installing torch==$torch_version into $venv (LibTorch with CUDA, about 4.5 GB)"
  mkdir -p "$deps_dir"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==$torch_version"
fi

if [ "$fixture_tools" -eq 1 ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/../tests/fixtures/requirements.txt"
fi

echo "bootstrap: ready (LibTorch $torch_version in $venv)"
