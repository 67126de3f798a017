"""Typer commands, one module per noun. The only layer that wires adapters together."""
