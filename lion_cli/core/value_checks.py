"""Checks of single lion.toml values that a type and a range cannot express (a URL with a host, a
variable name that is not a key), and the Problem every check reports.

Pure: config.py runs these while parsing, the preflight (lion_cli.preflight) adds the checks that
need the filesystem, the environment or the network, and both report Problems the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# How provider keys and tokens start (OpenAI, Anthropic-style sk-, Hugging Face, Groq, xAI, Google,
# GitHub): a value starting like this was pasted into the wrong place.
KEY_PREFIXES = ("sk-", "sk_", "hf_", "gsk_", "xai-", "pk-", "rk-", "AIza", "ghp_", "github_pat_", "Bearer ")
LITERAL_KEY = "api_key_env must name an environment variable, not hold the key"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that stops a project from running: the file, the dotted key ("" = the file as a
    whole) and what is wrong, with what would work."""

    file: str
    key: str
    message: str
    # False where the message names the key itself ("unknown key 'loop.tua'").
    keyed: bool = True

    def __str__(self) -> str:
        if self.key and self.keyed:
            return f"{self.file}: key '{self.key}': {self.message}"
        return f"{self.file}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "key": self.key, "message": self.message}


def looks_like_key(value: str) -> bool:
    """A secret rather than the name of a variable: a key's prefix, or the length and shape of a token
    (variable names are words joined by underscores; keys are long runs of mixed characters)."""
    text = value.strip()
    if text.startswith(KEY_PREFIXES):
        return True
    if len(text) >= 20 and not ENV_NAME.fullmatch(text):
        return True
    return len(text) >= 24 and "_" not in text and not text.isupper()


def api_key_env_problem(value: str) -> str | None:
    """The message never contains the value: it may be a key."""
    if value == "":
        return None
    if looks_like_key(value):
        return f"{LITERAL_KEY} (write api_key_env = \"OPENAI_API_KEY\" and `export OPENAI_API_KEY=...`)"
    if not ENV_NAME.fullmatch(value):
        return ("not a valid environment variable name (expected letters, digits and _, not starting "
                "with a digit; \"\" sends no key)")
    return None


def shown_url(value: str) -> str:
    """A URL as it may be printed: user and password (a key, sometimes) replaced by ***."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "(unparseable URL)"
    if "@" not in parts.netloc:
        return value
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def url_problem(value: str) -> str | None:
    if not value.strip():
        return "must not be empty (expected a URL such as https://api.openai.com/v1)"
    if any(ch.isspace() for ch in value):
        return "contains white space"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return "not a valid URL (bad port or brackets)"
    if parts.scheme not in ("http", "https") or not value.lower().startswith(("http://", "https://")):
        return "base_url must start with http:// or https://"
    if not parts.hostname:
        return "base_url has no host (expected e.g. https://api.openai.com/v1)"
    if port == 0:
        return "port 0 is not a port"
    if parts.path.rstrip("/").endswith("/completions"):
        return "base_url is the API root (e.g. https://api.openai.com/v1), not the completions endpoint"
    return None


def not_blank_problem(value: str) -> str | None:
    return "must not be empty" if not value.strip() else None


def name_problem(value: str) -> str | None:
    """A model name as a server matches it: exactly, so white space around it is a mistake."""
    if not value.strip():
        return "must not be empty"
    return "has white space at its ends" if value != value.strip() else None


def host_port_problem(value: str) -> str | None:
    """host:port, as torchrun's --rdzv_endpoint takes it ("" = not set)."""
    if value == "":
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return "expected host:port (e.g. 10.0.0.1:29500)"
    return None
