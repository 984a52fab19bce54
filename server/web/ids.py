"""Ids in URLs: ``{id:int}`` matches only values an INTEGER column can hold (1 .. 2**31 - 1
with at most a few leading zeros); a larger number matches no route and gets the ordinary 404,
never an overflow in the database driver (a 500). Installed for every ``:int`` path parameter
when ``server.web`` is imported, before any route is built."""

from __future__ import annotations

from starlette.convertors import IntegerConvertor, register_url_convertor

MAX_ID = 2**31 - 1


def _at_most(limit: int) -> str:
    """A regular expression of the decimal numbers 0 .. ``limit`` (no leading zeros past its length)."""
    digits = str(limit)
    parts = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):
        if d != "0":
            rest = len(digits) - i - 1
            lower = f"[0-{int(d) - 1}]" if int(d) > 1 else "0"
            parts.append(digits[:i] + lower + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class BoundedIdConvertor(IntegerConvertor):
    regex = _at_most(MAX_ID)

    def convert(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:  # unreachable through the regex; a second line of defence
            raise ValueError(value)
        return number


register_url_convertor("int", BoundedIdConvertor())
