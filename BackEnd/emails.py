"""Email addresses: the one form accounts are stored and found by, and the addresses refused.

The stored form: surrounding spaces removed, Unicode NFKC, lower case, and the domain as
Unicode labels (an `xn--` punycode label is decoded; Python's IDNA 2003 codec, which also
folds `ß` to `ss` in the domain). So `ÉLÈVE@xn--cole-9oa.fr`, its NFD spelling and
`élève@école.fr` are one address.

Refused, because they make one address look like another or carry terminal commands:
- invisible or layout characters: controls (ESC, C1), format characters (zero-width space and
  joiners, bidirectional marks and overrides, soft hyphen, BOM), spaces, fillers, private-use
  and unassigned code points;
- letters of several scripts in one part (the local part, or one domain label), e.g. a
  Cyrillic `е` among Latin letters. Allowed mixes follow Unicode TS #39's "highly restrictive"
  level: Latin with the scripts Japanese, Chinese or Korean combine. The script of a letter is
  the first word of its Unicode name (LATIN, CYRILLIC, GREEK, CJK…). A name spelt wholly in
  another script that happens to look Latin ("аррӏе" in Cyrillic) is not detected;
- what no mail server takes: a local part outside RFC 5322's dot-atom (ASCII letters, digits,
  ``!#$%&'*+-/=?^_`{|}~`` and single inner dots; any letter, mark or digit beyond ASCII), a
  domain that is not valid IDNA with letter-digit-hyphen labels, fewer than two labels, or an
  address over 254 characters.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_EMAIL_CHARS", "email_key", "normalise_email"]

MAX_EMAIL_CHARS = 254

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp", "Zs"})
# Default-ignorable code points whose category is a letter or a mark: they draw nothing.
_INVISIBLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0"
    + "".join(map(chr, range(0x180B, 0x1810)))
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-/=?^_`{|}~")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Unicode names that do not start with the script's own name.
_SCRIPT_ALIASES = {"IDEOGRAPHIC": "CJK", "KATAKANA-HIRAGANA": "KATAKANA"}
_ALLOWED_MIXES = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)


def normalise_email(value: str) -> str:
    """The stored form of an address; ValueError (a sentence saying why) if it is refused."""
    text = _folded(value)
    if any(unicodedata.category(char) in _INVISIBLE_CATEGORIES or char in _INVISIBLE for char in text):
        raise ValueError("the email contains an invisible, control or bidirectional character")
    local, at, domain = text.partition("@")
    if not at or "@" in domain:
        raise ValueError("not a valid email address")
    _check_local_part(local)
    email = f"{local}@{_unicode_domain(domain)}"
    for part in (local, *email.partition("@")[2].split(".")):
        _check_one_script(part)
    if len(email) > MAX_EMAIL_CHARS:
        raise ValueError(f"an email address has at most {MAX_EMAIL_CHARS} characters")
    return email


def email_key(value: str) -> str:
    """The form to look an account up by; never raises.

    For an address `normalise_email` accepts, exactly its result. Anything else (a typo at
    login, an address from a hand-edited users.json) gets the same folding as far as it goes,
    so it finds the one account stored that way and no other.
    """
    text = _folded(value)
    local, at, domain = text.rpartition("@")
    try:
        return f"{local}@{_unicode_domain(domain)}" if at else text
    except ValueError:
        return text


def _folded(value: str) -> str:
    # NFKC again after lower(): lower-casing can leave a string that NFKC would still change.
    # Stripped again after: NFKC can open with a space ("¸" is " " + a combining cedilla), and
    # the form must be stable (folding it again gives it back).
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value.strip()).lower()).strip()


def _check_local_part(local: str) -> None:
    if not local or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError("the part before @ must not be empty, nor start, end or repeat dots")
    for char in local:
        if char == "." or char in _ATEXT:
            continue
        if char.isascii() or unicodedata.category(char)[0] not in "LMN":
            raise ValueError(f"the part before @ may not contain {char!r}")


def _unicode_domain(domain: str) -> str:
    """The domain as lower-case Unicode labels, whichever way (punycode or not) it was written."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
        unicode_domain = ascii_domain.encode("ascii").decode("idna")
    except UnicodeError as exc:
        raise ValueError("the domain is not a valid (internationalised) domain name") from exc
    labels = ascii_domain.split(".")
    if len(labels) < 2 or labels[-1].isdigit() or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError("the domain must be names of letters, digits and inner hyphens, joined by dots")
    return unicode_domain


def _check_one_script(part: str) -> None:
    scripts = {_script(char) for char in part if unicodedata.category(char).startswith("L")}
    if len(scripts) > 1 and not any(scripts <= mix for mix in _ALLOWED_MIXES):
        raise ValueError(f"{part!r} mixes letters of several scripts ({', '.join(sorted(scripts))})")


def _script(letter: str) -> str:
    first_word = unicodedata.name(letter, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(first_word, first_word)
