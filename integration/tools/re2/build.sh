#!/usr/bin/env bash
# Builds the RE2 oracle against Debian's libre2-dev: build.sh <output binary>.
# The version it reports is the installed package's (dpkg).
set -eu -o pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
version=$(dpkg-query -W -f '${Version}' libre2-dev)
mkdir -p "$(dirname "$out")"
${CXX:-g++} -std=c++17 -O2 -Wall -o "$out" "$here/re2oracle.cc" \
  -DRE2ORACLE_LIBRE2_VERSION="\"$version\"" $(pkg-config --cflags --libs re2 2>/dev/null || echo -lre2 -pthread)
