#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (the bundle is unpacked in
# $ROOT/source). It installs Python 3.11 and requirements.txt into $ROOT/venv, then builds the
# student handout once into $ROOT/handout and the reference store (every code item's reference
# results) into $ROOT/cache, so that each submission's grading starts at once.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export DEBIAN_FRONTEND=noninteractive

apt-get update -qq
# util-linux gives the sandbox unshare(1); python3.11 comes from Ubuntu or, failing that, deadsnakes.
if ! apt-get install -y -qq python3.11 python3.11-venv util-linux; then
    apt-get install -y -qq software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update -qq
    apt-get install -y -qq python3.11 python3.11-venv util-linux
fi

python3.11 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
# CPU wheels of torch: grading runs on CPU, and they are a fraction of the CUDA build's size.
"$ROOT/venv/bin/python" -m pip install --quiet --extra-index-url https://download.pytorch.org/whl/cpu \
    -r "$ROOT/source/requirements.txt"

cd "$ROOT/source"
"$ROOT/venv/bin/python" -m autograder release --out "$ROOT/handout" --force
AUTOGRADER_CACHE="$ROOT/cache" "$ROOT/venv/bin/python" -c \
    "from autograder.grading import prepare_references; prepare_references()"
