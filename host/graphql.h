/* graphql.h — the GraphQL parser of the host (issue #17): a document's text, executable or type
 * system (SDL), read to an AST by the grammar of the October 2021 specification (Appendix B).
 *
 * The lexer follows the specification's rules exactly: ignored tokens (BOM, white space, line
 * terminators, comments, commas), names, punctuators and `...`, numbers that no letter or dot
 * may follow, strings with \uXXXX escapes whose surrogates must pair, block strings with their
 * common indentation removed. Errors are worded as graphql-js words them ("Syntax Error:
 * Expected Name, found <EOF>.") with the line and column where they were found, so a client
 * sees the same message from us as from the reference implementation.
 *
 * Every node of one parse lives in one arena, freed by gql_free. A hostile document is
 * refused early: nesting deeper than max_depth (selection sets, list and object values, list
 * types) or more than max_tokens tokens stops the parse with GQL_ELIMIT, so the recursion is
 * bounded and a huge document costs at most max_tokens tokens of work. */
#ifndef SPEEZY_GRAPHQL_H
#define SPEEZY_GRAPHQL_H

#include <stddef.h>

#define GQL_MAX_DEPTH_DEFAULT 512
#define GQL_MAX_TOKENS_DEFAULT 100000
#define GQL_MESSAGE_MAX 256

enum { GQL_OK = 0, GQL_ESYNTAX = -1, GQL_ELIMIT = -2, GQL_ENOMEM = -3 };

/* The node kinds, named as graphql-js names them (its Kind), so the AST a later binding hands
 * to Lua reads like the reference implementation's. */
#define GQL_KINDS(X)                                                                               \
    X(NAME, "Name")                                                                                \
    X(DOCUMENT, "Document")                                                                        \
    X(OPERATION_DEFINITION, "OperationDefinition")                                                 \
    X(VARIABLE_DEFINITION, "VariableDefinition")                                                   \
    X(SELECTION_SET, "SelectionSet")                                                               \
    X(FIELD, "Field")                                                                              \
    X(ARGUMENT, "Argument")                                                                        \
    X(FRAGMENT_SPREAD, "FragmentSpread")                                                           \
    X(INLINE_FRAGMENT, "InlineFragment")                                                           \
    X(FRAGMENT_DEFINITION, "FragmentDefinition")                                                   \
    X(VARIABLE, "Variable")                                                                        \
    X(INT, "IntValue")                                                                             \
    X(FLOAT, "FloatValue")                                                                         \
    X(STRING, "StringValue")                                                                       \
    X(BOOLEAN, "BooleanValue")                                                                     \
    X(NULL, "NullValue")                                                                           \
    X(ENUM, "EnumValue")                                                                           \
    X(LIST, "ListValue")                                                                           \
    X(OBJECT, "ObjectValue")                                                                       \
    X(OBJECT_FIELD, "ObjectField")                                                                 \
    X(DIRECTIVE, "Directive")                                                                      \
    X(NAMED_TYPE, "NamedType")                                                                     \
    X(LIST_TYPE, "ListType")                                                                       \
    X(NON_NULL_TYPE, "NonNullType")                                                                \
    X(SCHEMA_DEFINITION, "SchemaDefinition")                                                       \
    X(OPERATION_TYPE_DEFINITION, "OperationTypeDefinition")                                        \
    X(SCALAR_TYPE_DEFINITION, "ScalarTypeDefinition")                                              \
    X(OBJECT_TYPE_DEFINITION, "ObjectTypeDefinition")                                              \
    X(FIELD_DEFINITION, "FieldDefinition")                                                         \
    X(INPUT_VALUE_DEFINITION, "InputValueDefinition")                                              \
    X(INTERFACE_TYPE_DEFINITION, "InterfaceTypeDefinition")                                        \
    X(UNION_TYPE_DEFINITION, "UnionTypeDefinition")                                                \
    X(ENUM_TYPE_DEFINITION, "EnumTypeDefinition")                                                  \
    X(ENUM_VALUE_DEFINITION, "EnumValueDefinition")                                                \
    X(INPUT_OBJECT_TYPE_DEFINITION, "InputObjectTypeDefinition")                                   \
    X(DIRECTIVE_DEFINITION, "DirectiveDefinition")                                                 \
    X(SCHEMA_EXTENSION, "SchemaExtension")                                                         \
    X(SCALAR_TYPE_EXTENSION, "ScalarTypeExtension")                                                \
    X(OBJECT_TYPE_EXTENSION, "ObjectTypeExtension")                                                \
    X(INTERFACE_TYPE_EXTENSION, "InterfaceTypeExtension")                                          \
    X(UNION_TYPE_EXTENSION, "UnionTypeExtension")                                                  \
    X(ENUM_TYPE_EXTENSION, "EnumTypeExtension")                                                    \
    X(INPUT_OBJECT_TYPE_EXTENSION, "InputObjectTypeExtension")

typedef enum {
#define GQL_KIND_ENUM(id, name) GQL_##id,
    GQL_KINDS(GQL_KIND_ENUM)
#undef GQL_KIND_ENUM
        GQL_KIND_COUNT
} gql_kind_t;

enum { GQL_BLOCK = 1, GQL_REPEATABLE = 2 }; /* gql_node_t flags */

typedef struct gql_node gql_node_t;
typedef struct {
    gql_node_t *first, *last;
    unsigned count;
} gql_list_t;

/* One node of any kind: each kind fills the slots its production has and leaves the others
 * NULL or empty.
 *   name      the node's name (a field's, a type's, a variable's without `$`, a directive's
 *             without `@`, a directive location's); NUL-terminated
 *   alias     a field's alias
 *   text      a value's text: a string unescaped (block strings dedented; may hold NUL bytes,
 *             so text_len counts), an Int or Float as written, a Boolean "true"/"false", an
 *             Enum's name; an operation's or operation type's "query"/"mutation"/"subscription"
 *   variable  a variable definition's Variable
 *   type      the type of a variable, field or input value definition; the inner type of a
 *             ListType or NonNullType; the NamedType of an operation type definition
 *   value     an argument's or object field's value; a variable's or input value's default
 *   type_condition  a fragment's NamedType after `on`
 *   items     what a node is a list of: a document's definitions, a selection set's
 *             selections, a list's values, an object's fields, a type's fields or input
 *             fields, an enum's values, a union's member types, a schema's operation types, a
 *             directive definition's locations (Name nodes) */
struct gql_node {
    gql_kind_t kind;
    unsigned line, column; /* of the node's first token, 1-based; column in code points */
    gql_node_t *next;      /* the next node of the list holding this one */
    const char *name, *alias, *text;
    size_t text_len;
    unsigned flags;
    gql_node_t *description, *variable, *type, *value, *type_condition, *selection_set;
    gql_list_t variables, arguments, directives, interfaces, items;
};

typedef struct gql_doc gql_doc_t;

typedef struct {
    int code; /* GQL_ESYNTAX, GQL_ELIMIT or GQL_ENOMEM */
    unsigned line, column;
    char message[GQL_MESSAGE_MAX]; /* "Syntax Error: ..." */
} gql_error_t;

typedef struct {
    unsigned max_depth;  /* 0: GQL_MAX_DEPTH_DEFAULT */
    unsigned max_tokens; /* 0: GQL_MAX_TOKENS_DEFAULT */
} gql_limits_t;

/* Parses text (len bytes, no NUL needed). On success returns the document (gql_root gives
 * its Document node); on failure NULL, with *err filled. limits may be NULL (the defaults). */
gql_doc_t *gql_parse(const char *text, size_t len, const gql_limits_t *limits, gql_error_t *err);
const gql_node_t *gql_root(const gql_doc_t *doc);
void gql_free(gql_doc_t *doc);
const char *gql_kind_name(gql_kind_t kind);

#endif
