/* test_graphql.c — the GraphQL parser (host/graphql.h): each production of the October 2021
 * grammar with the specification's examples, the counter-examples with graphql-js's messages
 * and locations, the lexer's edge cases, and the bounds a hostile document meets.
 *
 * A parsed document is checked through a one-line dump of its AST: (Kind name "text" children),
 * an alias as alias:name, children in a fixed slot order (graphql.h lists the slots). */
#include "graphql.h"
#include "test.h"

typedef struct {
    char *buf;
    size_t len, size;
} dump_t;

static void dump_put(dump_t *d, const char *s, size_t n)
{
    if (d->len + n + 1 > d->size) {
        d->size = (d->len + n + 1) * 2;
        d->buf = realloc(d->buf, d->size);
    }
    memcpy(d->buf + d->len, s, n);
    d->len += n;
    d->buf[d->len] = '\0';
}

static void dump_str(dump_t *d, const char *s)
{
    dump_put(d, s, strlen(s));
}

static void dump_node(dump_t *d, const gql_node_t *n);

static void dump_list(dump_t *d, const gql_list_t *l)
{
    for (const gql_node_t *n = l->first; n; n = n->next)
        dump_node(d, n);
}

static void dump_node(dump_t *d, const gql_node_t *n)
{
    if (!n)
        return;
    dump_str(d, d->len ? " (" : "(");
    dump_str(d, gql_kind_name(n->kind));
    if (n->name || n->alias) {
        dump_str(d, " ");
        if (n->alias) {
            dump_str(d, n->alias);
            dump_str(d, ":");
        }
        dump_str(d, n->name);
    }
    if (n->text) {
        int quoted = n->kind == GQL_STRING;
        dump_str(d, quoted ? " \"" : " ");
        dump_put(d, n->text, n->text_len);
        if (quoted)
            dump_str(d, "\"");
    }
    if (n->flags & GQL_BLOCK)
        dump_str(d, " block");
    if (n->flags & GQL_REPEATABLE)
        dump_str(d, " repeatable");
    dump_node(d, n->description);
    dump_node(d, n->type_condition);
    dump_node(d, n->variable);
    dump_list(d, &n->variables);
    dump_list(d, &n->arguments);
    dump_list(d, &n->interfaces);
    dump_node(d, n->type);
    dump_node(d, n->value);
    dump_list(d, &n->directives);
    dump_node(d, n->selection_set);
    dump_list(d, &n->items);
    dump_str(d, ")");
}

/* The dump of text's document, or "error L:C message". */
static char *parse_dump(const char *text, size_t len, const gql_limits_t *limits)
{
    dump_t d = {0};
    gql_error_t err;
    gql_doc_t *doc = gql_parse(text, len, limits, &err);
    if (!doc) {
        char line[GQL_MESSAGE_MAX + 64];
        snprintf(line, sizeof line, "error %u:%u %s", err.line, err.column, err.message);
        dump_str(&d, line);
        return d.buf;
    }
    dump_node(&d, gql_root(doc));
    gql_free(doc);
    return d.buf;
}

#define CHECK_PARSE(text, want)                                                                    \
    do {                                                                                           \
        char *got_ = parse_dump(text, strlen(text), NULL);                                         \
        CHECK_STR(got_, want);                                                                     \
        free(got_);                                                                                \
    } while (0)

#define CHECK_ERROR(text, want) CHECK_PARSE(text, "error " want)

/* The one value of `{ f(a: <value>) }`, dumped. */
#define CHECK_VALUE(value, want)                                                                   \
    CHECK_PARSE("{ f(a: " value ") }",                                                             \
                "(Document (OperationDefinition query (SelectionSet (Field f (Argument a " want    \
                ")))))")

/* ---- Executable documents ---- */

TEST(graphql_query_shorthand)
{
    CHECK_PARSE("{ hello }", "(Document (OperationDefinition query (SelectionSet (Field hello))))");
}

TEST(graphql_operations)
{
    CHECK_PARSE("query Q { a } mutation M { b } subscription S { c }",
                "(Document (OperationDefinition Q query (SelectionSet (Field a)))"
                " (OperationDefinition M mutation (SelectionSet (Field b)))"
                " (OperationDefinition S subscription (SelectionSet (Field c))))");
    CHECK_PARSE("query { a }", "(Document (OperationDefinition query (SelectionSet (Field a))))");
}

TEST(graphql_fields_aliases_arguments)
{
    /* the specification's example 2.4 / 2.7 */
    CHECK_PARSE("{ user(id: 4) { id, name, smallPic: profilePic(size: 64) } }",
                "(Document (OperationDefinition query (SelectionSet (Field user (Argument id "
                "(IntValue 4)) (SelectionSet (Field id) (Field name) (Field smallPic:profilePic "
                "(Argument size (IntValue 64))))))))");
}

TEST(graphql_variables_and_directives)
{
    CHECK_PARSE("query getZuckProfile($devicePicSize: Int = 60, $ids: [ID!]! @d(x: 1)) "
                "@op { profilePic(size: $devicePicSize) @include(if: $show) }",
                "(Document (OperationDefinition getZuckProfile query (VariableDefinition "
                "(Variable devicePicSize) (NamedType Int) (IntValue 60)) "
                "(VariableDefinition (Variable ids) (NonNullType (ListType (NonNullType "
                "(NamedType ID)))) (Directive d (Argument x (IntValue 1)))) (Directive op) "
                "(SelectionSet (Field profilePic (Argument size (Variable devicePicSize)) "
                "(Directive include (Argument if (Variable show)))))))");
}

TEST(graphql_fragments)
{
    CHECK_PARSE("query withFragments { user(id: 4) { friends(first: 10) { ...friendFields } } }"
                " fragment friendFields on User @d { id }",
                "(Document (OperationDefinition withFragments query (SelectionSet (Field user "
                "(Argument id (IntValue 4)) (SelectionSet (Field friends (Argument first "
                "(IntValue 10)) (SelectionSet (FragmentSpread friendFields)))))))"
                " (FragmentDefinition friendFields (NamedType User) (Directive d) (SelectionSet "
                "(Field id))))");
    CHECK_PARSE("{ ... on User { a } ... @skip(if: true) { b } ...F @d }",
                "(Document (OperationDefinition query (SelectionSet (InlineFragment (NamedType "
                "User) (SelectionSet (Field a))) (InlineFragment (Directive skip (Argument if "
                "(BooleanValue true))) (SelectionSet (Field b))) (FragmentSpread F "
                "(Directive d)))))");
}

TEST(graphql_values)
{
    CHECK_VALUE("-0", "(IntValue -0)");
    CHECK_VALUE("1.5e-3", "(FloatValue 1.5e-3)");
    CHECK_VALUE("2E+10", "(FloatValue 2E+10)");
    CHECK_VALUE("\"s\"", "(StringValue \"s\")");
    CHECK_VALUE("false", "(BooleanValue false)");
    CHECK_VALUE("null", "(NullValue)");
    CHECK_VALUE("MOBILE_WEB", "(EnumValue MOBILE_WEB)");
    CHECK_VALUE("[]", "(ListValue)");
    CHECK_VALUE("[1, [2], $v]", "(ListValue (IntValue 1) (ListValue (IntValue 2)) (Variable v))");
    CHECK_VALUE("{}", "(ObjectValue)");
    CHECK_VALUE("{lon: 12.43, lat: -53.211, n: {x: ON}}",
                "(ObjectValue (ObjectField lon (FloatValue 12.43)) (ObjectField lat (FloatValue "
                "-53.211)) (ObjectField n (ObjectValue (ObjectField x (EnumValue ON)))))");
}

TEST(graphql_keywords_are_names)
{
    /* the keywords are names like others where a name is expected */
    CHECK_PARSE("query query { fragment type: on(query: null) }",
                "(Document (OperationDefinition query query (SelectionSet (Field fragment) (Field "
                "type:on (Argument query (NullValue))))))");
}

TEST(graphql_locations)
{
    gql_error_t err;
    const char *text = "query Q {\n  a\n  b: c\r\n  \"\xc3\xa9\" }";
    gql_doc_t *doc = gql_parse(text, strlen(text), NULL, &err);
    CHECK(doc == NULL);
    CHECK(err.line == 4 && err.column == 3);
    CHECK_STR(err.message, "Syntax Error: Expected Name, found String \"\xc3\xa9\".");
    text = "\xef\xbb\xbf# \xc3\xa9t\xc3\xa9\n  query Q {\n  a\n  b: c\r\n  # caf\xc3\xa9\n  d }";
    doc = gql_parse(text, strlen(text), NULL, &err);
    CHECK(doc != NULL);
    const gql_node_t *op = gql_root(doc)->items.first;
    CHECK(gql_root(doc)->line == 2 && gql_root(doc)->column == 3);
    CHECK(op->line == 2 && op->column == 3);
    const gql_node_t *f = op->selection_set->items.first;
    CHECK(f->line == 3 && f->column == 3);
    CHECK(f->next->line == 4 && f->next->column == 3);
    CHECK(f->next->next->line == 6 && f->next->next->column == 3);
    gql_free(doc);
    /* a code point counts one column, a block string's lines count as lines */
    text = "{ f(a: \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", b: \"\"\"\n\n\"\"\" c: ?) }";
    char *got = parse_dump(text, strlen(text), NULL);
    CHECK_STR(got, "error 3:8 Syntax Error: Unexpected character: \"?\".");
    free(got);
    text = "{ f(a: \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", b: ?) }";
    got = parse_dump(text, strlen(text), NULL);
    CHECK_STR(got, "error 1:18 Syntax Error: Unexpected character: \"?\".");
    free(got);
}

/* A node's column counts code points: a byte order mark and the UTF-8 of a string or comment
 * before it on its line count one column each. */
TEST(graphql_node_columns)
{
    gql_error_t err;
    const char *text = "\xef\xbb\xbf{ f(a: \"\xc3\xa9\xf0\x9f\x98\x80\") b }";
    gql_doc_t *doc = gql_parse(text, strlen(text), NULL, &err);
    CHECK(doc != NULL);
    const gql_node_t *f = gql_root(doc)->items.first->selection_set->items.first;
    CHECK(f->line == 1 && f->column == 4);
    CHECK(f->next->line == 1 && f->next->column == 15);
    gql_free(doc);
    /* a block string's lines are lines, its code points columns */
    text = "{ a(x: \"\"\"\xc3\xa9\n\xc3\xa9\"\"\") b }";
    doc = gql_parse(text, strlen(text), NULL, &err);
    CHECK(doc != NULL);
    f = gql_root(doc)->items.first->selection_set->items.first;
    CHECK(f->next->line == 2 && f->next->column == 7);
    gql_free(doc);
}

/* ---- Type system documents ---- */

TEST(graphql_schema_and_scalars)
{
    CHECK_PARSE("schema @d { query: MyQueryRootType mutation: M }",
                "(Document (SchemaDefinition (Directive d) (OperationTypeDefinition query "
                "(NamedType MyQueryRootType)) (OperationTypeDefinition mutation (NamedType M))))");
    CHECK_PARSE("\"a time\" scalar Time @specifiedBy(url: \"https://x\")",
                "(Document (ScalarTypeDefinition Time (StringValue \"a time\") (Directive "
                "specifiedBy (Argument url (StringValue \"https://x\")))))");
}

TEST(graphql_object_and_interface_types)
{
    CHECK_PARSE("\"\"\"A person\"\"\" type Person implements & NamedEntity & ValuedEntity @k "
                "{ \"the name\" name: String picture(size: Int = 1 @a): Url @deprecated }",
                "(Document (ObjectTypeDefinition Person (StringValue \"A person\" block) "
                "(NamedType NamedEntity) (NamedType ValuedEntity) (Directive k) "
                "(FieldDefinition name (StringValue \"the name\") (NamedType String)) "
                "(FieldDefinition picture (InputValueDefinition size (NamedType Int) "
                "(IntValue 1) (Directive a)) (NamedType Url) (Directive deprecated))))");
    CHECK_PARSE("interface Resource implements Node { id: ID! }",
                "(Document (InterfaceTypeDefinition Resource (NamedType Node) (FieldDefinition "
                "id (NonNullType (NamedType ID)))))");
    CHECK_PARSE("type Empty", "(Document (ObjectTypeDefinition Empty))");
}

TEST(graphql_union_enum_input)
{
    CHECK_PARSE("union SearchResult = | Photo | Person union U @d",
                "(Document (UnionTypeDefinition SearchResult (NamedType Photo) (NamedType "
                "Person)) (UnionTypeDefinition U (Directive d)))");
    CHECK_PARSE("enum Direction { NORTH \"d\" EAST @deprecated(reason: \"x\") }",
                "(Document (EnumTypeDefinition Direction (EnumValueDefinition NORTH) "
                "(EnumValueDefinition EAST (StringValue \"d\") (Directive deprecated (Argument "
                "reason (StringValue \"x\"))))))");
    CHECK_PARSE("input Point2D { x: Float = 0.5, y: [Float!] = [1] }",
                "(Document (InputObjectTypeDefinition Point2D (InputValueDefinition x "
                "(NamedType Float) (FloatValue 0.5)) (InputValueDefinition y (ListType "
                "(NonNullType (NamedType Float))) (ListValue (IntValue 1)))))");
}

TEST(graphql_directive_definitions)
{
    CHECK_PARSE("\"d\" directive @example(a: Int) repeatable on | FIELD_DEFINITION | "
                "ARGUMENT_DEFINITION",
                "(Document (DirectiveDefinition example repeatable (StringValue \"d\") "
                "(InputValueDefinition a (NamedType Int)) (Name FIELD_DEFINITION) (Name "
                "ARGUMENT_DEFINITION)))");
    CHECK_ERROR("directive @d on FIELD | NOWHERE",
                "1:25 Syntax Error: Unexpected Name \"NOWHERE\".");
    CHECK_ERROR("directive @d(a: Int) FIELD",
                "1:22 Syntax Error: Expected \"on\", found Name \"FIELD\".");
}

TEST(graphql_extensions)
{
    CHECK_PARSE("extend schema @d { subscription: S } extend scalar T @d "
                "extend type Story implements N { isHiddenLocally: Boolean } "
                "extend interface I @d extend union U = A extend enum E { F } "
                "extend input In { x: Int }",
                "(Document (SchemaExtension (Directive d) (OperationTypeDefinition subscription "
                "(NamedType S))) (ScalarTypeExtension T (Directive d)) (ObjectTypeExtension "
                "Story (NamedType N) (FieldDefinition isHiddenLocally (NamedType Boolean))) "
                "(InterfaceTypeExtension I (Directive d)) (UnionTypeExtension U (NamedType A)) "
                "(EnumTypeExtension E (EnumValueDefinition F)) (InputObjectTypeExtension In "
                "(InputValueDefinition x (NamedType Int))))");
    /* an extension adds something */
    CHECK_ERROR("extend scalar Foo", "1:18 Syntax Error: Unexpected <EOF>.");
    CHECK_ERROR("extend type Foo { a: A } extend schema", "1:39 Syntax Error: Unexpected <EOF>.");
    CHECK_ERROR("extend directive @d on FIELD", "1:8 Syntax Error: Unexpected Name \"directive\".");
}

/* ---- Counter-examples, worded as graphql-js words them ---- */

TEST(graphql_syntax_errors)
{
    CHECK_ERROR("", "1:1 Syntax Error: Unexpected <EOF>.");
    CHECK_ERROR("  # only a comment\n", "2:1 Syntax Error: Unexpected <EOF>.");
    CHECK_ERROR("{", "1:2 Syntax Error: Expected Name, found <EOF>.");
    CHECK_ERROR("{ }", "1:3 Syntax Error: Expected Name, found \"}\".");
    CHECK_ERROR("{ f() }", "1:5 Syntax Error: Expected Name, found \")\".");
    CHECK_ERROR("{ f(a) }", "1:6 Syntax Error: Expected \":\", found \")\".");
    CHECK_ERROR("{ ...on }", "1:9 Syntax Error: Expected Name, found \"}\".");
    CHECK_ERROR("fragment on on T { a }", "1:10 Syntax Error: Unexpected Name \"on\".");
    CHECK_ERROR("fragment F T { a }", "1:12 Syntax Error: Expected \"on\", found Name \"T\".");
    CHECK_ERROR("notAnOperation Foo { field }",
                "1:1 Syntax Error: Unexpected Name \"notAnOperation\".");
    CHECK_ERROR("...", "1:1 Syntax Error: Unexpected \"...\".");
    CHECK_ERROR("{ f(a: ) }", "1:8 Syntax Error: Unexpected \")\".");
    CHECK_ERROR("query Q($v: Int = $w) { a }",
                "1:19 Syntax Error: Unexpected variable \"$w\" in constant value.");
    CHECK_ERROR("query Q($v: Int = $) { a }", "1:19 Syntax Error: Unexpected \"$\".");
    CHECK_ERROR("query Q($v: [Int) { a }", "1:17 Syntax Error: Expected \"]\", found \")\".");
    CHECK_ERROR("\"d\" query { a }",
                "1:1 Syntax Error: Unexpected description, descriptions are supported only on "
                "type definitions.");
    CHECK_ERROR("enum E { true }",
                "1:10 Syntax Error: Name \"true\" is reserved and cannot be used for an enum "
                "value.");
    CHECK_ERROR("schema { query: Q, other: O }", "1:20 Syntax Error: Unexpected Name \"other\".");
    CHECK_ERROR("schema @d", "1:10 Syntax Error: Expected \"{\", found <EOF>.");
    CHECK_ERROR("type T { f: }", "1:13 Syntax Error: Expected Name, found \"}\".");
    CHECK_ERROR("input I {}", "1:10 Syntax Error: Expected Name, found \"}\".");
}

TEST(graphql_lexer_errors)
{
    CHECK_ERROR("{ ? }", "1:3 Syntax Error: Unexpected character: \"?\".");
    CHECK_ERROR("{ a\x07 }", "1:4 Syntax Error: Unexpected character: U+0007.");
    CHECK_ERROR("{ \xc3\xa9 }", "1:3 Syntax Error: Unexpected character: U+00E9.");
    CHECK_ERROR("{ \xff }", "1:3 Syntax Error: Unexpected character: byte 0xFF.");
    CHECK_ERROR("{ f(a: 'x') }",
                "1:8 Syntax Error: Unexpected single quote character ('), did you mean to use "
                "a double quote (\")?");
    CHECK_ERROR("# a\x01 comment", "1:4 Syntax Error: Unexpected character: U+0001.");
    const char nul[] = "{ a\0 }";
    char *got = parse_dump(nul, sizeof nul - 1, NULL);
    CHECK_STR(got, "error 1:4 Syntax Error: Unexpected character: U+0000.");
    free(got);
}

TEST(graphql_number_edges)
{
    CHECK_ERROR("{ f(a: 1.) }",
                "1:10 Syntax Error: Invalid number, expected digit but got: \")\".");
    CHECK_ERROR("{ f(a: 1.", "1:10 Syntax Error: Invalid number, expected digit but got: <EOF>.");
    CHECK_ERROR("{ f(a: .5) }", "1:8 Syntax Error: Unexpected character: \".\".");
    CHECK_ERROR("{ f(a: 0x1) }",
                "1:9 Syntax Error: Invalid number, expected digit but got: \"x\".");
    CHECK_ERROR("{ f(a: 00) }",
                "1:9 Syntax Error: Invalid number, unexpected digit after 0: \"0\".");
    CHECK_ERROR("{ f(a: 1e) }",
                "1:10 Syntax Error: Invalid number, expected digit but got: \")\".");
    CHECK_ERROR("{ f(a: 1e+) }",
                "1:11 Syntax Error: Invalid number, expected digit but got: \")\".");
    CHECK_ERROR("{ f(a: 123abc) }",
                "1:11 Syntax Error: Invalid number, expected digit but got: \"a\".");
    CHECK_ERROR("{ f(a: 1.2.3) }",
                "1:11 Syntax Error: Invalid number, expected digit but got: \".\".");
    CHECK_ERROR("{ f(a: -) }", "1:9 Syntax Error: Invalid number, expected digit but got: \")\".");
    CHECK_ERROR("{ f(a: 1_0) }",
                "1:9 Syntax Error: Invalid number, expected digit but got: \"_\".");
    CHECK_VALUE("0", "(IntValue 0)");
    CHECK_VALUE("-12", "(IntValue -12)");
    CHECK_VALUE("0.0e0", "(FloatValue 0.0e0)");
    /* a comma or a space ends a number */
    CHECK_VALUE("[1,2 3]", "(ListValue (IntValue 1) (IntValue 2) (IntValue 3))");
}

TEST(graphql_string_escapes)
{
    CHECK_VALUE("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"",
                "(StringValue \"\" \\ / \b \f \n \r \t\")");
    CHECK_VALUE("\"\\u00e9\\u20AC\"", "(StringValue \"\xc3\xa9\xe2\x82\xac\")");
    /* a surrogate pair is one code point, U+1F600 */
    CHECK_VALUE("\"\\uD83D\\uDE00\"", "(StringValue \"\xf0\x9f\x98\x80\")");
    CHECK_VALUE("\"\xf0\x9f\x98\x80 raw\"", "(StringValue \"\xf0\x9f\x98\x80 raw\")");
    CHECK_ERROR("{ f(a: \"\\uD83D\") }",
                "1:9 Syntax Error: Invalid Unicode escape sequence: \"\\uD83D\".");
    CHECK_ERROR("{ f(a: \"\\uDE00\\uD83D\") }",
                "1:9 Syntax Error: Invalid Unicode escape sequence: \"\\uDE00\".");
    CHECK_ERROR("{ f(a: \"\\uD83D\\u0041\") }",
                "1:9 Syntax Error: Invalid Unicode escape sequence: \"\\uD83D\".");
    CHECK_ERROR("{ f(a: \"\\u12G4\") }",
                "1:9 Syntax Error: Invalid Unicode escape sequence: \"\\u12G4\".");
    CHECK_ERROR("{ f(a: \"\\u12", "1:9 Syntax Error: Invalid Unicode escape sequence: \"\\u12\".");
    CHECK_ERROR("{ f(a: \"\\x\") }",
                "1:9 Syntax Error: Invalid character escape sequence: \"\\x\".");
    CHECK_ERROR("{ f(a: \"abc", "1:12 Syntax Error: Unterminated string.");
    CHECK_ERROR("{ f(a: \"ab\nc\") }", "1:11 Syntax Error: Unterminated string.");
    CHECK_ERROR("{ f(a: \"a\x01\") }",
                "1:10 Syntax Error: Invalid character within String: U+0001.");
    CHECK_ERROR("{ f(a: \"a\xc3\") }",
                "1:10 Syntax Error: Invalid character within String: byte 0xC3.");
    /* a surrogate's UTF-8 form is not a character */
    CHECK_ERROR("{ f(a: \"\xed\xa0\x80\") }",
                "1:9 Syntax Error: Invalid character within String: byte 0xED.");
    CHECK_ERROR("{ f(a: \"\\u0000\") } x", "1:20 Syntax Error: Unexpected Name \"x\".");
}

TEST(graphql_string_with_nul)
{
    const char *text = "{ f(a: \"x\\u0000y\") }";
    gql_error_t err;
    gql_doc_t *doc = gql_parse(text, strlen(text), NULL, &err);
    CHECK(doc != NULL);
    const gql_node_t *v =
        gql_root(doc)->items.first->selection_set->items.first->arguments.first->value;
    CHECK(v->kind == GQL_STRING && v->text_len == 3 && memcmp(v->text, "x\0y", 4) == 0);
    gql_free(doc);
}

TEST(graphql_block_strings)
{
    /* the common indentation of the lines after the first goes, blank lines at the ends go */
    CHECK_VALUE("\"\"\"\n    Hello,\n      World!\n\n    Yours,\n      GraphQL.\n  \"\"\"",
                "(StringValue \"Hello,\n  World!\n\nYours,\n  GraphQL.\" block)");
    /* the first line keeps its indentation and does not count for the common one */
    CHECK_VALUE("\"\"\"  first\n    second\n      third\"\"\"",
                "(StringValue \"  first\nsecond\n  third\" block)");
    /* tabs are indentation; a blank line shorter than the indentation stays empty */
    CHECK_VALUE("\"\"\"\n\t\ta\n \n\t\tb\n\"\"\"", "(StringValue \"a\n\nb\" block)");
    /* \r\n and \r end lines; only \"\"\" is an escape */
    CHECK_VALUE("\"\"\"a\r\n  b\r  c \\n \\\"\"\" \"\"\"",
                "(StringValue \"a\nb\nc \\n \"\"\" \" block)");
    CHECK_VALUE("\"\"\"\"\"\"", "(StringValue \"\" block)");
    /* blank lines at the start go, even when they hold white space */
    CHECK_VALUE("\"\"\"   \n\n    a\n\"\"\"", "(StringValue \"a\" block)");
    CHECK_VALUE("\"\"\"  \n   \n\"\"\"", "(StringValue \"\" block)");
    CHECK_VALUE("\"\"\"\xc3\xa9 \"quoted\" \"\"\"", "(StringValue \"\xc3\xa9 \"quoted\" \" block)");
    CHECK_ERROR("{ f(a: \"\"\"abc\n\" ) }", "2:6 Syntax Error: Unterminated string.");
    CHECK_ERROR("{ f(a: \"\"\"a\x02\"\"\") }",
                "1:12 Syntax Error: Invalid character within String: U+0002.");
    CHECK_ERROR("\"\"\"\n  doc\n  \"\"\" query { a }",
                "1:1 Syntax Error: Unexpected description, descriptions are supported only on "
                "type definitions.");
    CHECK_ERROR("{ f(a: 1) } \"\"\"x\"\"\"", "1:20 Syntax Error: Unexpected <EOF>.");
}

TEST(graphql_ignored_tokens)
{
    CHECK_PARSE("\xef\xbb\xbf,,{,\t a ,\r\n#c\n b\xef\xbb\xbf,},",
                "(Document (OperationDefinition query (SelectionSet (Field a) (Field b))))");
}

/* ---- Bounds ---- */

static char *repeat_doc(const char *open, const char *mid, const char *close, int n)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *s = malloc((lo + lc) * (size_t)n + lm + 1), *w = s;
    for (int i = 0; i < n; i++, w += lo)
        memcpy(w, open, lo);
    memcpy(w, mid, lm);
    w += lm;
    for (int i = 0; i < n; i++, w += lc)
        memcpy(w, close, lc);
    *w = '\0';
    return s;
}

TEST(graphql_depth_bound)
{
    gql_limits_t lim = {.max_depth = 4};
    /* four levels pass, the fifth is refused where it opens */
    char *ok = parse_dump("{a{b{c{d}}}}", 12, &lim);
    CHECK(strncmp(ok, "(Document", 9) == 0);
    free(ok);
    char *deep = parse_dump("{a{b{c{d{e}}}}}", 15, &lim);
    CHECK_STR(deep, "error 1:9 Syntax Error: Document nests deeper than 4 levels. Parsing "
                    "aborted.");
    free(deep);
    char *list = parse_dump("{f(a:[[[[1]]]])}", 16, &lim);
    CHECK_STR(list, "error 1:9 Syntax Error: Document nests deeper than 4 levels. Parsing "
                    "aborted.");
    free(list);
    char *obj = parse_dump("{f(a:{a:{a:{a:{a:1}}}})}", 23, &lim);
    CHECK_STR(obj, "error 1:15 Syntax Error: Document nests deeper than 4 levels. Parsing "
                   "aborted.");
    free(obj);
    char *type = parse_dump("query($v:[[[[[I]]]]]){a}", 24, &lim);
    CHECK_STR(type, "error 1:14 Syntax Error: Document nests deeper than 4 levels. Parsing "
                    "aborted.");
    free(type);
    /* a 10,000-deep hostile document fails at the default bound, no stack overflow */
    char *s = repeat_doc("{a", "", "}", 10000);
    char *got = parse_dump(s, strlen(s), NULL);
    CHECK_STR(got, "error 1:1025 Syntax Error: Document nests deeper than 512 levels. Parsing "
                   "aborted.");
    free(got);
    free(s);
    s = repeat_doc("[", "", "]", 10000);
    char *q = malloc(strlen(s) + 16);
    sprintf(q, "{f(a:%s)}", s);
    got = parse_dump(q, strlen(q), NULL);
    CHECK_STR(got, "error 1:517 Syntax Error: Document nests deeper than 512 levels. Parsing "
                   "aborted.");
    free(got);
    free(q);
    free(s);
}

TEST(graphql_token_bound)
{
    gql_limits_t lim = {.max_tokens = 5};
    char *ok = parse_dump("{ a b c }", 9, &lim); /* five tokens, <EOF> not counted */
    CHECK(strncmp(ok, "(Document", 9) == 0);
    free(ok);
    char *over = parse_dump("{ a b c d }", 11, &lim);
    CHECK_STR(over, "error 1:11 Syntax Error: Document contains more than 5 tokens. Parsing "
                    "aborted.");
    free(over);
    /* a 1 MB document of fields stops at the default bound */
    size_t n = 1 << 20;
    char *s = malloc(n + 1);
    memset(s, ' ', n);
    s[0] = '{';
    for (size_t i = 2; i + 2 < n; i += 2)
        s[i] = 'a';
    s[n - 1] = '}';
    s[n] = '\0';
    char *got = parse_dump(s, n, NULL);
    CHECK_STR(got, "error 1:200001 Syntax Error: Document contains more than 100000 tokens. "
                   "Parsing aborted.");
    free(got);
    free(s);
}

/* A refusal's code says whether the text is wrong or too big for the limits. */
TEST(graphql_error_codes)
{
    gql_limits_t lim = {.max_depth = 2, .max_tokens = 4};
    gql_error_t err;
    CHECK(gql_parse("{ a(", 4, &lim, &err) == NULL && err.code == GQL_ESYNTAX);
    gql_limits_t shallow = {.max_depth = 2};
    CHECK(gql_parse("{a{b{c}}}", 9, &shallow, &err) == NULL && err.code == GQL_ELIMIT);
    CHECK(gql_parse("{ a b c d }", 11, &lim, &err) == NULL && err.code == GQL_ELIMIT);
    CHECK(gql_parse("{ \"x", 4, &lim, &err) == NULL && err.code == GQL_ESYNTAX);
}

TEST(graphql_kind_names)
{
    CHECK_STR(gql_kind_name(GQL_DOCUMENT), "Document");
    CHECK_STR(gql_kind_name(GQL_INPUT_OBJECT_TYPE_EXTENSION), "InputObjectTypeExtension");
    CHECK_STR(gql_kind_name(GQL_KIND_COUNT), "?");
}

int main(void)
{
    RUN(graphql_query_shorthand);
    RUN(graphql_operations);
    RUN(graphql_fields_aliases_arguments);
    RUN(graphql_variables_and_directives);
    RUN(graphql_fragments);
    RUN(graphql_values);
    RUN(graphql_keywords_are_names);
    RUN(graphql_locations);
    RUN(graphql_node_columns);
    RUN(graphql_schema_and_scalars);
    RUN(graphql_object_and_interface_types);
    RUN(graphql_union_enum_input);
    RUN(graphql_directive_definitions);
    RUN(graphql_extensions);
    RUN(graphql_syntax_errors);
    RUN(graphql_lexer_errors);
    RUN(graphql_number_edges);
    RUN(graphql_string_escapes);
    RUN(graphql_string_with_nul);
    RUN(graphql_block_strings);
    RUN(graphql_ignored_tokens);
    RUN(graphql_depth_bound);
    RUN(graphql_token_bound);
    RUN(graphql_error_codes);
    RUN(graphql_kind_names);
    return test_summary();
}
