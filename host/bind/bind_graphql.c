/* bind_graphql.c — speezy.graphql.core: the GraphQL parser (host/graphql.h) for the Lua
 * validator and executor of issue #17, which walk the AST as tables.
 *
 *   local core = require "speezy.graphql.core"
 *   local doc, err = core.parse(text[, max_depth[, max_tokens]])
 *   -- doc: { kind = "Document", line = 1, column = 1, definitions = { ... } }
 *   -- err: { code = "GRAPHQL_PARSE_FAILED" | "GRAPHQL_LIMIT", message = "Syntax Error: ...",
 *   --        line = L, column = C }
 *
 * Every node is a table with kind (graphql-js's names), line and column, and the fields of its
 * production under graphql-js's field names, names as plain strings (name, alias),
 * operation, value (a scalar's text, a Boolean's boolean; an argument's or object field's value
 * node), defaultValue, description, variable, type, typeCondition, selectionSet, block,
 * repeatable, and the lists variableDefinitions, arguments, directives, interfaces plus the one
 * list a kind has (definitions, selections, values, fields, types, operationTypes, locations),
 * a list being absent when empty. The C AST is freed before parse returns. */
#include "../graphql.h"
#include "bind.h"

/* The Lua name of a node's items list, by kind. */
static const char *graphql_items_name(gql_kind_t kind)
{
    switch (kind) {
    case GQL_DOCUMENT:
        return "definitions";
    case GQL_SELECTION_SET:
        return "selections";
    case GQL_LIST:
    case GQL_ENUM_TYPE_DEFINITION:
    case GQL_ENUM_TYPE_EXTENSION:
        return "values";
    case GQL_UNION_TYPE_DEFINITION:
    case GQL_UNION_TYPE_EXTENSION:
        return "types";
    case GQL_SCHEMA_DEFINITION:
    case GQL_SCHEMA_EXTENSION:
        return "operationTypes";
    case GQL_DIRECTIVE_DEFINITION:
        return "locations";
    default:
        return "fields";
    }
}

static void graphql_push_node(lua_State *L, const gql_node_t *n);

static void graphql_set_node(lua_State *L, const char *field, const gql_node_t *n)
{
    if (!n)
        return;
    graphql_push_node(L, n);
    lua_setfield(L, -2, field);
}

static void graphql_set_list(lua_State *L, const char *field, const gql_list_t *l)
{
    if (!l->count)
        return;
    lua_createtable(L, (int)l->count, 0);
    int i = 1;
    for (const gql_node_t *n = l->first; n; n = n->next, i++) {
        if (n->kind == GQL_NAME)
            lua_pushstring(L, n->name); /* a directive location */
        else
            graphql_push_node(L, n);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, -2, field);
}

static void graphql_set_string(lua_State *L, const char *field, const char *s)
{
    if (!s)
        return;
    lua_pushstring(L, s);
    lua_setfield(L, -2, field);
}

static void graphql_push_node(lua_State *L, const gql_node_t *n)
{
    luaL_checkstack(L, 4, "GraphQL document nesting");
    lua_createtable(L, 0, 6);
    lua_pushstring(L, gql_kind_name(n->kind));
    lua_setfield(L, -2, "kind");
    lua_pushnumber(L, n->line);
    lua_setfield(L, -2, "line");
    lua_pushnumber(L, n->column);
    lua_setfield(L, -2, "column");
    graphql_set_string(L, "name", n->name);
    graphql_set_string(L, "alias", n->alias);
    if (n->kind == GQL_OPERATION_DEFINITION || n->kind == GQL_OPERATION_TYPE_DEFINITION) {
        graphql_set_string(L, "operation", n->text);
    } else if (n->kind == GQL_BOOLEAN) {
        lua_pushboolean(L, n->text[0] == 't');
        lua_setfield(L, -2, "value");
    } else if (n->text) {
        lua_pushlstring(L, n->text, n->text_len);
        lua_setfield(L, -2, "value");
    }
    if (n->flags & GQL_BLOCK) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "block");
    }
    if (n->flags & GQL_REPEATABLE) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "repeatable");
    }
    graphql_set_node(L, "description", n->description);
    graphql_set_node(L, "variable", n->variable);
    graphql_set_node(L, "type", n->type);
    graphql_set_node(
        L, n->kind == GQL_ARGUMENT || n->kind == GQL_OBJECT_FIELD ? "value" : "defaultValue",
        n->value);
    graphql_set_node(L, "typeCondition", n->type_condition);
    graphql_set_node(L, "selectionSet", n->selection_set);
    graphql_set_list(L, "variableDefinitions", &n->variables);
    graphql_set_list(L, "arguments", &n->arguments);
    graphql_set_list(L, "directives", &n->directives);
    graphql_set_list(L, "interfaces", &n->interfaces);
    graphql_set_list(L, graphql_items_name(n->kind), &n->items);
}

static int graphql_lua_parse(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    gql_limits_t limits = {(unsigned)luaL_optinteger(L, 2, 0), (unsigned)luaL_optinteger(L, 3, 0)};
    gql_error_t err;
    gql_doc_t *doc = gql_parse(text, len, &limits, &err);
    if (!doc) {
        bind_fail(L, err.code == GQL_ELIMIT ? "GRAPHQL_LIMIT" : "GRAPHQL_PARSE_FAILED", "%s",
                  err.message);
        lua_pushnumber(L, err.line);
        lua_setfield(L, -2, "line");
        lua_pushnumber(L, err.column);
        lua_setfield(L, -2, "column");
        return 2;
    }
    graphql_push_node(L, gql_root(doc));
    gql_free(doc);
    return 1;
}

int luaopen_speezy_graphql_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"parse", graphql_lua_parse},
        {NULL, NULL},
    };
    lua_createtable(L, 0, 1);
    luaL_register(L, NULL, fns);
    return 1;
}
