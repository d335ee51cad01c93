#!/usr/bin/env bash
# NuGet packages of the libraries into artifacts/packages/, a folder a user adds as a package
# source. The libraries are the projects with IsPackable=true (HpcAdam.Optim,
# HpcAdam.Collectives, ...), found here so a new one needs no change; they are packed one by one
# rather than through the solution, so a version given here does not rebuild the hpcadam
# command or the tests under that version.
#   scripts/pack.sh [VERSION]    (or HPCADAM_VERSION=...; default: VersionPrefix in Directory.Build.props)
#   HPCADAM_PACKAGE_DIR=DIR      another folder than artifacts/packages (the example's test packs into its own)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-${HPCADAM_VERSION:-}}
out=${HPCADAM_PACKAGE_DIR:-artifacts/packages}  # PackageOutputPath in Directory.Build.props by default
mkdir -p "$out"
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
for project in $(grep -l '<IsPackable>true</IsPackable>' src/*/*.csproj); do
  dotnet pack "$project" -c Release -nologo -v quiet -clp:NoSummary -p:PackageOutputPath="$(realpath "$out")/" ${version:+"-p:Version=$version"}
done
# What this run wrote (other versions in the folder are left alone).
find "$out" -maxdepth 1 -name '*.nupkg' -newer "$stamp" -printf 'pack: %p\n' | sort
# NuGet takes a version it already holds in this machine's package cache from there, never from
# the folder again: a consumer would go on building against an earlier pack of the same version.
# So every version in the folder leaves the cache (only HpcAdam's ids, only those versions).
cache=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')
for package in "$out"/HpcAdam.*.nupkg; do
  [ -e "$package" ] || continue
  name=$(basename "$package" .nupkg)  # HpcAdam.Training.0.1.0
  id=${name%%.[0-9]*}                 # HpcAdam.Training
  rm -rf "${cache%/}/${id,,}/${name#"$id".}"
done
