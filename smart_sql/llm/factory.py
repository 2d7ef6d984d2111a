"""Choosing the provider a target's `llm` block asks for, with the response cache in front."""

from __future__ import annotations

from pathlib import Path

from .base import Provider
from .config import LLMConfig


def make_provider(config: LLMConfig) -> Provider:
    if config.provider == "openai":
        from .openai_provider import OpenAIProvider

        return OpenAIProvider(config)
    from .simulated import SimulatedProvider

    return SimulatedProvider(config)


def open_provider(config: LLMConfig, cache_path: Path | None, use_cache: bool = True) -> Provider:
    """What a build calls: the provider, behind the response cache unless the cache is off
    (`--no-cache`, `cache: false` in the llm block, or no cache path). `cache_path` is the caller's
    resolved location; the block's `cache_path` is used as given only when it is None."""
    provider = make_provider(config)
    path = cache_path if cache_path is not None else config.cache_path
    if not (use_cache and config.cache and path):
        return provider
    from .cache import FLUSH_SECONDS, PAID_FLUSH_SECONDS, CachedProvider, ResponseCache

    flush_seconds = FLUSH_SECONDS if provider.simulated else PAID_FLUSH_SECONDS
    return CachedProvider(provider, ResponseCache(Path(path), flush_seconds))
