"""What an endpoint's tokens cost when lion.toml leaves a price at "auto": nothing for a server on
this machine or the local network, a hosted model's list price when it is in the table below, and
otherwise DEFAULT_PRICES (with a note from `lion check`, since the spend shown is then a guess).

A price set to a number in lion.toml is always taken as it is; `resolve_prices` is the one place
where "auto" becomes a number, for the engine's cost of each answer and for every projection.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit

AUTO: Literal["auto"] = "auto"
Price = float | Literal["auto"]
# A provider's batch API (files uploaded, results within a completion window) has its own price keys;
# "auto" there is the endpoint's online price × BATCH_DISCOUNT, OpenAI's batch discount.
BATCH_PRICE_KEYS = ("batch_price_input_per_1k", "batch_price_output_per_1k")
PRICE_KEYS = ("price_input_per_1k", "price_output_per_1k", *BATCH_PRICE_KEYS)
BATCH_DISCOUNT = 0.5

# USD per 1K tokens (input, output): gpt-3.5-turbo's price when the Lion paper ran, kept for any
# hosted model the table does not know.
DEFAULT_PRICES: tuple[float, float] = (0.0015, 0.002)

# OpenAI's standard-tier list prices per 1K tokens (input, output), as published in August 2025.
# A dated snapshot ("gpt-4o-2024-08-06", "gpt-3.5-turbo-0125") is priced as its family.
KNOWN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-3.5-turbo": (0.0005, 0.0015),
    "gpt-4": (0.03, 0.06), "gpt-4-turbo": (0.01, 0.03),
    "gpt-4o": (0.0025, 0.01), "gpt-4o-mini": (0.00015, 0.0006),
    "gpt-4.1": (0.002, 0.008), "gpt-4.1-mini": (0.0004, 0.0016), "gpt-4.1-nano": (0.0001, 0.0004),
    "o3-mini": (0.0011, 0.0044), "o4-mini": (0.0011, 0.0044),
    "gpt-5": (0.00125, 0.01), "gpt-5-mini": (0.00025, 0.002), "gpt-5-nano": (0.00005, 0.0004),
}

PriceSource = Literal["set", "local", "known", "default"]


@dataclass(frozen=True, slots=True)
class Prices:
    input_per_1k: float
    output_per_1k: float
    source: PriceSource     # of the "auto" values: set (none were auto), local, known or default

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return prompt_tokens / 1000 * self.input_per_1k + completion_tokens / 1000 * self.output_per_1k


def is_local_host(base_url: str) -> bool:
    """A server nobody bills for: localhost, a loopback, private or link-local address, a `.local`
    name, or a single-label name (a machine on the local network or a container: `http://vllm:8000`)."""
    host = (urlsplit(base_url).hostname or "").rstrip(".").lower()
    if not host:
        return False
    if host == "localhost" or host.endswith((".localhost", ".local")) or ("." not in host and ":" not in host):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_unspecified


def known_price(model: str) -> tuple[float, float] | None:
    """The table's price for a model id: its own entry, or its family's for a dated snapshot."""
    name = model.strip().lower()
    if name in KNOWN_PRICES:
        return KNOWN_PRICES[name]
    family = [k for k in KNOWN_PRICES if name.startswith(k + "-") and name[len(k) + 1:][:1].isdigit()]
    return KNOWN_PRICES[max(family, key=len)] if family else None


@lru_cache(maxsize=256)
def resolve_prices(base_url: str, model: str, price_input: Price, price_output: Price) -> Prices:
    """The prices an endpoint is charged at: each one set in lion.toml as it is, each "auto" one by
    host and model."""
    if price_input != AUTO and price_output != AUTO:
        return Prices(float(price_input), float(price_output), "set")
    source: PriceSource
    if is_local_host(base_url):
        by_rule, source = (0.0, 0.0), "local"
    elif (listed := known_price(model)) is not None:
        by_rule, source = listed, "known"
    else:
        by_rule, source = DEFAULT_PRICES, "default"
    return Prices(by_rule[0] if price_input == AUTO else float(price_input),
                  by_rule[1] if price_output == AUTO else float(price_output), source)


def batch_prices(online: Prices, batch_input: Price, batch_output: Price) -> Prices:
    """The prices of a request sent through the batch API: each one set as it is, each "auto" one the
    online price × BATCH_DISCOUNT (so a local server's stays 0)."""
    return Prices(online.input_per_1k * BATCH_DISCOUNT if batch_input == AUTO else float(batch_input),
                  online.output_per_1k * BATCH_DISCOUNT if batch_output == AUTO else float(batch_output),
                  online.source)


def price_problem(value: Any) -> str | None:
    """What is wrong with a lion.toml price (TOML has real types: a quoted number is a mistake)."""
    if value == AUTO:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return 'expected a price in USD per 1K tokens (a number ≥ 0) or "auto" (by host and model)'
    return None
