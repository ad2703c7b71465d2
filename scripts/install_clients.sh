#!/usr/bin/env bash
# Builds the third-party clients that tests/clients runs goemox's exports in, in a git-ignored folder
# (default .clients/, or $GOEMOX_CLIENTS):
#   python/  a venv with the pins of tests/clients/requirements.txt (transformers 4.57, optimum + ONNX Runtime)
#   node/    transformers.js as pinned by tests/clients/package.json and package-lock.json
# Each part is rebuilt only when its pins changed since it was built (a stamp holds their checksum).
# Usage: scripts/install_clients.sh   (or `make clients`); PYTHON picks the interpreter of the venv, TORCH_SPEC the
# torch build installed first (as for `make install`; it must satisfy the requirements' torch pin).
set -euo pipefail
cd "$(dirname "$0")/.."
pins=tests/clients
clients="${GOEMOX_CLIENTS:-.clients}"
python="${PYTHON:-python3}"
torch_spec="${TORCH_SPEC:-torch==2.13.0}"
mkdir -p "$clients"

# up_to_date STAMP FILES...: whether STAMP holds the checksum of FILES.
up_to_date() {
  local stamp=$1; shift
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(cat "$@" | sha256sum)" ]
}

stamp="$clients/python/.pins"
if ! up_to_date "$stamp" "$pins/requirements.txt" <(echo "$torch_spec"); then
  echo "install_clients: building $clients/python from $pins/requirements.txt"
  rm -rf "$clients/python"
  "$python" -m venv "$clients/python"
  "$clients/python/bin/python" -m pip install --quiet --upgrade pip
  # shellcheck disable=SC2086  # TORCH_SPEC may hold options, e.g. --index-url
  "$clients/python/bin/python" -m pip install --quiet $torch_spec
  "$clients/python/bin/python" -m pip install --quiet -r "$pins/requirements.txt"
  cat "$pins/requirements.txt" <(echo "$torch_spec") | sha256sum >"$stamp"
fi

stamp="$clients/node/.pins"
if ! up_to_date "$stamp" "$pins/package.json" "$pins/package-lock.json"; then
  for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "install_clients: $tool not found (Debian: apt-get install nodejs npm)" >&2; exit 1; }
  done
  echo "install_clients: building $clients/node from $pins/package.json"
  rm -rf "$clients/node"
  mkdir -p "$clients/node"
  cp "$pins/package.json" "$pins/package-lock.json" "$clients/node/"
  # onnxruntime-node's post-install step would otherwise download CUDA libraries.
  (cd "$clients/node" && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cat "$pins/package.json" "$pins/package-lock.json" | sha256sum >"$stamp"
fi
