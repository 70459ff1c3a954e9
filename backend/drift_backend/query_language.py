"""The filter language of the search endpoints.

``POST /experiment/search``, ``POST /experiment/<id>/drift/search`` and
``POST /user/search`` take a MongoDB-style filter as their body, because users
already know how to write those. Handing such a body to the database as it is
would let a caller run server-side JavaScript (``$where``, ``$function``), join
other collections (``$lookup``) or query fields they must not see. So this
module accepts only an allowlisted subset of the language and translates it
into a fresh pymongo filter:

* fields: only those of the resource (``EXPERIMENT_FIELDS``, ``DRIFT_FIELDS``,
  ``USER_FIELDS``); ``DOCUMENT`` fields also allow any dotted sub-path below
  them. The API name ``id`` is stored as ``_id``.
* operators: ``FIELD_OPERATORS`` inside a field condition and
  ``LOGICAL_OPERATORS`` to combine whole filters. Everything else is refused.
* values: checked against the field's kind. Dates arrive as ISO 8601 strings
  and leave as timezone-aware UTC ``datetime`` objects, so they compare with
  the BSON dates that are stored.
* size: depth, array lengths, the number of conditions and regex length are
  bounded so that a single request cannot make the server do unbounded work.

The module is pure: no Flask, no database. Every refusal is a
``QueryLanguageError`` that says what is wrong and where.
"""

from __future__ import annotations

import enum
import re
import reprlib
from collections.abc import Mapping
from datetime import datetime, timezone

# The standard library's own regex parser, to inspect a pattern's structure (no public API does).
from re import _constants as _regex_constants
from re import _parser as _regex_parser
from types import MappingProxyType
from typing import Any

__all__ = [
    "DRIFT_FIELDS",
    "EXPERIMENT_FIELDS",
    "FIELD_OPERATORS",
    "LOGICAL_OPERATORS",
    "MAX_ARRAY_LENGTH",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_REGEXES",
    "MAX_REGEX_LENGTH",
    "USER_FIELDS",
    "FieldKind",
    "QueryLanguageError",
    "compile_filter",
]

# Nested dict/list levels in a filter; the top-level object is level 1.
# Real filters rarely go past 5 ({"$or": [{"field": {"$in": [...]}}]} is 5).
MAX_DEPTH = 10
# Elements in any single array ($in lists, $or clauses, literal values).
MAX_ARRAY_LENGTH = 500
# Field conditions plus operators in the whole filter.
MAX_CONDITIONS = 200
# Regex patterns run on the database server for every candidate document;
# keeping them short bounds how expensive a pattern can be made.
MAX_REGEX_LENGTH = 256
# ...and few: each one is a scan of the candidate documents.
MAX_REGEXES = 5
# The largest and smallest integers BSON can carry (int64). Anything beyond
# would only fail later, inside pymongo, as a server error.
_MAX_INT64 = 2**63 - 1
_MIN_INT64 = -(2**63)

LOGICAL_OPERATORS = frozenset({"$and", "$or", "$nor"})
FIELD_OPERATORS = frozenset(
    {
        "$eq", "$ne", "$gt", "$gte", "$lt", "$lte",
        "$in", "$nin", "$all",
        "$exists", "$size",
        "$regex", "$options",
        "$not",
    }
)
_RANGE_OPERATORS = frozenset({"$gt", "$gte", "$lt", "$lte"})
_LIST_OPERATORS = frozenset({"$in", "$nin", "$all"})
_REGEX_OPTION_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class FieldKind(enum.Enum):
    """What a queryable field holds, which decides the values and operators it accepts."""

    STRING = "string"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    ID = "id"
    STRING_ARRAY = "string array"
    DOCUMENT = "document"


_COMMON_OPERATORS = frozenset({"$eq", "$ne", "$in", "$nin", "$exists", "$not"})
_REGEX_OPERATORS = frozenset({"$regex", "$options"})
_OPERATORS_BY_KIND: Mapping[FieldKind, frozenset[str]] = MappingProxyType(
    {
        # Range comparisons on booleans, regexes on ids or dates and $size on
        # scalars are valid MongoDB but never what the user meant: refuse them.
        FieldKind.STRING: _COMMON_OPERATORS | _RANGE_OPERATORS | _REGEX_OPERATORS | {"$all"},
        FieldKind.BOOLEAN: _COMMON_OPERATORS,
        FieldKind.DATETIME: _COMMON_OPERATORS | _RANGE_OPERATORS,
        FieldKind.ID: _COMMON_OPERATORS | _RANGE_OPERATORS,
        FieldKind.STRING_ARRAY: _COMMON_OPERATORS | _RANGE_OPERATORS | _REGEX_OPERATORS | {"$all", "$size"},
        FieldKind.DOCUMENT: FIELD_OPERATORS,
    }
)

EXPERIMENT_FIELDS: Mapping[str, FieldKind] = MappingProxyType(
    {
        "id": FieldKind.ID,
        "name": FieldKind.STRING,
        "description": FieldKind.STRING,
        "public": FieldKind.BOOLEAN,
        "created_at": FieldKind.DATETIME,
        "updated_at": FieldKind.DATETIME,
        # `permissions` is an array of {entity, level}; MongoDB traverses the
        # array, so these match if any permission entry matches.
        "permissions.entity": FieldKind.STRING,
        "permissions.level": FieldKind.STRING,
    }
)

# `experiment_id` is deliberately absent: the server scopes drift searches to
# the experiment in the URL and adds that condition itself.
DRIFT_FIELDS: Mapping[str, FieldKind] = MappingProxyType(
    {
        "id": FieldKind.ID,
        "created_at": FieldKind.DATETIME,
        "updated_at": FieldKind.DATETIME,
        "schema_version": FieldKind.STRING,
        "job_status": FieldKind.STRING,
        "model": FieldKind.STRING,
        "tags": FieldKind.STRING_ARRAY,
        "drift_detected": FieldKind.BOOLEAN,
        "parameters": FieldKind.DOCUMENT,
        "concept_drift": FieldKind.DOCUMENT,
        "concept_drift.drift": FieldKind.BOOLEAN,
        "concept_drift.parameters": FieldKind.DOCUMENT,
        "data_drift": FieldKind.DOCUMENT,
        "data_drift.drift": FieldKind.BOOLEAN,
        "data_drift.parameters": FieldKind.DOCUMENT,
    }
)

USER_FIELDS: Mapping[str, FieldKind] = MappingProxyType(
    {
        "id": FieldKind.ID,
        "issuer": FieldKind.STRING,
        "subject": FieldKind.STRING,
        "email": FieldKind.STRING,
        "created_at": FieldKind.DATETIME,
        "updated_at": FieldKind.DATETIME,
    }
)

# API field names that are stored under another name.
_STORAGE_NAMES = MappingProxyType({"id": "_id"})


class QueryLanguageError(ValueError):
    """A filter was refused; ``message`` says why and ``path`` where.

    ``path`` locates the offending part of the filter, e.g.
    ``"$or[1].parameters.x.$gt"``; it is ``""`` for the filter as a whole.
    """

    def __init__(self, message: str, path: str = "") -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


def compile_filter(filter_doc: object, fields: Mapping[str, FieldKind]) -> dict:
    """Validate a user's filter against ``fields`` and return the pymongo filter.

    ``filter_doc`` is the decoded JSON body. The result is a new structure that
    shares nothing mutable with the input, so the caller may embed it, e.g. as
    ``{"$and": [compiled, permission_filter]}``. ``{}`` compiles to ``{}``,
    which matches everything.

    Raises ``QueryLanguageError`` for anything outside the allowed language.
    """
    if not isinstance(filter_doc, dict):
        raise QueryLanguageError(f"the filter must be a JSON object, got {_json_type(filter_doc)}")
    # Check the size limits before interpreting anything, so that the
    # recursive translation below only ever sees bounded input.
    _check_structure(filter_doc)
    return _Compiler(fields).filter(filter_doc, "")


def referenced_fields(compiled: dict) -> set[str]:
    """The stored field names a compiled filter tests, at any depth of $and/$or/$nor."""
    found: set[str] = set()
    for key, value in compiled.items():
        if key in LOGICAL_OPERATORS:
            for clause in value:
                found |= referenced_fields(clause)
        else:
            found.add(key)
    return found


def _check_structure(root: dict) -> None:
    """Enforce depth, array length and JSON-only values over the whole input.

    Iterative on purpose: a hostile body may be nested far deeper than
    Python's recursion limit.
    """
    stack: list[tuple[Any, str, int]] = [(root, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, (dict, list)) and depth > MAX_DEPTH:
            raise QueryLanguageError(f"the filter is nested too deeply (maximum depth is {MAX_DEPTH})", path)
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise QueryLanguageError(f"object keys must be strings, got {key!r}", path)
                # BSON stores keys as NUL-terminated strings.
                if "\x00" in key:
                    raise QueryLanguageError("object keys must not contain NUL characters", path)
                stack.append((item, _join(path, key), depth + 1))
        elif isinstance(value, list):
            if len(value) > MAX_ARRAY_LENGTH:
                raise QueryLanguageError(
                    f"the array has {len(value)} elements (maximum is {MAX_ARRAY_LENGTH})", path
                )
            stack.extend((item, _index(path, i), depth + 1) for i, item in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if not _MIN_INT64 <= value <= _MAX_INT64:
                raise QueryLanguageError("the number does not fit in a 64-bit integer", path)
        elif value is not None and not isinstance(value, (str, float, bool)):
            raise QueryLanguageError(f"unsupported value of type {type(value).__name__}", path)


class _Compiler:
    """Translates one filter; holds the field allowlist and the condition count."""

    def __init__(self, fields: Mapping[str, FieldKind]) -> None:
        self._fields = fields
        self._conditions = 0
        self._regexes = 0

    def filter(self, doc: dict, path: str) -> dict:
        """Translate a filter document: field conditions and logical operators."""
        compiled: dict = {}
        for key, value in doc.items():
            key_path = _join(path, key)
            self._count(key_path)
            if key in LOGICAL_OPERATORS:
                compiled[key] = self._clauses(key, value, key_path)
            elif key.startswith("$"):
                if key in FIELD_OPERATORS:
                    raise QueryLanguageError(
                        f"operator '{key}' must be applied to a field, "
                        f'e.g. {{"name": {{"{key}": ...}}}}',
                        key_path,
                    )
                raise _unsupported_operator(key, key_path)
            else:
                kind = self._resolve_field(key, key_path)
                compiled[_STORAGE_NAMES.get(key, key)] = self._condition(key, kind, value, key_path)
        return compiled

    def _clauses(self, operator: str, value: object, path: str) -> list:
        if not isinstance(value, list) or not value:
            raise QueryLanguageError(
                f"'{operator}' expects a non-empty array of filter objects, got {_describe(value)}", path
            )
        clauses = []
        for i, clause in enumerate(value):
            if not isinstance(clause, dict):
                raise QueryLanguageError(
                    f"each clause of '{operator}' must be a filter object, got {_json_type(clause)}",
                    _index(path, i),
                )
            clauses.append(self.filter(clause, _index(path, i)))
        return clauses

    def _resolve_field(self, name: str, path: str) -> FieldKind:
        """Return the kind of field ``name``, or refuse a name outside the allowlist."""
        segments = name.split(".")
        if any(segment == "" or segment.startswith("$") for segment in segments):
            raise QueryLanguageError(
                f"invalid field path '{name}': path segments must be non-empty and must not start with '$'",
                path,
            )
        # The longest registered prefix decides: `concept_drift.drift.x` is a
        # sub-path of the boolean `concept_drift.drift`, not of the document
        # `concept_drift`, and so is refused.
        for end in range(len(segments), 0, -1):
            prefix = ".".join(segments[:end])
            kind = self._fields.get(prefix)
            if kind is None:
                continue
            if end == len(segments) or kind is FieldKind.DOCUMENT:
                return kind
            raise QueryLanguageError(
                f"field '{prefix}' has no sub-fields, so '{name}' cannot be queried", path
            )
        raise QueryLanguageError(f"unknown field '{name}'; {self._allowed_fields()}", path)

    def _allowed_fields(self) -> str:
        text = "allowed fields: " + ", ".join(sorted(self._fields))
        documents = sorted(name for name, kind in self._fields.items() if kind is FieldKind.DOCUMENT)
        if documents:
            text += "; any sub-field may be queried below " + ", ".join(documents)
        return text

    def _condition(self, field: str, kind: FieldKind, value: object, path: str) -> Any:
        """Translate the value of a field: an operator expression or a literal to match."""
        if isinstance(value, dict) and any(key.startswith("$") for key in value):
            plain = [key for key in value if not key.startswith("$")]
            if plain:
                raise QueryLanguageError(
                    f"the condition on field '{field}' mixes operators with plain keys "
                    f"({', '.join(plain)}); use either an operator object or a literal document",
                    path,
                )
            return self._operators(field, kind, value, path)
        return _equality_value(field, kind, value, path)

    def _operators(self, field: str, kind: FieldKind, expression: dict, path: str) -> dict:
        """Translate an operator expression such as ``{"$gte": 1, "$lt": 5}``."""
        if "$options" in expression and "$regex" not in expression:
            raise QueryLanguageError("'$options' is only allowed together with '$regex'", _join(path, "$options"))
        compiled: dict = {}
        for operator, operand in expression.items():
            op_path = _join(path, operator)
            self._count(op_path)
            if operator in LOGICAL_OPERATORS:
                raise QueryLanguageError(
                    f"'{operator}' combines whole filters and cannot be used inside the condition "
                    f"on field '{field}'; put it at the top level, e.g. "
                    f'{{"{operator}": [{{"{field}": ...}}, ...]}}',
                    op_path,
                )
            if operator not in FIELD_OPERATORS:
                raise _unsupported_operator(operator, op_path)
            if operator not in _OPERATORS_BY_KIND[kind]:
                raise QueryLanguageError(
                    f"operator '{operator}' cannot be used on field '{field}' ({kind.value})", op_path
                )
            compiled[operator] = self._operand(field, kind, operator, operand, op_path)
        if "$regex" in compiled:
            self._regexes += 1
            if self._regexes > MAX_REGEXES:
                raise QueryLanguageError(f"too many regular expressions (maximum is {MAX_REGEXES})",
                                         _join(path, "$regex"))
            _check_regex(field, compiled["$regex"], compiled.get("$options", ""), path)
        return compiled

    def _operand(self, field: str, kind: FieldKind, operator: str, operand: object, path: str) -> Any:
        if operator in ("$eq", "$ne"):
            return _equality_value(field, kind, operand, path)
        if operator in _RANGE_OPERATORS:
            return _range_value(field, kind, operand, path)
        if operator in _LIST_OPERATORS:
            if not isinstance(operand, list):
                raise QueryLanguageError(f"'{operator}' expects an array, got {_json_type(operand)}", path)
            return [_equality_value(field, kind, item, _index(path, i)) for i, item in enumerate(operand)]
        if operator == "$exists":
            if not isinstance(operand, bool):
                raise QueryLanguageError(f"'$exists' expects true or false, got {_describe(operand)}", path)
            return operand
        if operator == "$size":
            if not isinstance(operand, int) or isinstance(operand, bool) or operand < 0:
                raise QueryLanguageError(f"'$size' expects a non-negative integer, got {_describe(operand)}", path)
            return operand
        if operator in _REGEX_OPERATORS:
            # Pattern and options are checked as a pair once the whole
            # expression is read (see _check_regex).
            return operand
        # $not: MongoDB accepts an operator expression (a regex is written
        # {"$regex": ...} in JSON) and negates it for this same field.
        if not isinstance(operand, dict) or not operand or not all(key.startswith("$") for key in operand):
            raise QueryLanguageError(
                "'$not' expects an operator object such as {\"$regex\": \"^a\"} or {\"$gt\": 5}, "
                f"got {_describe(operand)}",
                path,
            )
        return self._operators(field, kind, operand, path)

    def _count(self, path: str) -> None:
        self._conditions += 1
        if self._conditions > MAX_CONDITIONS:
            raise QueryLanguageError(
                f"the filter has too many conditions (maximum is {MAX_CONDITIONS})", path
            )


def _equality_value(field: str, kind: FieldKind, value: object, path: str) -> Any:
    """Check a value to match for equality (implicit, $eq, $ne, $in, $nin, $all)."""
    if kind is FieldKind.DOCUMENT:
        return _literal(value, path)
    if kind is FieldKind.BOOLEAN:
        # bool first: in Python True is an int, and 1 is not a boolean here.
        if not isinstance(value, bool):
            raise _wrong_type(field, "a boolean", value, path)
        return value
    if kind is FieldKind.DATETIME:
        return _datetime(field, value, path)
    # STRING, ID, and STRING_ARRAY (whose values match single elements).
    if not isinstance(value, str):
        raise _wrong_type(field, "a string", value, path)
    return value


def _range_value(field: str, kind: FieldKind, value: object, path: str) -> Any:
    """Check a bound for $gt/$gte/$lt/$lte."""
    if kind is FieldKind.DATETIME:
        return _datetime(field, value, path)
    if kind is FieldKind.DOCUMENT:
        # Free-form parameters: compare numbers (thresholds, p-values) or strings.
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _wrong_type(field, "a number or a string", value, path)
        return value
    if not isinstance(value, str):
        raise _wrong_type(field, "a string", value, path)
    return value


def _literal(value: object, path: str) -> Any:
    """Copy a literal JSON value, refusing ``$`` keys at any depth.

    A ``$`` key inside a literal would be read by MongoDB as an operator,
    which would smuggle in operators the allowlist never saw.
    """
    if isinstance(value, dict):
        copy = {}
        for key, item in value.items():
            if key.startswith("$"):
                raise QueryLanguageError(
                    f"'{key}' is not allowed inside a literal value: keys starting with '$' are operators",
                    _join(path, key),
                )
            copy[key] = _literal(item, _join(path, key))
        return copy
    if isinstance(value, list):
        return [_literal(item, _index(path, i)) for i, item in enumerate(value)]
    return value


def _datetime(field: str, value: object, path: str) -> datetime:
    """Parse an ISO 8601 date or date-time into an aware UTC datetime.

    Stored dates are UTC; a value without an offset is taken as UTC too, so
    that "2026-11-22" means the start of that day in UTC.
    """
    if not isinstance(value, str):
        raise _wrong_type(field, "an ISO 8601 date string", value, path)
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=timezone.utc)
        # Converting an offset near year 1 or 9999 can overflow.
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise QueryLanguageError(
            f"invalid date {reprlib.repr(value)} for field '{field}': expected ISO 8601 "
            "such as '2026-11-22', '2026-11-22T10:00:00Z' or '2026-11-22T10:00:00+01:00'",
            path,
        ) from None


def _check_regex(field: str, pattern: object, options: object, path: str) -> None:
    """Check a ``$regex`` pattern and its ``$options``; ``path`` is the operator object's."""
    if not isinstance(options, str):
        raise QueryLanguageError(
            f"'$options' expects a string, got {_json_type(options)}", _join(path, "$options")
        )
    unknown = sorted(set(options) - set(_REGEX_OPTION_FLAGS))
    if unknown:
        raise QueryLanguageError(
            f"unsupported regex option(s) {''.join(unknown)!r}; allowed options are 'imsx'",
            _join(path, "$options"),
        )
    pattern_path = _join(path, "$regex")
    if not isinstance(pattern, str):
        raise QueryLanguageError(f"'$regex' expects a string, got {_json_type(pattern)}", pattern_path)
    if len(pattern) > MAX_REGEX_LENGTH:
        raise QueryLanguageError(
            f"the regex pattern has {len(pattern)} characters (maximum is {MAX_REGEX_LENGTH})", pattern_path
        )
    # Python's `re` is close enough to the server's PCRE to catch malformed
    # patterns here, with a clear message, instead of as a server error.
    flags = 0
    for option in options:
        flags |= _REGEX_OPTION_FLAGS[option]
    try:
        re.compile(pattern, flags)
        parsed = _regex_parser.parse(pattern, flags)
    except re.error as exc:
        raise QueryLanguageError(f"invalid regular expression for field '{field}': {exc}", pattern_path) from None
    problem = _backtracking_risk(parsed)
    if problem:
        raise QueryLanguageError(f"regular expression for field '{field}' not allowed: {problem}", pattern_path)


_UNBOUNDED = _regex_constants.MAXREPEAT  # how the parser spells an open-ended repeat ({n,}, *, +)
_REPEATS = {_regex_constants.MAX_REPEAT, _regex_constants.MIN_REPEAT, _regex_constants.POSSESSIVE_REPEAT}
# Backtracking tries, at worst, every combination of the ways each repetition may match, at every
# position of the text, and one match cannot be interrupted (the embedded development server runs
# Python's `re`: `.*.*a` takes 1.3 s on 2,000 characters, `a.*b.*c` 38 s on 10,000). So a pattern's
# repetitions may not multiply: an open-ended one (*, +, {n,}, or over 100 times) stands for the
# text's length, costed as OPEN_REPEAT_COST, a bounded one by how many counts it may match, and the
# product must stay within MAX_REGEX_COST: one open-ended repetition with a few small ones.
OPEN_REPEAT_COST = 1_000
MAX_REGEX_COST = 10 * OPEN_REPEAT_COST
_OPEN_REPEAT_ABOVE = 100


def _backtracking_risk(parsed) -> str | None:
    """Why a pattern can take exponential (or high polynomial) time on a backtracking engine, or None.

    Refused: backreferences, lookarounds, a repetition inside a repetition that varies (``(a+)+``,
    ``(x+x+)*``, ``(a{1,9}){1,9}``), a varying repetition of a choice (``(a|aa)*``: write a class
    such as ``[ab]+`` instead), and patterns whose repetitions multiply past MAX_REGEX_COST
    (``.*a.*b``). Prefixes, alternatives, classes and bounded groups such as ``(ab){1,3}`` stay allowed.
    """
    cost = [1]
    problem = _walk_regex(parsed, outer=None, cost=cost)
    if problem:
        return problem
    if cost[0] > MAX_REGEX_COST:
        return ("its repetitions multiply the work (two of *, + or {n,}, or many ? and {m,n}): use at most "
                "one open-ended repetition per pattern, and combine several patterns with $and")
    return None


def _walk_regex(parsed, outer: tuple[int, int] | None, cost: list[int]) -> str | None:
    """Check one level of a parsed pattern; `outer` is (min, max) of the repetition around it, if any."""
    for op, argument in parsed:
        if op is _regex_constants.GROUPREF or op is _regex_constants.GROUPREF_EXISTS:
            return "backreferences are not supported"
        if op in (_regex_constants.ASSERT, _regex_constants.ASSERT_NOT):
            return "lookahead and lookbehind are not supported"
        problem = None
        if op in _REPEATS:
            low, high, body = argument
            varies = low != high
            if outer is not None and high > 1 and (outer[0] != outer[1] or varies):
                return "nested repetition such as (a+)+ can take exponential time"
            if varies:
                open_ended = high == _UNBOUNDED or high > _OPEN_REPEAT_ABOVE
                cost[0] *= OPEN_REPEAT_COST if open_ended else high - low + 1
            problem = _walk_regex(body, (low, high) if high > 1 else outer, cost)
        elif op is _regex_constants.SUBPATTERN:
            problem = _walk_regex(argument[-1], outer, cost)
        elif op is _regex_constants.BRANCH:
            if outer is not None and outer[0] != outer[1]:
                return ("repeating a choice such as (a|aa)* can take exponential time; "
                        "use a character class such as [ab]+")
            problem = next(filter(None, (_walk_regex(branch, outer, cost) for branch in argument[1])), None)
        elif op is _regex_constants.ATOMIC_GROUP:
            problem = _walk_regex(argument, outer, cost)
        if problem:
            return problem
    return None


def _unsupported_operator(operator: str, path: str) -> QueryLanguageError:
    allowed = ", ".join(sorted(LOGICAL_OPERATORS | FIELD_OPERATORS))
    return QueryLanguageError(f"operator '{operator}' is not allowed; allowed operators: {allowed}", path)


def _wrong_type(field: str, expected: str, value: object, path: str) -> QueryLanguageError:
    return QueryLanguageError(f"field '{field}' expects {expected}, got {_describe(value)}", path)


def _describe(value: object) -> str:
    """Name a value for an error message: its JSON type, plus the value if scalar."""
    if isinstance(value, (dict, list)) or value is None:
        return _json_type(value)
    return f"{_json_type(value)} {reprlib.repr(value)}"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _index(path: str, index: int) -> str:
    return f"{path}[{index}]"
