"""Checking an OpenAI-compatible endpoint where it costs nothing: `GET /models`.

It says whether the server is reachable, whether it accepts the key, and which of the configured
models it lists; no completion is requested, so nothing is billed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import LLMConfig

CHECK_TIMEOUT_SECONDS = 10.0


@dataclass
class EndpointCheck:
    server: str
    configured: list[str] = field(default_factory=list)
    reachable: bool = False
    key_accepted: bool | None = None
    """None when the server does not say (it has no /models route)."""
    listed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Configured models the server does not list."""
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.reachable and self.key_accepted is not False and not self.missing and self.problem is None

    def lines(self) -> list[str]:
        if not self.reachable:
            return [f"llm endpoint {self.server}: not reachable ({self.problem})"]
        if self.key_accepted is False:
            return [f"llm endpoint {self.server}: reachable, but the API key was rejected ({self.problem})"]
        if self.key_accepted is None:
            return [f"llm endpoint {self.server}: reachable; it lists no models, so the key is not checked "
                    f"({self.problem})"]
        lines = [f"llm endpoint {self.server}: reachable, API key accepted"]
        found = [name for name in self.configured if name not in self.missing]
        lines.append(f"llm models listed by the server: {', '.join(found) or 'none of the configured ones'}")
        if self.missing:
            lines.append(f"llm models not listed by the server: {', '.join(self.missing)}")
        return lines


def check_endpoint(config: LLMConfig, timeout: float = CHECK_TIMEOUT_SECONDS) -> EndpointCheck:
    """`GET /models` on the configured server, with the configured key; raises nothing."""
    import openai

    from .openai_provider import DEFAULT_BASE_URL, _error_message, _resolve_api_key, public_url, scrub_secret

    base_url = (config.base_url or DEFAULT_BASE_URL).rstrip("/")
    check = EndpointCheck(public_url(base_url), configured=[m.name for m in config.models])
    key = _resolve_api_key(config)
    client = openai.OpenAI(api_key=key, base_url=base_url, timeout=min(timeout, config.timeout_seconds),
                           max_retries=0)
    try:
        listed = [model.id for model in client.models.list()]
    except openai.APIConnectionError as error:
        check.problem = scrub_secret(str(error.__cause__ or error), key)
        return check
    except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
        check.reachable, check.key_accepted = True, False
        check.problem = f"HTTP {error.status_code}: {scrub_secret(_error_message(error), key)}"
        return check
    except openai.APIStatusError as error:
        check.reachable = True
        check.problem = f"GET /models answered HTTP {error.status_code}"
        return check
    finally:
        client.close()
    check.reachable, check.key_accepted, check.listed = True, True, listed
    check.missing = [name for name in check.configured if name not in listed]
    return check
