#!/bin/sh
# deps.sh - install the Debian 12 packages miso needs, if any is missing.
# Called by `make check`, `make demo` and `make bench` (`deps.sh bench`); quiet
# when all is there.
set -e
PKGS="build-essential pkg-config libpcre2-dev libcjson-dev zlib1g-dev libcurl4-openssl-dev \
libopenblas-openmp-dev libopenmpi-dev openmpi-bin python3 nodejs npm chromium jq python3-nltk python3-langdetect"
# `make bench` also runs the PyTorch baseline of the training benchmark.
[ "${1:-}" = bench ] && PKGS="$PKGS python3-torch"
missing=""
for p in $PKGS; do
    case "$p" in
    # npm/nodejs may come from elsewhere (nodesource, nvm): a working binary is enough.
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    python3) command -v python3 >/dev/null 2>&1 && continue ;;
    esac
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in *"ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps: missing packages:$missing (run as root or install them)" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
