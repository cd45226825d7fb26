#!/usr/bin/env bash
# The CUDA path end to end on the default model: LoRA in bf16 with SDPA and fused AdamW, QLoRA (NF4 via
# bitsandbytes), DDP over every visible GPU (torchrun), generation; prints tokens/s, MFU against the GPU's
# bf16 peak and peak memory against the estimator's prediction (bench/gpu_check.py has the details).
#
#   bench/gpu_check.sh                 # on a CUDA machine (writes bench/results/gpu_check.json)
#   bench/gpu_check.sh --dry-run       # everything but CUDA: CPU, two gloo processes (what CI runs)
#   bench/gpu_check.sh --steps 100 --peak-tflops 989
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then
  py="$PYTHON"
elif [[ -x .venv/bin/python ]]; then
  py=.venv/bin/python
else
  py=python3
fi
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" TRANSFORMERS_OFFLINE="${TRANSFORMERS_OFFLINE:-1}" TOKENIZERS_PARALLELISM=false
exec "$py" -m bench.gpu_check "$@"
