"""Rebuild general_heldout.jsonl from the installed Python's standard-library module docstrings (PSF-2.0)."""

import importlib
import json
import sys
from pathlib import Path

MODULES = """abc argparse array ast asyncio base64 bisect bz2 calendar cmath codecs collections colorsys configparser
contextlib copy csv dataclasses datetime decimal difflib enum filecmp fnmatch fractions functools getopt getpass gettext
glob gzip hashlib heapq hmac html http imaplib inspect io ipaddress itertools json keyword linecache locale logging lzma
mailbox mimetypes netrc numbers operator optparse os pathlib pickle pkgutil platform plistlib poplib pprint queue quopri
random re reprlib sched secrets selectors shelve shlex shutil signal smtplib socket sqlite3 statistics string struct
subprocess tarfile tempfile textwrap threading timeit tokenize tomllib traceback types typing unittest uuid warnings
weakref zipfile zlib""".split()


def main() -> None:
    rows = []
    for name in MODULES:
        try:
            doc = (importlib.import_module(name).__doc__ or "").strip()
        except ImportError:
            continue
        first = " ".join(doc.split("\n\n")[0].split())
        if 15 <= len(first) <= 160:
            rows.append({"id": f"py-{name}", "input": f"In one sentence: what is the Python standard library module `{name}` for?",
                         "output": first, "group": f"python/{name}",
                         "meta": {"source": f"CPython {sys.version.split()[0]} Lib/{name} module docstring"}})
    out = Path(__file__).with_name("general_heldout.jsonl")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} items -> {out}")


if __name__ == "__main__":
    main()
