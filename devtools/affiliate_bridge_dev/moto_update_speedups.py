"""A short road through moto's update expressions, for the simple ones the bridge writes.

moto validates an ``UpdateExpression`` by deep-copying its syntax tree and walking it
eleven times (attribute values, names, functions, key and type checks...), then walks
it once more to execute it. ``SET`` actions nest one inside the next, and two of the
walks search each subtree again at every node. For the ledger's upsert (14 ``SET``
actions, an ``if_not_exists`` and an ``ADD``) that was 18.8 ms of the embedded AWS's
CPU per webhook, more than the rest of the webhook's calls together.

This module recognises, on the tree moto has already parsed, the expressions made only
of top-level attributes (``#name`` or a plain name)::

    SET a = :v [, ...]   SET a = if_not_exists(a, :v)   ADD n :number

It resolves them as moto's walks would (names and values from the request, the
``if_not_exists`` against the item as it stood, ``ADD`` to a number or to nothing) and
applies them in the expression's order, through the item's own attribute map (so
moto's item size limit still applies). Anything it does not recognise, or that moto
would refuse (a name or value not defined, a reserved word, a key attribute, a
repeated path, a path whose text as written, a plain name or a ``#placeholder``, is one
of the table's attribute definitions: moto checks key types and empty keys against that
text, not the name it stands for; ``ADD`` to a non-number, more than one clause of a
kind, ``REMOVE``, ``DELETE``, nested paths, arithmetic, ``list_append``), goes through
moto's own validator and executor unchanged, and so gets moto's answer and error.

moto also parses the same expression twice per request (once to check the names it
uses, once to apply it): each parsed tree is kept, by its text. No step of moto changes
a parsed tree (its validator works on a deep copy), so the tree is as good as new.

Measured in-process, that ledger upsert: 14.3 ms with ``moto_request_speedups``, then
2.2-3.1 ms with this. Keeping the item's size as a running sum (``SimpleUpdate.apply``)
then took a third of the function calls out of what was left (2.68 M to 1.81 M over 300
upserts through moto's WSGI application, profiled).
``tests/unit/devtools/test_moto_update_speedups.py`` runs generated updates (simple ones
and every refused kind, and ones near the size limit) against generated items with and
without it and compares the items and errors.
"""

from __future__ import annotations

import functools
from typing import Any

from affiliate_bridge_dev.moto_patching import install
from affiliate_bridge_dev.moto_request_speedups import ITEM_SIZE_LIMIT

_ADD, _SET = "add", "set"


class SimpleUpdate:
    """What moto's validator would hand its executor, already resolved: (kind, name,
    value) steps in the expression's order."""

    def __init__(self, steps: list[tuple[str, str, Any]]) -> None:
        self.steps = steps

    def normalize(self) -> None:
        """moto's tree is normalised before it is executed; the steps are in order already."""

    def apply(self, item: Any) -> None:
        """Each step as ``item.attrs[name] = value`` would do it. moto's item map sums the
        size of every attribute it holds before each assignment (quadratic: a third of
        the ledger's upsert); here the sum is kept as the steps go, and a step that would
        pass the limit raises the same ``ItemSizeTooLarge`` at the same step."""
        from moto.dynamodb.exceptions import ItemSizeTooLarge
        from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
        from moto.dynamodb.models.utilities import bytesize

        def size(member: Any) -> int:  # as LimitedSizeDict.__setitem__ counts a key or a value
            return int(member.size()) if type(member) is DynamoType else int(bytesize(str(member)))

        attrs = item.attrs
        sized = type(attrs) is LimitedSizeDict
        held = sum(size(name) + size(value) for name, value in attrs.items()) if sized else 0
        for kind, name, value in self.steps:
            if kind == _ADD:
                existing = attrs.get(name)
                value = (existing if existing is not None else DynamoType({"N": "0"})) + value
            if not sized:
                attrs[name] = value
                continue
            added = size(value)
            if held + bytesize(name) + added > ITEM_SIZE_LIMIT:
                raise ItemSizeTooLarge
            held += added - size(attrs[name]) if name in attrs else size(name) + added
            dict.__setitem__(attrs, name, value)


def _top_level_name(path: Any, names: dict[str, str], table: Any) -> tuple[str, str] | None:
    """(attribute name, the text it is written as: a placeholder or the name) of a one-step
    path, or None."""
    from moto.dynamodb.parsing.ast_nodes import ExpressionAttribute, ExpressionAttributeName, UpdateExpressionPath
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    if type(path) is not UpdateExpressionPath or len(path.children) != 1:
        return None
    step = path.children[0]
    if type(step) is ExpressionAttributeName:
        written = step.get_attribute_name_placeholder()
        name = names.get(written)
    elif type(step) is ExpressionAttribute:
        name = written = step.get_attribute_name()
        if name.upper() in ReservedKeywords.get_reserved_keywords():
            return None
    else:
        return None
    if not isinstance(name, str) or name in table.table_key_attrs:
        return None
    return name, written


def _placeholder_value(node: Any, values: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing.ast_nodes import ExpressionAttributeValue

    if type(node) is not ExpressionAttributeValue or node.get_value_name() not in values:
        return None
    return DynamoType(values[node.get_value_name()])


def _set_value(operand: Any, names: dict[str, str], values: dict[str, Any], item: Any, table: Any) -> Any:
    from moto.dynamodb.parsing.ast_nodes import (
        ExpressionAttributeValue,
        UpdateExpressionFunction,
        UpdateExpressionValue,
    )

    if type(operand) is not UpdateExpressionValue or len(operand.children) != 1:
        return None
    inner = operand.children[0]
    if type(inner) is ExpressionAttributeValue:
        return _placeholder_value(inner, values)
    if type(inner) is not UpdateExpressionFunction or inner.get_function_name() != "if_not_exists":
        return None
    source = _top_level_name(inner.get_nth_argument(1), names, table)
    default = _placeholder_value(inner.get_nth_argument(2), values)
    if source is None or default is None:
        return None
    existing = item.attrs.get(source[0])
    return existing if existing is not None else default


def simple_update(
    expression: Any, names: dict[str, str] | None, values: dict[str, Any] | None, item: Any, table: Any
) -> SimpleUpdate | None:
    """The expression resolved against the item, or None: moto's own road decides."""
    from moto.dynamodb.parsing import ast_nodes as nodes

    names, values = names or {}, values or {}
    clauses = expression.find_clauses(
        [
            nodes.UpdateExpressionSetClause,
            nodes.UpdateExpressionAddClause,
            nodes.UpdateExpressionRemoveClause,
            nodes.UpdateExpressionDeleteClause,
        ]
    )
    kinds = [type(clause) for clause in clauses]
    if set(kinds) - {nodes.UpdateExpressionSetClause, nodes.UpdateExpressionAddClause} or len(kinds) != len(set(kinds)):
        return None
    actions = expression.find_clauses(
        [
            nodes.UpdateExpressionSetAction,
            nodes.UpdateExpressionAddAction,
            nodes.UpdateExpressionRemoveAction,
            nodes.UpdateExpressionDeleteAction,
        ]
    )
    defined = {definition["AttributeName"] for definition in table.attr} | set(table.attribute_keys)
    steps = [_step(action, names, values, item, table, defined) for action in actions]
    if None in steps:
        return None
    resolved: list[tuple[str, str, Any]] = [step for step in steps if step is not None]
    targets = [name for _, name, _ in resolved]
    if not resolved or len(targets) != len(set(targets)):
        return None
    return SimpleUpdate(resolved)


def _step(
    action: Any, names: dict[str, str], values: dict[str, Any], item: Any, table: Any, defined: set[str]
) -> tuple[str, str, Any] | None:
    """One action as (kind, attribute, value), or None if moto's road must take it."""
    from moto.dynamodb.parsing import ast_nodes as nodes

    if len(action.children) != 2:
        return None
    target = _top_level_name(action.children[0], names, table)
    if target is None:
        return None
    name, written = target
    if written in defined:
        # moto checks key types and empty keys against the text as written, so "#g" is
        # checked when an attribute definition is literally named "#g": let it
        return None
    if type(action) is nodes.UpdateExpressionAddAction:
        value = _placeholder_value(action.children[1], values)
        existing = item.attrs.get(name)
        if value is None or value.type != "N" or (existing is not None and existing.type != "N"):
            return None
        return _ADD, name, value
    if type(action) is nodes.UpdateExpressionSetAction:
        value = _set_value(action.children[1], names, values, item, table)
        return None if value is None else (_SET, name, value)
    return None


def _validator_init(original: Any) -> Any:
    @functools.wraps(original)
    def init(
        validator: Any,
        expression: Any,
        expression_attribute_names: Any,
        expression_attribute_values: Any,
        item: Any,
        table: Any,
    ) -> None:
        try:
            validator._simple = simple_update(
                expression, expression_attribute_names, expression_attribute_values, item, table
            )
        except Exception:  # anything odd is moto's to judge, with moto's error
            validator._simple = None
        if validator._simple is None:
            original(validator, expression, expression_attribute_names, expression_attribute_values, item, table)

    return init


def _validate(original: Any) -> Any:
    @functools.wraps(original)
    def validate(validator: Any) -> Any:
        simple = getattr(validator, "_simple", None)
        return simple if simple is not None else original(validator)

    return validate


def _execute(original: Any) -> Any:
    @functools.wraps(original)
    def execute(executor: Any, node: Any = None) -> None:
        if node is None and isinstance(executor.update_ast, SimpleUpdate):
            executor.update_ast.apply(executor.item)
            return
        original(executor, node)

    return execute


def _parsed_once(original: Any) -> Any:
    @functools.lru_cache(maxsize=512)
    def make(parser: Any, expression: str) -> Any:
        return original(parser, expression)

    return classmethod(functools.wraps(original)(make))  # type: ignore[arg-type]


def apply() -> None:
    """Install the short road; called once, by ``moto_speedups.apply``."""
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    install(UpdateExpressionValidator, "__init__", _validator_init(UpdateExpressionValidator.__init__))
    install(UpdateExpressionValidator, "validate", _validate(UpdateExpressionValidator.validate))
    install(UpdateExpressionExecutor, "execute", _execute(UpdateExpressionExecutor.execute))
    install(UpdateExpressionParser, "make", _parsed_once(UpdateExpressionParser.make.__func__))
