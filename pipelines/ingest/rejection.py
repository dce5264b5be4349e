"""Why a landing file is refused whole: a file rule (`file.*`) and a reason in words.

Its own module so that every reader can raise it; a reason never quotes the file's content
(it may hold personal data), only its form: a line number, a column name, a count.
"""
from __future__ import annotations


class FileRejected(Exception):
    def __init__(self, rule: str, reason: str):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason
