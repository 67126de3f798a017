"""lion: adversarial distillation of an API-only LLM into a small open-weight student."""

__version__ = "0.1.0"
