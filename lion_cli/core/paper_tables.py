"""The Lion paper's published numbers (EMNLP 2023), to print beside lion's own.

Zero-shot, no chain of thought, generation mode with the first-capital-letter rule; accuracy in %.
ChatGPT's rows are the ones the Lion authors took from the Orca paper. Source: the Lion paper's
result tables for BBH, AGIEval and Vicuna-80.
"""

from __future__ import annotations

PAPER_COLUMNS: tuple[str, ...] = ("Lion-7B", "Lion-13B", "ChatGPT")

# (benchmark, task) → (Lion-7B, Lion-13B, ChatGPT)
PAPER_ROWS: dict[tuple[str, str], tuple[float, float, float]] = {
    ("bbh", "boolean_expressions"): (55.2, 65.6, 82.8),
    ("bbh", "causal_judgement"): (50.3, 43.9, 57.2),
    ("bbh", "date_understanding"): (34.0, 40.4, 42.8),
    ("bbh", "disambiguation_qa"): (35.6, 44.8, 57.2),
    ("bbh", "formal_fallacies"): (46.0, 52.4, 53.6),
    ("bbh", "geometric_shapes"): (8.8, 8.8, 25.6),
    ("bbh", "hyperbaton"): (51.6, 56.8, 69.2),
    ("bbh", "logical_deduction_five_objects"): (19.6, 20.8, 38.8),
    ("bbh", "logical_deduction_seven_objects"): (14.4, 21.2, 39.6),
    ("bbh", "logical_deduction_three_objects"): (40.4, 38.0, 60.4),
    ("bbh", "movie_recommendation"): (26.8, 57.6, 55.4),
    ("bbh", "navigate"): (49.2, 45.2, 55.6),
    ("bbh", "penguins_in_a_table"): (24.7, 26.7, 45.9),
    ("bbh", "reasoning_about_colored_objects"): (15.2, 17.6, 47.6),
    ("bbh", "ruin_names"): (14.4, 29.2, 56.0),
    ("bbh", "salient_translation_error_detection"): (12.0, 12.4, 40.8),
    ("bbh", "snarks"): (56.2, 61.2, 59.0),
    ("bbh", "sports_understanding"): (48.4, 51.6, 79.6),
    ("bbh", "temporal_sequences"): (24.4, 10.4, 35.6),
    ("bbh", "tracking_shuffled_objects_five_objects"): (14.4, 24.8, 18.4),
    ("bbh", "tracking_shuffled_objects_seven_objects"): (13.6, 13.2, 15.2),
    ("bbh", "tracking_shuffled_objects_three_objects"): (34.0, 34.4, 31.6),
    ("bbh", "web_of_lies"): (47.2, 54.8, 56.0),
    ("agieval", "aqua-rat"): (18.5, 26.0, 31.9),
    ("agieval", "logiqa-en"): (31.8, 31.3, 35.0),
    ("agieval", "lsat-ar"): (17.4, 23.0, 24.4),
    ("agieval", "lsat-lr"): (28.2, 32.6, 52.6),
    ("agieval", "lsat-rc"): (29.4, 40.9, 65.4),
    ("agieval", "sat-math"): (20.9, 29.4, 42.7),
    ("agieval", "sat-en"): (36.4, 53.9, 81.1),
    ("agieval", "sat-en-without-passage"): (27.7, 36.2, 44.2),
}
PAPER_TABLES: dict[str, dict[str, tuple[float, float, float]]] = {
    benchmark: {task: row for (b, task), row in PAPER_ROWS.items() if b == benchmark}
    for benchmark in ("bbh", "agieval")}
BBH_PAPER, AGIEVAL_PAPER = PAPER_TABLES["bbh"], PAPER_TABLES["agieval"]

# Vicuna-80 judged by GPT-4: total score relative to ChatGPT's, % (mean of the two orders).
VICUNA_PAPER: dict[str, float] = {"Lion-7B": 93.81, "Lion-13B": 98.38}

# benchmark → the average row of its table (Lion-7B, Lion-13B, ChatGPT)
PAPER_AVERAGES: dict[str, tuple[float, float, float]] = {"bbh": (32.0, 36.2, 48.9), "agieval": (26.3, 34.2, 47.2)}


def paper_row(benchmark: str, task: str) -> tuple[float, float, float] | None:
    return PAPER_TABLES.get(benchmark, {}).get(task)


def paper_average(benchmark: str) -> tuple[float, float, float] | None:
    return PAPER_AVERAGES.get(benchmark)
