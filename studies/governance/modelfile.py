"""Ollama Modelfiles that prompt exactly as the evaluation did: template, system prompt, stop tokens, greedy.

The TEMPLATE is derived from the model's own chat template (Jinja, as the evaluation applied it) by
rendering it with sentinel strings and putting Ollama's placeholders where the sentinels landed:

    {{ if .System }}A{{ .System }}B{{ else }}W{{ end }}{{ .Prompt }}C{{ .Response }}E

``A``/``B`` wrap a system message, ``W`` is what the chat template writes when there is none (its
default system prompt, if any), ``C`` opens the assistant turn and ``E`` closes it. That works for any
chat template whose single-turn rendering has this shape (ChatML, Llama 3, Mistral, ...), and a
template that does not is refused rather than guessed. :func:`render` applies a Modelfile's template
the way Ollama does for one turn, so a test (and the export check) can compare its prompts token for
token with the chat template's.

Sampling parameters make Ollama decode like the evaluation: temperature 0, no repeat penalty (Ollama
defaults to 1.1), ``num_predict`` = the evaluation's ``max_new_tokens``, and one ``stop`` per end token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import ExportError

_SYS, _PROMPT, _RESP = "\u2063SYS\u2063", "\u2063PROMPT\u2063", "\u2063RESP\u2063"
_SHAPE = re.compile(
    r"\A\{\{ if \.System \}\}(?P<a>.*?)\{\{ \.System \}\}(?P<b>.*?)\{\{ else \}\}(?P<w>.*?)\{\{ end \}\}"
    r"\{\{ \.Prompt \}\}(?P<c>.*?)\{\{ \.Response \}\}(?P<e>.*)\Z",
    re.DOTALL,
)


@dataclass
class Modelfile:
    """What an Ollama Modelfile says: the GGUF it loads, the prompt template, system prompt, stops, parameters."""

    source: str
    """The FROM line: the GGUF file, relative to the Modelfile."""
    template: str
    system: str | None = None
    stops: list[str] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    """Other PARAMETER lines (temperature, repeat_penalty, num_predict, num_ctx, seed)."""

    def text(self) -> str:
        """The Modelfile as Ollama reads it."""
        lines = [f"FROM {self.source}", f"TEMPLATE {_quote(self.template)}"]
        if self.system is not None:
            lines.append(f"SYSTEM {_quote(self.system)}")
        lines += [f"PARAMETER stop {_quote(stop)}" for stop in self.stops]
        lines += [f"PARAMETER {name} {value}" for name, value in self.parameters.items()]
        return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    if '"""' in text:
        raise ExportError(f"Cannot write {text[:40]!r}... into a Modelfile: it contains a triple quote, which Ollama cannot escape.")
    return f'"""{text}"""'


def derive_template(tokenizer: Any) -> str:
    """The Ollama TEMPLATE equivalent to ``tokenizer``'s chat template for one system + user turn."""
    def render(messages: list[dict[str, str]], generation: bool) -> str:
        try:
            return tokenizer.apply_chat_template(messages, add_generation_prompt=generation, tokenize=False)
        except Exception as exc:  # noqa: BLE001 - jinja's TemplateError, or a template that rejects a role
            raise ExportError(f"The chat template cannot render a system + user turn ({type(exc).__name__}: {exc}); "
                              "write the Modelfile TEMPLATE by hand.") from exc

    if not getattr(tokenizer, "chat_template", None):
        raise ExportError("The model has no chat template, so there is no prompt format to carry into a Modelfile. "
                          "Export --format gguf and write the TEMPLATE by hand, or train on a chat model.")
    with_system = render([{"role": "system", "content": _SYS}, {"role": "user", "content": _PROMPT}], True)
    without = render([{"role": "user", "content": _PROMPT}], True)
    answered = render([{"role": "system", "content": _SYS}, {"role": "user", "content": _PROMPT},
                       {"role": "assistant", "content": _RESP}], False)
    if with_system.count(_SYS) != 1 or with_system.count(_PROMPT) != 1 or with_system.index(_SYS) > with_system.index(_PROMPT):
        raise ExportError("The chat template does not render a system message before the user message; its prompt "
                          "format cannot be carried into an Ollama TEMPLATE automatically.")
    a, rest = with_system.split(_SYS)
    b, c = rest.split(_PROMPT)
    if without.count(_PROMPT) != 1 or not without.endswith(_PROMPT + c):
        raise ExportError("The chat template ends a user turn differently with and without a system message; "
                          "write the Modelfile TEMPLATE by hand.")
    w = without[: -len(_PROMPT + c)]
    e = answered.split(_RESP, 1)[1] if _RESP in answered else ""  # what closes the assistant turn
    template = f"{{{{ if .System }}}}{a}{{{{ .System }}}}{b}{{{{ else }}}}{w}{{{{ end }}}}{{{{ .Prompt }}}}{c}{{{{ .Response }}}}{e}"
    if any("{{" in part or "}}" in part for part in (a, b, w, c, e)):
        raise ExportError("The chat template writes literal `{{`/`}}`, which an Ollama TEMPLATE would read as code.")
    return template


def build(tokenizer: Any, source: str, *, system_prompt: str | None, stops: Sequence[str], max_new_tokens: int,
          context_tokens: int) -> Modelfile:
    """A Modelfile that prompts, stops and decodes as the evaluation did (greedy)."""
    return Modelfile(
        source=source,
        template=derive_template(tokenizer),
        system=system_prompt,
        stops=list(stops),
        parameters={"temperature": "0", "top_k": "1", "repeat_penalty": "1", "seed": "0",
                    "num_predict": str(int(max_new_tokens)), "num_ctx": str(int(context_tokens))},
    )


_LINE = re.compile(r'\A(FROM|TEMPLATE|SYSTEM|PARAMETER)\s+(.*)\Z', re.DOTALL)


def parse(text: str) -> Modelfile:
    """Read a Modelfile (the commands this module writes: FROM, TEMPLATE, SYSTEM, PARAMETER)."""
    commands: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        head = text[pos:end]
        if head.startswith("#"):
            pos = end + 1
            continue
        quote = head.find('"""')
        if quote >= 0:
            close = text.find('"""', pos + quote + 3)
            if close < 0:
                raise ExportError(f"Modelfile: unterminated triple quote after {head[:40]!r}.")
            end = close + 3
        match = _LINE.match(text[pos:end])
        if not match:
            raise ExportError(f"Modelfile: cannot read line {head[:60]!r}.")
        commands.append((match.group(1), match.group(2)))
        pos = end + 1
    out = Modelfile(source="", template="")
    for command, arg in commands:
        if command == "FROM":
            out.source = arg.strip()
        elif command == "TEMPLATE":
            out.template = _unquote(arg)
        elif command == "SYSTEM":
            out.system = _unquote(arg)
        else:
            name, _, value = arg.partition(" ")
            if name == "stop":
                out.stops.append(_unquote(value))
            else:
                out.parameters[name] = value.strip()
    if not out.source or not out.template:
        raise ExportError("Modelfile: FROM and TEMPLATE are both required.")
    return out


def _unquote(arg: str) -> str:
    arg = arg.strip()
    if arg.startswith('"""') and arg.endswith('"""') and len(arg) >= 6:
        return arg[3:-3]
    if arg.startswith('"') and arg.endswith('"') and len(arg) >= 2:
        return arg[1:-1]
    return arg


def render(modelfile: Modelfile, conversation: Sequence[dict[str, str]]) -> str:
    """The prompt Ollama builds from ``modelfile`` for one turn (a system message, if any, then one user message)."""
    match = _SHAPE.match(modelfile.template)
    if not match:
        raise ExportError("This Modelfile's TEMPLATE is not one this product wrote; it cannot be checked here.")
    messages = list(conversation)
    system = modelfile.system
    if messages and messages[0].get("role") == "system":
        system = messages.pop(0)["content"]
    if len(messages) != 1 or messages[0].get("role") != "user":
        raise ExportError("A Modelfile check renders one user turn (optionally after a system message).")
    head = f"{match['a']}{system}{match['b']}" if system else match["w"]
    return f"{head}{messages[0]['content']}{match['c']}"
