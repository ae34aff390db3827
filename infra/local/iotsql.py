"""The subset of the AWS IoT SQL language (version 2016-03-23) that iot-rules/*.json use.

Supported:
    SELECT <item>[, <item> ...] FROM '<topic filter>' [WHERE <condition>]
    items      *  |  <expr> [AS <name>]
    expr       encode(*, 'base64')  topic()  topic(N)  timestamp()  newuuid()
               a.b.c (a payload field)  'string'  123  1.5  true  false
    condition  <expr> (= | <> | != | < | <= | > | >=) <expr>, combined with AND / OR / NOT and ( )

Evaluated as AWS IoT does: topic(N) is 1-based, timestamp() is milliseconds since the epoch, a
field that is missing (or a payload that is not JSON) is *undefined* and left out of the result,
a comparison with an undefined operand is false. Anything else raises `UnsupportedSql` when the rule
is parsed, so the local stack refuses to start instead of silently shaping events differently.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class UnsupportedSql(ValueError):
    """The rule uses SQL the local rules bridge does not implement."""


class _Undefined:
    def __repr__(self) -> str:
        return "Undefined"


UNDEFINED: Any = _Undefined()


@dataclass(frozen=True)
class Message:
    """One MQTT message as the rules engine sees it."""

    topic: str
    payload: bytes
    timestamp_ms: int

    def json(self) -> Any:
        try:
            return json.loads(self.payload)
        except (ValueError, UnicodeDecodeError):
            return UNDEFINED


Expr = Callable[[Message], Any]


@dataclass(frozen=True)
class SelectItem:
    name: str | None  # None for `*`
    expr: Expr | None  # None for `*`


@dataclass(frozen=True)
class Rule:
    sql: str
    topic_filter: str
    items: list[SelectItem]
    where: Expr | None = field(default=None)

    def matches(self, message: Message) -> bool:
        return self.where is None or self.where(message) is True

    def evaluate(self, message: Message) -> dict[str, Any] | None:
        """The event the rule's action receives, or None when WHERE filters the message out."""
        if not self.matches(message):
            return None
        result: dict[str, Any] = {}
        for item in self.items:
            if item.expr is None:
                body = message.json()
                if isinstance(body, dict):
                    result.update(body)
                continue
            value = item.expr(message)
            if value is not UNDEFINED and item.name is not None:
                result[item.name] = value
        return result


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><>|!=|<=|>=|=|<|>)
      | (?P<punct>[(),*.])
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"select", "from", "where", "as", "and", "or", "not", "true", "false"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _tokenize(sql: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    sql = sql.strip()
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if not m or m.end() == pos:
            raise UnsupportedSql(f"cannot parse IoT SQL near {sql[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind == "ident" and text.lower() in _KEYWORDS:
            kind, text = "kw", text.lower()
        tokens.append(_Tok(kind, text))
        pos = m.end()
        while pos < len(sql) and sql[pos].isspace():
            pos += 1
    return tokens


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is UNDEFINED or right is UNDEFINED:
        return False
    try:
        if op == "=":
            return bool(left == right)
        if op in ("<>", "!="):
            return bool(left != right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
    except TypeError:
        return False
    raise UnsupportedSql(f"operator {op}")


class _Parser:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.toks = _tokenize(sql)
        self.i = 0

    def peek(self, kind: str | None = None, text: str | None = None) -> bool:
        if self.i >= len(self.toks):
            return False
        tok = self.toks[self.i]
        return (kind is None or tok.kind == kind) and (text is None or tok.text == text)

    def take(self, kind: str | None = None, text: str | None = None) -> _Tok:
        if not self.peek(kind, text):
            found = self.toks[self.i].text if self.i < len(self.toks) else "end of statement"
            raise UnsupportedSql(f"expected {text or kind} but found {found!r} in: {self.sql}")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def statement(self) -> Rule:
        self.take("kw", "select")
        items = [self.select_item()]
        while self.peek("punct", ","):
            self.take()
            items.append(self.select_item())
        self.take("kw", "from")
        topic_filter = _string_value(self.take("string").text)
        where: Expr | None = None
        if self.peek("kw", "where"):
            self.take()
            where = self.condition()
        if self.i != len(self.toks):
            raise UnsupportedSql(f"unsupported IoT SQL after {self.toks[self.i - 1].text!r}: {self.sql}")
        return Rule(sql=self.sql, topic_filter=topic_filter, items=items, where=where)

    def select_item(self) -> SelectItem:
        if self.peek("punct", "*"):
            self.take()
            return SelectItem(name=None, expr=None)
        expr, default_name = self.value()
        name = default_name
        if self.peek("kw", "as"):
            self.take()
            name = self.take("ident").text
        if name is None:
            raise UnsupportedSql(f"a computed SELECT item needs `AS name`: {self.sql}")
        return SelectItem(name=name, expr=expr)

    # condition := disjunction
    def condition(self) -> Expr:
        left = self.conjunction()
        while self.peek("kw", "or"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda m: a(m) is True or b(m) is True)(left, right)
        return left

    def conjunction(self) -> Expr:
        left = self.negation()
        while self.peek("kw", "and"):
            self.take()
            right = self.negation()
            left = (lambda a, b: lambda m: a(m) is True and b(m) is True)(left, right)
        return left

    def negation(self) -> Expr:
        if self.peek("kw", "not"):
            self.take()
            inner = self.negation()
            return lambda m: inner(m) is not True
        if self.peek("punct", "("):
            self.take()
            inner = self.condition()
            self.take("punct", ")")
            return inner
        left, _ = self.value()
        if self.peek("op"):
            op = self.take().text
            right, _ = self.value()
            return lambda m: _compare(op, left(m), right(m))
        return lambda m: left(m) is True

    def value(self) -> tuple[Expr, str | None]:
        tok = self.take()
        if tok.kind == "string":
            text = _string_value(tok.text)
            return (lambda _m: text), None
        if tok.kind == "number":
            num: float | int = float(tok.text) if "." in tok.text else int(tok.text)
            return (lambda _m: num), None
        if tok.kind == "kw" and tok.text in ("true", "false"):
            flag = tok.text == "true"
            return (lambda _m: flag), None
        if tok.kind != "ident":
            raise UnsupportedSql(f"unsupported expression {tok.text!r} in: {self.sql}")
        if self.peek("punct", "("):
            return self.function(tok.text.lower()), None
        path = [tok.text]
        while self.peek("punct", "."):
            self.take()
            path.append(self.take("ident").text)
        return _field(path), path[-1]

    def function(self, name: str) -> Expr:
        self.take("punct", "(")
        if name == "encode":
            self.take("punct", "*")
            self.take("punct", ",")
            encoding = _string_value(self.take("string").text)
            self.take("punct", ")")
            if encoding.lower() != "base64":
                raise UnsupportedSql(f"encode(*, {encoding!r}) is not supported (only 'base64')")
            return lambda m: base64.b64encode(m.payload).decode("ascii")
        if name == "topic":
            if self.peek("punct", ")"):
                self.take()
                return lambda m: m.topic
            index = int(self.take("number").text)
            self.take("punct", ")")
            if index < 1:
                raise UnsupportedSql(f"topic({index}): topic segments are numbered from 1")

            def segment(m: Message) -> Any:
                parts = m.topic.split("/")
                return parts[index - 1] if index <= len(parts) else UNDEFINED

            return segment
        if name == "timestamp":
            self.take("punct", ")")
            return lambda m: m.timestamp_ms
        if name == "newuuid":
            self.take("punct", ")")
            return lambda _m: str(uuid.uuid4())
        raise UnsupportedSql(f"function {name}() is not supported by the local rules bridge: {self.sql}")


def _string_value(token_text: str) -> str:
    return token_text[1:-1].replace("''", "'")


def _field(path: list[str]) -> Expr:
    def get(m: Message) -> Any:
        value = m.json()
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return UNDEFINED
            value = value[key]
        return value

    return get


def parse(sql: str) -> Rule:
    """Parse one rule's SQL; raises UnsupportedSql for anything outside the subset."""
    return _Parser(sql).statement()


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching with `+` and `#`."""
    fparts = topic_filter.split("/")
    tparts = topic.split("/")
    for i, fpart in enumerate(fparts):
        if fpart == "#":
            return True
        if i >= len(tparts):
            return False
        if fpart != "+" and fpart != tparts[i]:
            return False
    return len(fparts) == len(tparts)
