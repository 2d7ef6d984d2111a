"""Compiled Jinja templates kept in the target folder between runs (what dbt's partial parsing saves
for the Jinja of a project): a model file whose text has not changed is not compiled again.

A compiled template is found by the file's path and by what else decides its code (the versions of
smart-sql, Jinja and Python, the environment's extensions), and used only if the file's text is the
one it was compiled from (Jinja checks that); anything unreadable is compiled afresh.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import jinja2
from jinja2.bccache import Bucket

import smart_sql


class CompiledTemplates(jinja2.BytecodeCache):
    def __init__(self, directory: Path, extensions: list[str]):
        self.directory = directory
        self.fingerprint = "|".join([smart_sql.__version__, jinja2.__version__, sys.version, *sorted(extensions)])

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return hashlib.sha1(f"{self.fingerprint}|{name}|{filename}".encode()).hexdigest()

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            with open(self.directory / bucket.key, "rb") as file:
                bucket.load_bytecode(file)
        except (OSError, ValueError, EOFError):
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Written whole or not at all, so that threads and later runs never read half a file."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            with os.fdopen(handle, "wb") as file:
                bucket.write_bytecode(file)
            os.replace(temporary, self.directory / bucket.key)
        except OSError:
            pass
