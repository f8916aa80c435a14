#!/usr/bin/env bash
# Regenerates examples/data/corpus.txt, the text the README's main job trains
# the tiny model on: the project's own documentation, dialect definitions
# and formats, concatenated. Run after the docs change (optional: the
# committed corpus only needs to be text).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  cat README.md docs/*.md docs/reference/*.md
  cat dialects/dsv3/*.td lib/Spec/model_spec.proto runtime/executable.proto
  cat lib/Conversion/Passes.td lib/Transforms/Passes.td
} > examples/data/corpus.txt
wc -c examples/data/corpus.txt
