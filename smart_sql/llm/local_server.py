"""A local OpenAI-compatible server answering as the simulated models, with injectable faults.

Used by the test suite and `benchmarks/throughput.py` to exercise the `openai` provider over real
HTTP. Standard library only; binds 127.0.0.1 on a free port in a background thread:

    with LocalLLMServer(Simulator("sim-large", {"sim-small": 0.9})) as server:
        config = LLMConfig(provider="openai", base_url=server.base_url, api_key=server.api_key, ...)

Faults hit the first `fault_attempts` attempts of a share of the distinct requests (picked by a hash
of model, prompt and text), so a request retried often enough then gets the answer it would have had
without the fault. Refusals (429) are answered at once, as a gateway in front of a model would; every
other answer waits `latency_ms` (plus `spike_ms` for the requests a latency spike hits).

A request with `logprobs` gets them in the chat completions format (local_logprobs): the label
answered has the probability the simulator scores it with (`informative` scores for models it gives
none), and `Faults` can have the server send none or refuse them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .local_logprobs import answer_logprobs
from .openai_provider import INSTRUCTION_MARKER, LABELS_LINE
from .score_distributions import PRESETS
from .simulated import Simulator, unit_interval

FAULT_KINDS = ("rate_limit", "server_error", "malformed", "timeout", "drop", "empty", "null", "off_label")
OFF_LABEL_ANSWER = "I cannot tell."
"""What an `off_label` fault answers: a sentence naming none of the labels."""


@dataclass
class Faults:
    """What the server does wrong. Shares are of distinct requests; a fault hits the first `fault_attempts`."""

    latency_ms: float = 0.0
    model_latency_ms: dict = field(default_factory=dict)
    """Latency per model name, in place of `latency_ms` for the models it names."""
    rate_limit: float = 0.0
    server_error: float = 0.0
    malformed: float = 0.0
    timeout: float = 0.0
    drop: float = 0.0
    empty: float = 0.0
    """Answer with empty content."""
    null: float = 0.0
    """Answer with `"content": null`."""
    off_label: float = 0.0
    """Answer with OFF_LABEL_ANSWER, which names none of the labels."""
    fault_attempts: int = 1
    """How many attempts of a picked request its fault hits, counting from the first."""
    spike: float = 0.0
    """Share of requests whose first attempt waits `spike_ms` longer."""
    spike_ms: float = 0.0
    outage_after: int | None = None
    """After letting this many requests through the server is down: every request gets 503 (with Retry-After)."""
    retry_after: str | None = "0.05"
    """Sent as Retry-After with each 429, 500 and 503 (seconds); None sends none."""
    timeout_seconds: float = 2.0
    """How long a `timeout` fault keeps the client waiting before answering."""
    max_concurrency: int | None = None
    """Beyond this many requests in flight the server answers 429 (a real rate limiter)."""
    reject_response_format: bool = False
    """Answer 400 to `response_format`, like servers without structured output; plain answers then
    name the label inside a sentence, so the client has to parse them."""
    reject_max_tokens: bool = False
    """Answer 400 to `max_tokens`, asking for `max_completion_tokens`, as OpenAI's reasoning models do."""
    reject_temperature: bool = False
    """Answer 400 to any `temperature` but 1, as OpenAI's reasoning models do."""
    omit_logprobs: bool = False
    """Send `"logprobs": null` when asked for them, as servers that ignore the parameter do."""
    reject_logprobs: bool = False
    """Answer 400 to `logprobs`, as OpenAI's reasoning models and some servers do."""

    def pick(self, model: str, prompt: str, text: str) -> str | None:
        for kind in FAULT_KINDS:
            share = getattr(self, kind)
            if share > 0 and unit_interval("fault", kind, model, prompt, text) < share:
                return kind
        return None


@dataclass
class ServerLog:
    """What the server saw, for assertions."""

    requests: int = 0
    by_model: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    """Responses per HTTP status; 0 counts connections dropped without one."""
    attempts: Counter = field(default_factory=Counter)
    """Attempts per (model, prompt, text)."""
    let_through: int = 0
    """Requests that met no outage."""
    completions: Counter = field(default_factory=Counter)
    """Answers sent (HTTP 200 with a completion, the ones a real server bills) per (model, prompt, text)."""
    attempt_times: dict = field(default_factory=dict)
    arrival_times: list = field(default_factory=list)
    """time.monotonic() of every request's arrival, before any latency."""
    arrivals_by_model: Counter = field(default_factory=Counter)
    """Requests per model name as they arrive, before any latency (answered or not)."""
    answer_times: dict = field(default_factory=dict)
    """time.monotonic() at which each answer (a 200 completion) was sent, per (model, prompt, text)."""
    in_flight: int = 0
    max_in_flight: int = 0
    authorization_headers: set = field(default_factory=set)
    model_listings: int = 0
    """`GET /models` requests (they answer no completion and cost nothing)."""


def read_messages(messages: list[dict]) -> tuple[str, str, list[str] | None]:
    """(prompt, text, labels) back from the openai provider's message layout."""
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    text = next((m["content"] for m in messages if m.get("role") == "user"), "")
    framing, _, prompt = system.partition(INSTRUCTION_MARKER)
    match = re.search(re.escape(LABELS_LINE) + r"(\[.*\])$", framing, re.MULTILINE)
    labels = json.loads(match.group(1)) if match else None
    return prompt, text, labels


def _schema_labels(response_format: dict) -> tuple[str, list[str]] | None:
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    for name, spec in (schema.get("properties") or {}).items():
        if isinstance(spec, dict) and "enum" in spec:
            return name, list(spec["enum"])
    return None


class LocalLLMServer:
    def __init__(self, simulator: Simulator, *, api_key: str | None = "sk-local-test-key",
                 faults: Faults | None = None):
        self.simulator = dataclasses.replace(
            simulator, scores={**dict.fromkeys(simulator.models, PRESETS["informative"]), **simulator.scores})
        """Answers as `simulator` does, and scores every model's answers (`informative` where it gives none)."""
        self.api_key = api_key
        self.faults = faults or Faults()
        self.log = ServerLog()
        self.system_fingerprint: str | None = "fp_local"
        """Sent with each completion, as OpenAI names its backend configuration; tests change it."""
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.base_url: str | None = None
        """http://127.0.0.1:<port>/v1 once started."""
        self._thread: threading.Thread | None = None

    def start(self) -> "LocalLLMServer":
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="local-llm-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "LocalLLMServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def reset_log(self) -> None:
        with self.lock:
            self.log = ServerLog()


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 256
    """Room for a whole pool of clients connecting at once (the default backlog of 5 resets some)."""

    def handle_error(self, request, client_address) -> None:
        """Clients that hang up (after a timeout, or when a run is cancelled) are expected here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_state: LocalLLMServer

    def log_message(self, format, *args) -> None:
        return None

    def do_GET(self) -> None:
        """`GET /v1/models`: the simulated models, for a key the server accepts (as OpenAI's does)."""
        state = self.server_state
        with state.lock:
            state.log.model_listings += 1
        if self.path.rstrip("/") != "/v1/models":
            self._error(404, f"no route {self.path}", "not_found")
        elif state.api_key is not None and self.headers.get("Authorization") != f"Bearer {state.api_key}":
            self._error(401, "Incorrect API key provided.", "invalid_api_key")
        else:
            models = [{"id": name, "object": "model", "owned_by": "local"} for name in state.simulator.models]
            self._send(200, json.dumps({"object": "list", "data": models}).encode())

    def do_POST(self) -> None:
        state = self.server_state
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with state.lock:
            state.log.arrival_times.append(time.monotonic())
            state.log.arrivals_by_model[_model_named(body)] += 1
            state.log.requests += 1
            state.log.in_flight += 1
            state.log.max_in_flight = max(state.log.max_in_flight, state.log.in_flight)
            state.log.authorization_headers.add(self.headers.get("Authorization", ""))
            over_limit = (state.faults.max_concurrency is not None
                          and state.log.in_flight > state.faults.max_concurrency)
        try:
            status = self._answer(state, body, over_limit)
        finally:
            with state.lock:
                state.log.in_flight -= 1
        with state.lock:
            state.log.by_status[status] += 1

    def _answer(self, state: LocalLLMServer, body: bytes, over_limit: bool) -> int:
        faults = state.faults
        latency = faults.latency_ms
        if faults.model_latency_ms:
            try:
                latency = faults.model_latency_ms.get(json.loads(body).get("model"), latency)
            except (ValueError, AttributeError):
                pass
        if latency:
            time.sleep(latency / 1000)
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"no route {self.path}", "not_found")
        if state.api_key is not None and self.headers.get("Authorization") != f"Bearer {state.api_key}":
            presented = self.headers.get("Authorization", "").removeprefix("Bearer ")
            return self._error(401, f"Incorrect API key provided: {presented}.", "invalid_api_key")
        try:
            payload = json.loads(body)
            model = payload["model"]
            prompt, text, labels = read_messages(payload["messages"])
        except (ValueError, KeyError, TypeError):
            return self._error(400, "the body is not a chat completion request", "invalid_request_error")
        if "max_tokens" in payload and faults.reject_max_tokens:
            return self._error(400, "Unsupported parameter: 'max_tokens' is not supported with this model. "
                               "Use 'max_completion_tokens' instead.", "invalid_request_error")
        if payload.get("temperature", 1) != 1 and faults.reject_temperature:
            return self._error(400, f"Unsupported value: 'temperature' does not support {payload['temperature']} "
                               "with this model. Only the default (1) value is supported.", "invalid_request_error")
        if payload.get("logprobs") and faults.reject_logprobs:
            return self._error(400, "logprobs is not supported with this model.", "invalid_request_error")
        top_logprobs = payload.get("top_logprobs", 0)
        if (not isinstance(top_logprobs, int) or not 0 <= top_logprobs <= 20
                or (top_logprobs and not payload.get("logprobs"))):
            return self._error(400, f"top_logprobs must be an integer from 0 to 20, with logprobs true; got "
                               f"{top_logprobs!r}", "invalid_request_error")
        max_tokens = payload.get("max_tokens", payload.get("max_completion_tokens"))
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            return self._error(400, f"max_tokens must be a positive integer, got {max_tokens!r}",
                               "invalid_request_error")
        if model not in state.simulator.models:
            return self._error(404, f"The model `{model}` does not exist", "model_not_found")
        if over_limit:
            return self._rate_limited(faults)

        key = (model, prompt, text)
        with state.lock:
            state.log.attempts[key] += 1
            attempt = state.log.attempts[key]
            state.log.attempt_times.setdefault(key, []).append(time.monotonic())
            down = faults.outage_after is not None and state.log.let_through >= faults.outage_after
            state.log.let_through += not down
        fault = faults.pick(model, prompt, text) if attempt <= faults.fault_attempts else None
        if down:
            return self._error(503, "The server is temporarily unavailable.", "service_unavailable",
                               self._retry_after(faults))
        if fault == "rate_limit":
            return self._rate_limited(faults)
        self._wait(faults, key, attempt)
        if fault == "server_error":
            return self._error(500, "The server had an error while processing your request.", "server_error",
                               self._retry_after(faults))
        if fault == "timeout":
            time.sleep(faults.timeout_seconds)
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return 0
        if fault == "malformed":
            return self._send(200, b'{"id": "chatcmpl-broken", "choices": [{"index": 0, "mess')

        response_format = payload.get("response_format")
        schema = _schema_labels(response_format) if isinstance(response_format, dict) else None
        if response_format is not None and faults.reject_response_format:
            return self._error(400, "response_format is not supported by this server", "invalid_request_error")
        with state.lock:
            state.log.by_model[model] += 1
            state.log.completions[key] += 1
        logprobs = (None if not payload.get("logprobs") else "omit" if faults.omit_logprobs else top_logprobs)
        return self._complete(state, model, prompt, text, labels, schema, max_tokens, fault, logprobs)

    @staticmethod
    def _wait(faults: Faults, key: tuple[str, str, str], attempt: int) -> None:
        delay_ms = faults.latency_ms
        if attempt == 1 and faults.spike > 0 and unit_interval("spike", *key) < faults.spike:
            delay_ms += faults.spike_ms
        if delay_ms:
            time.sleep(delay_ms / 1000)

    def _complete(self, state, model, prompt, text, labels, schema, max_tokens, fault, logprobs) -> int:
        """`logprobs`: None when not asked for, 'omit' to send null, else how many alternatives to list."""
        if schema is not None:
            field_name, labels = schema
        answer = state.simulator.answer(model, prompt, text, labels)
        label_start = None
        if fault in ("empty", "null", "off_label"):
            content = {"empty": "", "null": None, "off_label": OFF_LABEL_ANSWER}[fault]
            answer = content or ""
        elif schema is not None:
            content = json.dumps({field_name: answer}, ensure_ascii=False)
            label_start = content.rfind(answer) if answer in content else None
        elif labels:
            content = f"The answer is: {answer}."
            label_start = len("The answer is: ")
        else:
            content = answer
        choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        if logprobs == "omit":
            choice["logprobs"] = None
        elif logprobs is not None:
            score = state.simulator.score(model, prompt, text, answer, labels)
            choice["logprobs"] = answer_logprobs(content or "", logprobs, label_start, answer, labels, score)
        input_tokens, output_tokens = state.simulator.usage(prompt, text, answer)
        if max_tokens is not None:
            output_tokens = min(output_tokens, int(max_tokens))
        completion = {
            "id": f"chatcmpl-sim-{state.log.requests}", "object": "chat.completion",
            "created": int(time.time()), "model": model, "system_fingerprint": state.system_fingerprint,
            "choices": [choice],
            "usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                      "total_tokens": input_tokens + output_tokens},
        }
        status = self._send(200, json.dumps(completion).encode())
        with state.lock:
            state.log.answer_times.setdefault((model, prompt, text), []).append(time.monotonic())
        return status

    def _rate_limited(self, faults: Faults) -> int:
        return self._error(429, "Rate limit reached; slow down.", "rate_limit_exceeded", self._retry_after(faults))

    @staticmethod
    def _retry_after(faults: Faults) -> dict:
        return {} if faults.retry_after is None else {"Retry-After": faults.retry_after}

    def _error(self, status: int, message: str, code: str, headers: dict | None = None) -> int:
        body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
        return self._send(status, json.dumps(body).encode(), headers)

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> int:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        return status


def _model_named(body: bytes) -> str | None:
    try:
        return json.loads(body).get("model")
    except (ValueError, AttributeError):
        return None
