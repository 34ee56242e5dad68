"""GraphQL documents: parsed and validated once per distinct query text (one cache, shared
with strawberry's execution), and the one operation a request runs chosen as GraphQL over
HTTP says: a document with several operations needs `operationName`."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from domain.errors import DomainError, ErrorCode


class Documents:
    """LRUs of parsed documents and of their validation errors, bounded in count; parsing
    honours the token limit. `bind` gives it the schema and rules once they exist."""

    def __init__(self, max_tokens: int, size: int = 512) -> None:
        self.parse = functools.lru_cache(maxsize=size)(
            functools.partial(parse, max_tokens=max_tokens)
        )
        self.errors = functools.lru_cache(maxsize=size)(self._validate)
        self.schema: GraphQLSchema | None = None
        self.rules: tuple[type[ASTValidationRule], ...] = tuple(specified_rules)

    def bind(self, schema: GraphQLSchema, rules: list[type[ASTValidationRule]]) -> None:
        self.schema = schema
        self.rules = (*specified_rules, *rules)

    def _validate(self, query: str) -> list[GraphQLError]:
        assert self.schema is not None, "Documents.bind the schema first"
        return validate_document(self.schema, self.parse(query), self.rules)

    def extension(self) -> type[SchemaExtension]:
        """A strawberry extension that takes documents and validation from these caches."""
        documents = self

        class SharedDocuments(SchemaExtension):
            def on_parse(self) -> Iterator[None]:
                context = self.execution_context
                if context.query is not None and context.graphql_document is None:
                    context.graphql_document = documents.parse(context.query)
                yield

            def on_validate(self) -> Iterator[None]:
                context = self.execution_context
                if context.query is not None:
                    context.pre_execution_errors = documents.errors(context.query)
                yield

        return SharedDocuments


@dataclass(frozen=True)
class Chosen:
    document: DocumentNode
    operation: OperationDefinitionNode

    @property
    def kind(self) -> OperationType:
        return self.operation.operation


def choose(document: DocumentNode, operation_name: str | None) -> Chosen:
    """The operation to run; GraphQLError (a request error, nothing runs) when unclear."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        if len(operations) == 1:
            return Chosen(document, operations[0])
        if not operations:
            raise _request_error(ErrorCode.OPERATION_NOT_FOUND, "The document has no operation.")
        raise _request_error(
            ErrorCode.OPERATION_NAME_REQUIRED,
            "The document has several operations: say which to run with 'operationName'.",
        )
    for operation in operations:
        if operation.name is not None and operation.name.value == operation_name:
            return Chosen(document, operation)
    raise _request_error(
        ErrorCode.OPERATION_NOT_FOUND, "No operation in the document has that 'operationName'."
    )


def _request_error(code: ErrorCode, message: str) -> GraphQLError:
    return GraphQLError(message, original_error=DomainError(code, message))
