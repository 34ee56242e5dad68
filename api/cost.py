"""What an operation may cost, computed from the document before anything runs.

Every field that returns objects costs one point each time it can be resolved. A field that
takes `first` or `last` is a page: the lists inside it (its `edges`, `nodes`) count that many
times (the argument's value, literal or variable; 20 when not given; at most 100). Other
lists count 10 times. Scalars, `__typename` and introspection cost nothing more. So nested
pages multiply: 20 aliases of participants(first: 100) → diaryEntries(first: 100) cost
hundreds of thousands of points and are refused before a single row is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)

from api.documents import Chosen
from domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

LIST_ESTIMATE = 10  # items assumed in a list that is not paged
PAGE_ARGUMENTS = ("first", "last")


def operation_cost(
    schema: GraphQLSchema, chosen: Chosen, variables: Mapping[str, Any] | None, cap: int
) -> int:
    """The operation's cost; counting stops at `cap` + 1 (it is refused anyway)."""
    root = schema.get_root_type(chosen.kind)
    if root is None:
        return 0
    walk = _Walk(schema, _fragments(chosen), dict(variables or {}), cap + 1)
    return walk.selections(chosen.operation.selection_set, root, None)


def _fragments(chosen: Chosen) -> dict[str, FragmentDefinitionNode]:
    return {
        d.name.value: d
        for d in chosen.document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    cap: int
    # A fragment's cost depends only on its page size: counted once, so fragments that
    # spread each other many times cannot make the count itself expensive.
    memo: dict[tuple[str, int | None], int] = field(default_factory=dict)
    open: set[str] = field(default_factory=set)  # fragments being counted (cycles)

    def selections(
        self, selection_set: SelectionSetNode | None, parent: Any, page: int | None
    ) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, kind, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.spread(selection.name.value, page)
            if total >= self.cap:
                return self.cap  # saturated: numbers stay small however the document nests
        return total

    def spread(self, name: str, page: int | None) -> int:
        key = (name, page)
        if key not in self.memo:
            fragment = self.fragments.get(name)
            if fragment is None or name in self.open:
                return 0  # unknown or cyclic: validation refuses the document anyway
            self.open.add(name)
            kind = self.schema.get_type(fragment.type_condition.name.value)
            self.memo[key] = self.selections(fragment.selection_set, kind, page)
            self.open.discard(name)
        return self.memo[key]

    def field(self, node: FieldNode, parent: Any, page: int | None) -> int:
        if node.name.value.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        definition = parent.fields.get(node.name.value)
        if definition is None or is_leaf_type(get_named_type(definition.type)):
            return 0
        named: GraphQLNamedType = get_named_type(definition.type)
        if any(name in definition.args for name in PAGE_ARGUMENTS):
            return 1 + self.selections(node.selection_set, named, self.page_size(node))
        if _is_list(definition.type):
            times = page if page is not None else LIST_ESTIMATE
            return 1 + times * self.selections(node.selection_set, named, None)
        return 1 + self.selections(node.selection_set, named, None)

    def page_size(self, node: FieldNode) -> int:
        sizes = [self.argument(node, name) for name in PAGE_ARGUMENTS]
        given = [size for size in sizes if size is not None]
        return max(given) if given else DEFAULT_PAGE_SIZE

    def argument(self, node: FieldNode, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value: object = None
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
            if isinstance(value, int) and not isinstance(value, bool):
                return max(0, min(value, MAX_PAGE_SIZE))
        return None


def _is_list(kind: GraphQLOutputType) -> bool:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)
