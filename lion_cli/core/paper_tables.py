"""The Lion paper's published numbers (EMNLP 2023), to print beside lion's own.

Zero-shot, no chain of thought, generation mode with the first-capital-letter rule; accuracy in %.
ChatGPT's rows are the ones the Lion authors took from the Orca paper. Source: shared/PAPER_TABLES.md.
"""

from __future__ import annotations

PAPER_COLUMNS: tuple[str, ...] = ("Lion-7B", "Lion-13B", "ChatGPT")

# task → (Lion-7B, Lion-13B, ChatGPT)
BBH_PAPER: dict[str, tuple[float, float, float]] = {
    "boolean_expressions": (55.2, 65.6, 82.8),
    "causal_judgement": (50.3, 43.9, 57.2),
    "date_understanding": (34.0, 40.4, 42.8),
    "disambiguation_qa": (35.6, 44.8, 57.2),
    "formal_fallacies": (46.0, 52.4, 53.6),
    "geometric_shapes": (8.8, 8.8, 25.6),
    "hyperbaton": (51.6, 56.8, 69.2),
    "logical_deduction_five_objects": (19.6, 20.8, 38.8),
    "logical_deduction_seven_objects": (14.4, 21.2, 39.6),
    "logical_deduction_three_objects": (40.4, 38.0, 60.4),
    "movie_recommendation": (26.8, 57.6, 55.4),
    "navigate": (49.2, 45.2, 55.6),
    "penguins_in_a_table": (24.7, 26.7, 45.9),
    "reasoning_about_colored_objects": (15.2, 17.6, 47.6),
    "ruin_names": (14.4, 29.2, 56.0),
    "salient_translation_error_detection": (12.0, 12.4, 40.8),
    "snarks": (56.2, 61.2, 59.0),
    "sports_understanding": (48.4, 51.6, 79.6),
    "temporal_sequences": (24.4, 10.4, 35.6),
    "tracking_shuffled_objects_five_objects": (14.4, 24.8, 18.4),
    "tracking_shuffled_objects_seven_objects": (13.6, 13.2, 15.2),
    "tracking_shuffled_objects_three_objects": (34.0, 34.4, 31.6),
    "web_of_lies": (47.2, 54.8, 56.0),
}
BBH_PAPER_AVERAGE: tuple[float, float, float] = (32.0, 36.2, 48.9)

AGIEVAL_PAPER: dict[str, tuple[float, float, float]] = {
    "aqua-rat": (18.5, 26.0, 31.9),
    "logiqa-en": (31.8, 31.3, 35.0),
    "lsat-ar": (17.4, 23.0, 24.4),
    "lsat-lr": (28.2, 32.6, 52.6),
    "lsat-rc": (29.4, 40.9, 65.4),
    "sat-math": (20.9, 29.4, 42.7),
    "sat-en": (36.4, 53.9, 81.1),
    "sat-en-without-passage": (27.7, 36.2, 44.2),
}
AGIEVAL_PAPER_AVERAGE: tuple[float, float, float] = (26.3, 34.2, 47.2)

# Vicuna-80 judged by GPT-4: total score relative to ChatGPT's, % (mean of the two orders).
VICUNA_PAPER: dict[str, float] = {"Lion-7B": 93.81, "Lion-13B": 98.38}


def paper_row(benchmark: str, task: str) -> tuple[float, float, float] | None:
    table = {"bbh": BBH_PAPER, "agieval": AGIEVAL_PAPER}.get(benchmark, {})
    return table.get(task)


def paper_average(benchmark: str) -> tuple[float, float, float] | None:
    return {"bbh": BBH_PAPER_AVERAGE, "agieval": AGIEVAL_PAPER_AVERAGE}.get(benchmark)
