"""Seven narrow patches to moto's request path: each removes work moto repeats on every
request, none changes an answer.

Measured in-process (moto 5.2.5, a ``GetItem`` of a four-attribute item through moto's
WSGI app, no socket): 1.53 ms before, 0.63 ms after. A 14-attribute ``UpdateItem`` like
the ledger's: 18.8 ms before, 14.3 ms after. ``make bench`` prints the server's CPU per
call before and after.

* **Routing.** ``DomainDispatcherApplication.get_backend_for_host`` asks
  ``moto.backends.list_of_moto_modules()`` on every request, which lists moto's package
  folder and stats each of its ~180 entries (17 % of a ``GetItem``). The folder does not
  change while the server runs, so the list is read once.
* **Action lookup.** ``BaseResponse.call_action`` runs ``inspect.getmembers`` over the
  response class on every request to learn its method names (7 %). They are learnt once
  per class.
* **AttributeValue serialising.** moto 5.2 serialises every response through the
  botocore model, and an ``AttributeValue`` (a structure of ten members: ``S``, ``N``,
  ``B``...) is looked up member by member through six alias providers, for each
  attribute of each item (35 % of a ``GetItem``). A plain one (one key of ``S``, ``N``,
  ``BOOL``, ``NULL``, ``SS``, ``NS``, or ``M``/``L`` of plain ones) serialises to itself
  with its strings as strings, which is what the model walk produces for it; anything
  else (binary, an odd shape, a map with a member named ``""``, which moto's walk
  merges into the map itself, a response transformer registered) takes moto's own walk.
* **Update expressions.** ``ActionCountValidator`` and ``OverlappingPathsValidator``
  visit every node of an update expression's tree and, at each, search the whole
  subtree below for clauses: quadratic in the number of ``SET`` actions. Within one
  traversal the tree does not change, so a subtree's clauses are searched once and
  remembered; the checks, their order and their errors are moto's.

* **Item size.** ``Item.__init__`` stores each attribute through ``LimitedSizeDict``,
  which sums the size of every attribute already stored before adding one: quadratic in
  the attributes (28 % of a 17-attribute ``PutItem``). The patch keeps the running sum
  and refuses at the same attribute, with the same ``ItemSizeTooLarge``; later writes
  to the map are checked by moto as before.

* **Name conversion.** ``camelcase_to_underscores`` turns an action or attribute name
  into a method name character by character, on every request and, for SQS, for every
  queue attribute read (7 % of the server's CPU under a burst). It is a pure function
  of one string, so its answers are remembered, where it is defined and in the two modules that
  bound it at import.

* **Condition expressions.** ``ConditionExpressionParser.parse`` lexes and parses a
  condition or filter expression into a tree of operations each time, and a write
  parses its condition twice (the request is validated, then the write checks it), a
  transaction three times per operation: 25 % of moto's CPU under a burst of first sales
  by email. The tree, and the names and values the parser notes as found, are a pure
  function of the expression, its names and its values, and evaluating a tree changes
  nothing in it, so they are remembered by those three (the last 1,024, each with values
  of at most 4,096 characters, so memory stays bounded). The tree is
  parsed from a copy of the values: it would otherwise share a set with an item the same
  request stores (``SET s = :s``), which a later ``ADD`` changes in place. An expression
  moto refuses is not remembered, so it is refused again, with moto's error.

``tests/unit/devtools/test_moto_request_speedups.py`` checks each: the same bytes for
every response of a set of recorded-shape and generated requests, with and without.
"""

from __future__ import annotations

import contextvars
import copy
import functools
from typing import Any

from affiliate_bridge_dev.moto_patching import install

ITEM_SIZE_LIMIT = 405_000  # moto's, in LimitedSizeDict.__setitem__
CONDITIONS_REMEMBERED = 1024
CONDITION_VALUES_REMEMBERED = 4096  # characters of the values' text: large ones are parsed each time
_PLAIN_SCALARS = frozenset({"S", "N"})
_PLAIN_FLAGS = frozenset({"BOOL", "NULL"})
_PLAIN_SETS = frozenset({"SS", "NS"})

# Per traversal of a validator: (node id, clause types) -> (node, its clauses). The node
# is kept so its id cannot be reused by another node while the memo lives.
_CLAUSE_MEMO: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar("clause_memo", default=None)


def plain_attribute_value(value: Any) -> dict[str, Any] | None:
    """The serialised form of a plain ``AttributeValue``, or None when moto's own walk
    must decide (anything not listed in the module's docstring)."""
    if type(value) is not dict or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    if kind in _PLAIN_SCALARS:
        return {kind: inner} if type(inner) is str else None
    if kind in _PLAIN_FLAGS:
        return {kind: inner} if type(inner) is bool else None
    if kind in _PLAIN_SETS:
        if type(inner) is list and all(type(member) is str for member in inner):
            return {kind: list(inner)}
        return None
    return _plain_document(kind, inner)


def _plain_document(kind: str, inner: Any) -> dict[str, Any] | None:
    """A map or list of plain values, serialised; None if any member is not plain."""
    if kind == "M" and type(inner) is dict:
        if "" in inner:
            return None  # moto's walk merges a member named "" into its map: keep its bytes
        members = {name: plain_attribute_value(member) for name, member in inner.items()}
        return None if None in members.values() else {kind: members}
    if kind == "L" and type(inner) is list:
        elements = [plain_attribute_value(element) for element in inner]
        return None if None in elements else {kind: elements}
    return None


def _serialise_plain_attribute_values(original: Any) -> Any:
    @functools.wraps(original)
    def serialize_structure(serializer: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and not serializer._value_picker.response_transformers:
            plain = plain_attribute_value(value)
            if plain is not None:
                serialized[serializer.get_serialized_name(shape, key)] = plain
                return
        original(serializer, serialized, value, shape, key)

    return serialize_structure


def _remembered_clauses(original: Any) -> Any:
    @functools.wraps(original)
    def find_clauses(node: Any, clause_types: Any) -> Any:
        memo = _CLAUSE_MEMO.get()
        if memo is None:
            return original(node, clause_types)
        memo_key = (id(node), tuple(clause_types))
        if memo_key not in memo:
            memo[memo_key] = (node, original(node, clause_types))
        return list(memo[memo_key][1])

    return find_clauses


def _one_clause_search_per_traversal(original: Any) -> Any:
    @functools.wraps(original)
    def traverse(traverser: Any, node: Any) -> Any:
        token = _CLAUSE_MEMO.set({})
        try:
            return original(traverser, node)
        finally:
            _CLAUSE_MEMO.reset(token)

    return traverse


def _sized_once(original: Any) -> Any:
    @functools.wraps(original)
    def init(item: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        from moto.dynamodb.exceptions import ItemSizeTooLarge
        from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
        from moto.dynamodb.models.utilities import bytesize

        item.hash_key, item.range_key = hash_key, range_key
        item.attrs = LimitedSizeDict()
        stored = 0
        for name, value in attrs.items():
            typed = DynamoType(value)
            size = bytesize(name) + typed.size()
            if stored + size > ITEM_SIZE_LIMIT:
                raise ItemSizeTooLarge
            dict.__setitem__(item.attrs, name, typed)
            stored += size

    return init


def _method_names_once(original: Any) -> Any:
    names: dict[Any, list[str]] = {}

    @functools.wraps(original)
    def method_names_from_class(clazz: Any) -> list[str]:
        if clazz not in names:
            names[clazz] = original(clazz)
        return names[clazz]

    return method_names_from_class


def _parsed_conditions_remembered(original: Any) -> Any:
    trees: dict[tuple[Any, str, str], tuple[Any, list[str], list[str]]] = {}

    @functools.wraps(original)
    def parse(parser: Any) -> Any:
        key = (
            parser.condition_expression,
            repr(parser.expression_attribute_names),
            repr(parser.expression_attribute_values),
        )
        remembered = trees.get(key)
        if remembered is None:
            names_before, values_before = len(parser.expr_attr_names_found), len(parser.expr_attr_values_found)
            # The tree keeps the values it was parsed from; the request's own may end up in
            # a stored item (SET s = :s) and be changed there later (ADD s :t), so the
            # remembered tree is parsed from a copy nothing else holds.
            values = parser.expression_attribute_values
            parser.expression_attribute_values = copy.deepcopy(values)
            try:
                tree = original(parser)
            finally:
                parser.expression_attribute_values = values
            remembered = (
                tree,
                parser.expr_attr_names_found[names_before:],
                parser.expr_attr_values_found[values_before:],
            )
            if len(key[2]) <= CONDITION_VALUES_REMEMBERED:
                if len(trees) >= CONDITIONS_REMEMBERED:
                    trees.clear()
                trees[key] = remembered
            return tree
        tree, names_found, values_found = remembered
        parser.expr_attr_names_found.extend(names_found)
        parser.expr_attr_values_found.extend(values_found)
        return tree

    return parse


def apply() -> None:
    """Install the seven patches; called once, by ``moto_speedups.apply``."""
    import moto.core.responses as moto_responses
    import moto.core.utils as moto_utils
    import moto.sqs.models as sqs_models
    from moto import backends
    from moto.core.serialize import BaseJSONSerializer
    from moto.dynamodb import comparisons
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.parsing import ast_nodes, validators

    modules = tuple(backends.list_of_moto_modules())
    install(backends, "list_of_moto_modules", lambda: modules)
    install(moto_responses, "method_names_from_class", _method_names_once(moto_responses.method_names_from_class))
    install(
        BaseJSONSerializer,
        "_serialize_type_structure",
        _serialise_plain_attribute_values(BaseJSONSerializer._serialize_type_structure),
    )
    install(Item, "__init__", _sized_once(Item.__init__))
    remembered = functools.lru_cache(maxsize=4096)(moto_utils.camelcase_to_underscores)
    for module in (moto_utils, moto_responses, sqs_models):
        install(module, "camelcase_to_underscores", remembered)
    install(ast_nodes.Node, "find_clauses", _remembered_clauses(ast_nodes.Node.find_clauses))
    for validator in (validators.ActionCountValidator, validators.OverlappingPathsValidator):
        install(validator, "traverse", _one_clause_search_per_traversal(validator.traverse))
    parser = comparisons.ConditionExpressionParser
    install(parser, "parse", _parsed_conditions_remembered(parser.parse))
