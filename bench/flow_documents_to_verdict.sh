#!/usr/bin/env bash
# Documents and no pairs -> a verdict, through the CLI only (issue 17's end-to-end flow):
#   generate -> filters (counted) -> review (CSV round trip) -> data set -> split -> RAG and LoRA evaluated -> report
#
#   bash bench/flow_documents_to_verdict.sh [CORPUS] [WORKSPACE]
#
# Default corpus: the NumPy docstrings sample (data/samples/numpy-docs/corpus.jsonl, BSD-3-Clause).
# The review step here is a stand-in for people: it accepts every candidate that survived the
# filters and records the reviewer as "bench-auto (not a person)", so the data set's manifest says
# plainly that no person reviewed it. In real use a person reviews in the app (Create data) or in
# the exported CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CORPUS=${1:-data/samples/numpy-docs/corpus.jsonl}
WS=${2:-$(mktemp -d /tmp/flow-docs-XXXX)}
NAME=docs-flow
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
adv() { "$PY" -m advisor --workspace "$WS" "$@"; }
stamp() { date +%s; }
t0=$(stamp)
echo "== workspace $WS, corpus $CORPUS; load: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== 1. generate (extractive rules) and filter"
adv data generate --corpus "$CORPUS" --name "$NAME"
t1=$(stamp)

echo "== 2. review (stand-in: accept every filtered candidate, reviewer 'bench-auto (not a person)')"
adv data review "$NAME" --export "$WS/review.csv" >/dev/null
"$PY" - "$WS/review.csv" <<'EOF'
import csv, sys
path = sys.argv[1]
rows = list(csv.DictReader(open(path, encoding="utf-8")))
for row in rows:
    row["decision"] = "accept"
with open(path, "w", encoding="utf-8", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
EOF
adv data review "$NAME" --import "$WS/review.csv" --reviewer "bench-auto (not a person)"
adv data build "$NAME"
PAIRS="$WS/datasets/$NAME/pairs.jsonl"
t2=$(stamp)

echo "== 3. check and split (documents are the groups: test questions come from held-out documents)"
adv data check "$PAIRS"
adv data split "$PAIRS" --seed 0
t3=$(stamp)

echo "== 4. base model and RAG over the corpus"
adv eval base --data "$PAIRS" --seed 0 --format json > "$WS/base.json"
adv rag build --corpus "$CORPUS" --name docs
adv rag eval docs --data "$PAIRS" --seed 0
t4=$(stamp)

echo "== 5. LoRA on the reviewed pairs, then RAG + LoRA"
adv tune --data "$PAIRS" --seed 0 --name docs-lora --max-steps "${MAX_STEPS:-40}" --format json > "$WS/tune.json"
adv eval rag+lora:docs:docs-lora --data "$PAIRS" --seed 0 --format json > "$WS/raglora.json"
t5=$(stamp)

echo "== 6. report"
RUNS=$("$PY" -m bench.test_runs "$WS")
adv report --runs "$RUNS" --name docs-flow
t6=$(stamp)
echo "== minutes: generate $(( (t1-t0)/60 )), review+build $(( (t2-t1)/60 )), split $(( (t3-t2)/60 )), base+RAG $(( (t4-t3)/60 )), LoRA+RAG+LoRA $(( (t5-t4)/60 )), report $(( (t6-t5)/60 )); total $(( (t6-t0)/60 )); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "record: $WS/reports/docs-flow/"
