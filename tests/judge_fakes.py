"""An in-process judge for tests: grades by comparing the answer with the reference in the prompt."""

from __future__ import annotations

import re

from studies.evaluation.judge import JudgeReply

_FIELDS = re.compile(r"Reference answer:\n(?P<ref>.*?)\n\nAnswer to grade:\n(?P<ans>.*?)\n\nReply with", re.S)


class MatchJudge:
    """Grade 5 when the answer contains the reference, else 1 (``inverted``: the other way round).
    Answers containing ``unparseable`` get no grade (an endpoint reply without one)."""

    def __init__(self, name: str = "match-judge", inverted: bool = False) -> None:
        self.name, self.inverted = name, inverted
        self.prompts: list[str] = []

    def grade(self, prompts, progress=None):
        out = []
        for i, prompt in enumerate(prompts, start=1):
            self.prompts.append(prompt)
            m = _FIELDS.search(prompt)
            assert m, prompt
            if "unparseable" in m.group("ans"):
                out.append(JudgeReply(None, {"reply": "hmm"}))
            else:
                ref = m.group("ref").strip()
                right = bool(ref) and ref in m.group("ans")
                out.append(JudgeReply(5 if right != self.inverted else 1, {"reply": "fake"}))
            if progress is not None:
                progress(i, len(prompts))
        return out
