"""Training engine: base model loading, LoRA/DoRA/QLoRA, packing, training loop, generation, adapters."""
