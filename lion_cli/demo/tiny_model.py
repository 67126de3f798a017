"""A tiny Llama-style student built from nothing, for tests, CI and the offline demo.

The machines that build lion have no model hub, so tests need a causal LM that goes through exactly
the code path a user's model does: a folder written by `save_pretrained` (safetensors) and read back
by `AutoTokenizer` / `AutoModelForCausalLM`. This module trains a byte-level BPE tokenizer on a small
English corpus shipped with the package and initialises a 2-layer Llama with random weights. The
result is deterministic for a given seed, about 0.8M parameters, and builds in well under 3 s.

torch / transformers / tokenizers are imported inside the functions (the CLI imports this module,
and its start-up must stay fast).
"""

from __future__ import annotations

from pathlib import Path

CORPUS_PATH = Path(__file__).with_name("data") / "tiny_corpus.txt"

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
# Role markers are single special tokens so a turn boundary is one id, as in real chat models.
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")

# One turn = role marker, newline, content, EOS. Generation stops at EOS, which is what makes an
# answer end. No BOS in the template: like SmolLM2, the tokenizer adds no BOS to plain text either,
# so chat and plain prompts start the same way.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def _train_tokenizer(corpus: str, vocab_size: int):  # -> PreTrainedTokenizerFast
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=UNK))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=[UNK, BOS, EOS, *ROLE_TOKENS],
        # Every byte gets a token, so no input is ever unknown (byte-level BPE's point).
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus.split("\n\n"), trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        additional_special_tokens=list(ROLE_TOKENS),
        # Deliberately no pad token: the training script must add one, as for many real models.
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_tiny_model(
    out_dir: Path,
    *,
    seed: int = 0,
    vocab_size: int = 2048,
    hidden: int = 128,
    layers: int = 2,
    heads: int = 4,
) -> Path:
    """Write a tiny random Llama + trained BPE tokenizer to `out_dir` and return it.

    head_dim is hidden // heads (32 by default; vLLM's CPU backend rejects 16). Input and output
    embeddings are TIED (as in SmolLM2), which keeps the model at ~0.8M parameters. The model's
    vocabulary is the tokenizer's actual size (≤ vocab_size; a small corpus may yield fewer merges),
    so every id the model can emit decodes to text. The folder is reloaded through the Auto classes
    before returning, so a broken save fails here rather than in a test far away.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    tok = _train_tokenizer(CORPUS_PATH.read_text(encoding="utf-8"), vocab_size)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        head_dim=hidden // heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=None,
    )
    # Fork the RNG so building a model never disturbs the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = None
    model.save_pretrained(out_dir, safe_serialization=True)
    tok.save_pretrained(out_dir)

    # Round-trip through the same loaders a user's model goes through.
    AutoTokenizer.from_pretrained(out_dir)
    AutoModelForCausalLM.from_pretrained(out_dir)
    return out_dir
