#!/usr/bin/env bash
# One data set of a non-tldr task kind, through the CLI only (issue 16's end-to-end flow):
#   data check (kind + evidence) -> data split -> eval base -> RAG (documents and/or training examples)
#   -> tune (LoRA, the recipe's one epoch) -> eval -> report, then a JSON record for BENCHMARKS.md.
#
#   bash bench/flow_task_kinds.sh SET [WORKSPACE]
#
# SET: debian-sections (classification), numpy-docs (short answers over a documentation corpus),
# debian-metadata (structured JSON). The full set is built from its real source first when missing
# (bench/datasets/; docs/datasets.md names sources, licences and attribution).
# LIMIT=N caps the test items evaluated (default: all of them); MAX_STEPS=N caps training.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SET=${1:?give a set: debian-sections, numpy-docs or debian-metadata}
WS=${2:-$(mktemp -d "/tmp/flow-$SET-XXXX")}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
case "$SET" in
  debian-sections) BUILDER=build_classification ;;
  numpy-docs) BUILDER=build_docqa ;;
  debian-metadata) BUILDER=build_structured ;;
  *) echo "unknown set $SET: debian-sections, numpy-docs or debian-metadata" >&2; exit 2 ;;
esac
OUT=bench/datasets/out/$SET
PAIRS=$OUT/pairs.jsonl
[ -f "$PAIRS" ] || "$PY" -m "bench.datasets.$BUILDER"
adv() { "$PY" -m advisor --workspace "$WS" "$@"; }
LIMIT_ARGS=(); [ -n "${LIMIT:-}" ] && LIMIT_ARGS=(--limit "$LIMIT")
TUNE_ARGS=(); [ -n "${MAX_STEPS:-}" ] && TUNE_ARGS=(--max-steps "$MAX_STEPS")
stamp() { date +%s; }
t0=$(stamp)
echo "== $SET: workspace $WS; load: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== 1. data check (kind inferred, with its evidence) and split"
adv data check "$PAIRS"
adv data split "$PAIRS" --name "$SET" --seed 0
KIND=$("$PY" -c "import sys; sys.path.insert(0, '.'); from studies.data.datasets import load_pairs; from studies.data.kinds import infer_task; print(infer_task([p.output for p in load_pairs('$PAIRS').pairs]).kind)")
echo "   kind: $KIND"
t1=$(stamp)

echo "== 2. base model, prompted for the kind"
adv eval base --data "$PAIRS" --study "$SET" "${LIMIT_ARGS[@]}"
if [ "$KIND" = classification ]; then
  adv eval base --data "$PAIRS" --study "$SET" --decoding generate "${LIMIT_ARGS[@]}"  # free generation beside label scoring
fi
t2=$(stamp)

echo "== 3. RAG: nearest training examples (and their vote for classification); documents where there is a corpus"
adv eval rag-examples --data "$PAIRS" --study "$SET" "${LIMIT_ARGS[@]}"
[ "$KIND" = classification ] && adv eval rag-examples:vote --data "$PAIRS" --study "$SET" "${LIMIT_ARGS[@]}"
if [ -f "$OUT/corpus.jsonl" ]; then
  adv rag build --corpus "$OUT/corpus.jsonl" --name "$SET"
  adv rag eval "$SET" --data "$PAIRS" "${LIMIT_ARGS[@]}"
fi
t3=$(stamp)

echo "== 4. LoRA (recipe tuning/recipes/lora.yaml), evaluated on the test split; RAG + LoRA"
EVAL_LIMIT=(); [ -n "${LIMIT:-}" ] && EVAL_LIMIT=(--eval-limit "$LIMIT")
adv tune --data "$PAIRS" --name "$SET-lora" --config tuning/recipes/lora.yaml "${TUNE_ARGS[@]}" "${EVAL_LIMIT[@]}"
adv eval "rag-examples+lora:$SET-lora" --data "$PAIRS" --study "$SET" "${LIMIT_ARGS[@]}"
[ -f "$OUT/corpus.jsonl" ] && adv eval "rag+lora:$SET:$SET-lora" --data "$PAIRS" --study "$SET" "${LIMIT_ARGS[@]}"
t4=$(stamp)

echo "== 5. report"
RUNS=$("$PY" -m bench.test_runs "$WS")
adv report --runs "$RUNS" --name "$SET"
adv report --runs "$RUNS" --name "$SET" --format json > "$WS/record.json"
t5=$(stamp)
echo "== minutes: check+split $(( (t1-t0)/60 )), base $(( (t2-t1)/60 )), RAG $(( (t3-t2)/60 )), LoRA $(( (t4-t3)/60 )), report $(( (t5-t4)/60 )); total $(( (t5-t0)/60 )); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "record: $WS/reports/$SET/  json: $WS/record.json"
