"""The CUDA path end to end in one command (``bench/gpu_check.sh``): what a GPU user runs first.

Stages, each on the default model (or ``--model``):

1. LoRA in bf16 with SDPA attention and fused AdamW (the engine's CUDA defaults);
2. QLoRA: the base in 4-bit NF4 through bitsandbytes;
3. DDP: the same training through torchrun on every visible GPU (NCCL), one process per GPU;
4. generation with the trained adapter (batched greedy decoding).

Printed per stage: real tokens/s, MFU against the GPU's dense bf16 peak (the estimator's device
catalogue, matched by the GPU's name; ``--peak-tflops`` overrides), peak memory against the
estimator's prediction (``advisor.estimate.training_memory``). ``--dry-run`` does all of it on the CPU
(bf16 autocast, gloo with two processes, bitsandbytes' CPU NF4 kernels) so the path is tested where
no GPU is lent; its figures say nothing about a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE = ROOT / "data" / "sample" / "pairs.jsonl"


class _Pair:
    def __init__(self, row: dict) -> None:
        self.input, self.output = row["input"], row["output"]


def _pairs(limit: int) -> list[_Pair]:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [_Pair(r) for r in rows[:limit]]


def _config(args, method: str, device: str, grad_accumulation: int = 1):
    from tuning.config import TrainConfig

    return TrainConfig(
        model=args.model, method=method, max_steps=args.steps, micro_batch_size=args.micro_batch_size,
        grad_accumulation=grad_accumulation, max_length=args.max_length, precision="bf16", attention="sdpa",
        eval_every=0, save_every=0, eval_examples=32, device=device, learning_rate=2e-4, seed=0,
    )


def block_params(model_spec: str | None, workspace) -> float:
    """Linear parameters of the transformer blocks (what 4 x params x tokens counts as training FLOPs)."""
    from transformers import AutoConfig

    from tuning.models import resolve_model_path

    _, path = resolve_model_path(model_spec, workspace)
    c = AutoConfig.from_pretrained(path)
    kv = c.num_key_value_heads * (c.hidden_size // c.num_attention_heads)
    per_layer = c.hidden_size * (2 * c.hidden_size + 2 * kv) + 3 * c.hidden_size * c.intermediate_size
    return float(per_layer * c.num_hidden_layers)


def peak_flops(device: str, override_tflops: float | None) -> tuple[float, str]:
    """Dense bf16 peak FLOP/s of this device and where the figure comes from."""
    if override_tflops:
        return override_tflops * 1e12, "--peak-tflops"
    if device == "cpu":
        from bench.bench_train import matmul_peak

        return matmul_peak("bf16") * 1e9, "measured bf16 matmul on this CPU"
    import torch

    from advisor.catalogue import builtin_catalogue

    name = torch.cuda.get_device_name(0)
    words = set(name.upper().replace("-", " ").split())
    for dev in builtin_catalogue().values():
        if dev.kind != "cpu" and dev.name.split("-")[0].upper() in words:
            return dev.bf16_tflops * 1e12, f"catalogue {dev.name} ({dev.label}) for {name}"
    return 0.0, f"{name} is not in the catalogue; pass --peak-tflops"


def predicted_memory_gib(config) -> float | None:
    """The estimator's peak training memory for ``config`` (None where it cannot say)."""
    try:
        from advisor.estimate import setup_from_config, training_memory

        return training_memory(setup_from_config(config.to_dict())).total / 2**30
    except Exception as exc:  # noqa: BLE001 - the estimator is being reworked; a check must still print
        print(f"  (estimator unavailable: {exc})", file=sys.stderr)
        return None


def train_stage(args, ws, method: str, device: str, peak: float, blocks: float) -> dict:
    from tuning.train import train

    config = _config(args, method, device)
    pairs = _pairs(args.pairs + 32)
    began = time.perf_counter()
    record = train(config, pairs[: args.pairs], pairs[args.pairs :], ws, f"gpu-check-{method}", resume=False).record
    return {
        "stage": method, "device": record.device, "precision": record.precision, "attention": record.attention,
        "steps": record.steps, "tokens_per_s": record.tokens_per_s, "mfu": 4 * blocks * record.tokens_per_s / peak if peak else None,
        "peak_memory_gib": record.peak_memory_mb / 1024, "predicted_memory_gib": predicted_memory_gib(config),
        "final_train_loss": record.final_train_loss, "wall_s": time.perf_counter() - began, "adapter_dir": record.adapter_dir,
    }


def ddp_stage(args, processes: int, peak: float, blocks: float) -> dict:
    """The training through torchrun, one process per GPU (two gloo processes on a dry run)."""
    out = Path(args.workspace) / "ddp.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", "-m", "bench.gpu_check",
           "--ddp-worker", "--workspace", args.workspace, "--steps", str(args.steps), "--pairs", str(args.pairs),
           "--micro-batch-size", str(args.micro_batch_size), "--max-length", str(args.max_length), "--out", str(out)]
    if args.model:
        cmd += ["--model", args.model]
    if args.dry_run:
        cmd.append("--dry-run")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    began = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not out.is_file():
        raise SystemExit(f"DDP stage failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    result = json.loads(out.read_text())
    result.update(stage="ddp", wall_s=time.perf_counter() - began,
                  mfu=4 * blocks * result["tokens_per_s"] / (peak * processes) if peak else None)
    return result


def ddp_worker(args) -> int:
    from core.workspace import Workspace
    from tuning.distributed import launched
    from tuning.train import train

    world = launched()
    config = _config(args, "lora", "cpu" if args.dry_run else "cuda", grad_accumulation=world.world_size)
    pairs = _pairs(args.pairs + 32)
    ws = Workspace.resolve(args.workspace).ensure()
    record = train(config, pairs[: args.pairs], pairs[args.pairs :], ws, "gpu-check-ddp", resume=False).record
    if world.is_main:
        Path(args.out).write_text(json.dumps({
            "processes": record.world_size, "device": record.device, "steps": record.steps, "tokens_per_s": record.tokens_per_s,
            "peak_memory_gib": record.peak_memory_mb / 1024, "predicted_memory_gib": predicted_memory_gib(config),
            "final_train_loss": record.final_train_loss,
        }))
    return 0


def generate_stage(adapter_dir: str, ws, device: str, prompts: int) -> dict:
    from tuning.adapters import load_with_adapter
    from tuning.generate import GenerationSettings, generate

    loaded = load_with_adapter(adapter_dir, ws, device=device, dtype="bfloat16" if device == "cuda" else "float32")
    conversations = [[{"role": "user", "content": p.input}] for p in _pairs(prompts)]
    began = time.perf_counter()
    out = generate(loaded, conversations, GenerationSettings(max_new_tokens=64, batch_size=16))
    seconds = time.perf_counter() - began
    tokens = sum(g.completion_tokens for g in out)
    return {"stage": "generate", "prompts": len(out), "generated_tokens": tokens, "tokens_per_s": tokens / max(seconds, 1e-9), "wall_s": seconds}


def _gib(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="everything but CUDA: CPU, bf16 autocast, two gloo processes")
    ap.add_argument("--model", default=None, help="base model folder (default: SmolLM2-135M-Instruct)")
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps per training stage")
    ap.add_argument("--pairs", type=int, default=512, help="training pairs from data/sample")
    ap.add_argument("--micro-batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak of one GPU (default: the device catalogue)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["lora", "qlora", "ddp", "generate"])
    ap.add_argument("--workspace", default=None, help="scratch workspace (default: a temp folder)")
    ap.add_argument("--out", type=Path, default=None, help="JSON results (default: bench/results/gpu_check.json; dry runs: the workspace)")
    ap.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.workspace = args.workspace or tempfile.mkdtemp(prefix="gpu-check-")
    if args.ddp_worker:
        return ddp_worker(args)

    import torch

    from core.workspace import Workspace

    if not args.dry_run and not torch.cuda.is_available():
        print(f"No CUDA GPU is visible to torch {torch.__version__}. Install a CUDA build (docs/tuning.md) "
              "or run `bench/gpu_check.sh --dry-run` to check the path on the CPU.", file=sys.stderr)
        return 2
    device = "cpu" if args.dry_run else "cuda"
    gpus = 0 if args.dry_run else torch.cuda.device_count()
    processes = 2 if args.dry_run else gpus
    ws = Workspace.resolve(args.workspace).ensure()
    peak, peak_source = peak_flops(device, args.peak_tflops)
    blocks = block_params(args.model, ws)
    machine = {"torch": torch.__version__, "device": device, "gpus": gpus,
               "gpu_name": torch.cuda.get_device_name(0) if gpus else None, "peak_bf16_tflops": peak / 1e12, "peak_source": peak_source}
    print(f"machine: {machine}", flush=True)
    stages: list[dict] = []
    lora = None
    for method in ("lora", "qlora"):
        if method not in args.skip:
            stages.append(train_stage(args, ws, method, device, peak, blocks))
            lora = lora or (stages[-1] if method == "lora" else None)
            print(f"  {method}: {stages[-1]['tokens_per_s']:.0f} tok/s", flush=True)
    if "ddp" not in args.skip and processes >= 1:
        stages.append(ddp_stage(args, processes, peak, blocks))
        print(f"  ddp x{processes}: {stages[-1]['tokens_per_s']:.0f} tok/s", flush=True)
    if "generate" not in args.skip and lora is not None:
        stages.append(generate_stage(lora["adapter_dir"], ws, device, prompts=32))

    print(f"\n{'stage':<10} {'tokens/s':>10} {'MFU':>7} {'peak GiB':>9} {'predicted GiB':>14}")
    for s in stages:
        mfu = "-" if s.get("mfu") is None else f"{100 * s['mfu']:.1f}%"
        print(f"{s['stage']:<10} {s['tokens_per_s']:>10.1f} {mfu:>7} {_gib(s.get('peak_memory_gib')):>9} {_gib(s.get('predicted_memory_gib')):>14}")
    if args.dry_run:
        print("(dry run on the CPU: the figures check the path, not a GPU; peak memory is the process's resident peak)")
    out = args.out or (Path(args.workspace) / "gpu_check.json" if args.dry_run else HERE / "results" / "gpu_check.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"dry_run": args.dry_run, "machine": machine, "stages": stages}, indent=2, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
