"""Regular expressions that mean in the OpenAPI document (ECMA dialect) what they mean to the server (Python)."""

from __future__ import annotations

# Python's white space (`str.isspace`, `\s` of `re`) spelled out: `\s` differs between regex dialects
# (ECMA's, which OpenAPI patterns use, lacks \x1c-\x1f and \x85), and patterns must mean what the server does.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def portable(pattern: str) -> str:
    """The pattern with Python's white-space classes written out, so it means the same in any regex dialect."""
    out, in_class, index = [], False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escape = pattern[index : index + 2]
            if escape == "\\s":
                out.append(WHITESPACE if in_class else f"[{WHITESPACE}]")
            elif escape == "\\S" and not in_class:
                out.append(f"[^{WHITESPACE}]")
            elif escape == "\\S":
                raise ValueError(f"cannot write \\S inside a character class portably: {pattern}")
            else:
                out.append(escape)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return "".join(out)


def around_spaces(pattern: str) -> str:
    """An anchored pattern that also allows the white space the server strips from both ends."""
    return r"^\s*" + pattern.removeprefix("^").removesuffix("$") + r"\s*$"
