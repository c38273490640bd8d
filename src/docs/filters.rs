//! The one list of documented filters and functions: Warden's own (`template::filters`) and
//! minijinja's builtins that stories can call. Every example is rendered by the template engine
//! when the page is generated, and a unit test checks each against the result written here.

/// Whose callable it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Added by Warden (`template::filters::register`).
    Warden,
    /// One of minijinja's builtins.
    Builtin,
}

/// Filter (`value | name`) or function (`name(…)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Callable {
    /// `value | name(args)`.
    Filter,
    /// `name(args)`.
    Function,
}

/// One example: a template, the data it renders against (JSON text, `{}` for none), and the
/// result: `Ok` with the rendered field as JSON text, or `Err` with the error message.
pub(super) struct Example {
    pub source: &'static str,
    pub data: &'static str,
    // Read by the unit test that renders every example; the page shows what the engine renders.
    #[cfg_attr(not(test), allow(dead_code))]
    pub result: Result<&'static str, &'static str>,
}

/// One documented filter or function.
pub(super) struct Entry {
    pub name: &'static str,
    pub callable: Callable,
    pub origin: Origin,
    /// How it is called.
    pub signature: &'static str,
    /// Its arguments (beyond the filtered value).
    pub arguments: &'static str,
    /// What it returns, and when it fails.
    pub result: &'static str,
    pub examples: &'static [Example],
}

const fn ok(source: &'static str, data: &'static str, result: &'static str) -> Example {
    Example {
        source,
        data,
        result: Ok(result),
    }
}

const fn err(source: &'static str, data: &'static str, message: &'static str) -> Example {
    Example {
        source,
        data,
        result: Err(message),
    }
}

const fn warden(
    name: &'static str,
    signature: &'static str,
    arguments: &'static str,
    result: &'static str,
    examples: &'static [Example],
) -> Entry {
    Entry {
        name,
        callable: Callable::Filter,
        origin: Origin::Warden,
        signature,
        arguments,
        result,
        examples,
    }
}

const fn builtin(
    name: &'static str,
    signature: &'static str,
    result: &'static str,
    examples: &'static [Example],
) -> Entry {
    Entry {
        name,
        callable: Callable::Filter,
        origin: Origin::Builtin,
        signature,
        arguments: "",
        result,
        examples,
    }
}

const NONE: &str = "{}";

/// Every documented filter and function, Warden's first.
pub(super) const ENTRIES: &[Entry] = &[
    warden("json", "value | json", "none", "Compact JSON text of the value (no HTML escaping, unlike `tojson`). Missing data fails unless tolerated.", &[
        ok("{{ x | json }}", r#"{"x": {"a": [1, null, "<b>"]}}"#, r#""{\"a\":[1,null,\"<b>\"]}""#),
    ]),
    warden("from_json", "text | from_json", "none", "The value parsed from JSON text; fails on invalid JSON (with its line and column).", &[
        ok("{{ (body | from_json).items[1].id }}", r#"{"body": "{\"items\": [{\"id\": 1}, {\"id\": 2}]}"}"#, "2"),
        err("{{ '{' | from_json }}", NONE, "invalid operation: from_json: input is not valid JSON (line 1 column 1)"),
    ]),
    warden("b64encode", "text | b64encode", "none", "Standard base64 (with padding) of the UTF-8 bytes; a non-string fails.", &[
        ok("{{ 'user:pass' | b64encode }}", NONE, r#""dXNlcjpwYXNz""#),
    ]),
    warden("b64decode", "text | b64decode", "none", "The text decoded from standard base64 (padding optional); fails when the input is not base64 or the bytes are not UTF-8.", &[
        ok("{{ 'dXNlcjpwYXNz' | b64decode }}", NONE, r#""user:pass""#),
        err("{{ 'not base64!' | b64decode }}", NONE, "invalid operation: b64decode: input is not valid base64"),
    ]),
    warden("sha256", "text | sha256", "none", "Lowercase hex SHA-256 of the UTF-8 bytes; a non-string fails.", &[
        ok("{{ 'abc' | sha256 }}", NONE, r#""ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad""#),
    ]),
    warden("regex_replace", "text | regex_replace(pattern, replacement)", "`pattern`: a regular expression (Rust syntax, at most 4 KiB); `replacement`: text where `$1` or `${name}` insert a capture group.", "The text with every match replaced.", &[
        ok("{{ 'a1b22c' | regex_replace('[0-9]+', '#') }}", NONE, r##""a#b#c""##),
        ok(r"{{ 'john.smith' | regex_replace('(\\w+)\\.(\\w+)', '$2, $1') }}", NONE, r#""smith, john""#),
    ]),
    warden("regex_match", "text | regex_match(pattern)", "`pattern`: a regular expression; anchor it with `^…$` for a whole-string match.", "`true` when the pattern matches anywhere in the text, else `false`.", &[
        ok(r"{{ 'evil.example.com' | regex_match('example\\.com$') }}", NONE, "true"),
        ok("{{ 'example.org' | regex_match('^example') }}", NONE, "true"),
    ]),
    warden("regex_extract", "text | regex_extract(pattern)", "`pattern`: a regular expression.", "Capture group 1 of the first match, or the whole match when the pattern has no group; `null` when nothing matches.", &[
        ok(r"{{ 'user=jane id=7' | regex_extract('user=(\\w+)') }}", NONE, r#""jane""#),
        ok(r"{{ 'id=7' | regex_extract('\\d+') }}", NONE, r#""7""#),
        ok(r"{{ 'nothing here' | regex_extract('user=(\\w+)') }}", NONE, "null"),
    ]),
    warden("date", "value | date(format)", "`format` (optional): strftime, default `%Y-%m-%dT%H:%M:%SZ`. The value: unix seconds (number or numeric text), RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]` taken as UTC (Panther's form).", "The instant formatted in UTC; other values fail.", &[
        ok("{{ 1767225600 | date }}", NONE, r#""2026-01-01T00:00:00Z""#),
        ok("{{ '2026-01-01 08:30:00.123' | date('%d %b %Y %H:%M') }}", NONE, r#""01 Jan 2026 08:30""#),
    ]),
    warden("timestamp", "value | timestamp", "none; the value is read as by `date`.", "Whole unix seconds (an integer).", &[
        ok("{{ '2026-01-01T00:00:00+01:00' | timestamp }}", NONE, "1767222000"),
    ]),
    warden("jsonpath", "value | jsonpath(path)", "`path`: an RFC 9535 JSONPath query (`$.a[*].b`, filters `[?@.x > 1]`).", "The list of selected nodes (empty when nothing matches); an invalid path fails.", &[
        ok("{{ r | jsonpath('$.results[?@.category == \"malicious\"].engine') }}", r#"{"r": {"results": [{"engine": "A", "category": "malicious"}, {"engine": "B", "category": "harmless"}]}}"#, r#"["A"]"#),
    ]),
    warden("first_or_none", "value | first_or_none", "none", "The first item of a list (first key of a mapping, first character of text), or `null` when it is empty or null.", &[
        ok("{{ [3, 4] | first_or_none }}", NONE, "3"),
        ok("{{ [] | first_or_none }}", NONE, "null"),
    ]),
    warden("slack_escape", "value | slack_escape", "none", "The value as text with `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`, so it cannot form a Slack link or mention; marked safe (a prompt's text does not escape it twice).", &[
        ok("{{ name | slack_escape }}", r#"{"name": "<https://evil.example|Click> <!channel>"}"#, r#""&lt;https://evil.example|Click&gt; &lt;!channel&gt;""#),
    ]),
    warden("markdown_escape", "value | markdown_escape", "none", "The value as text with a backslash before Markdown's special characters (`` \\ ` * _ { } [ ] ( ) < > # + - ! | ~ & ``); `.`, `:`, `/` and `@` are kept.", &[
        ok("{{ name | markdown_escape }}", r#"{"name": "[click](https://evil.example) *now*"}"#, r#""\\[click\\]\\(https://evil.example\\) \\*now\\*""#),
    ]),
    warden("path_segment", "value | path_segment", "none; the value must be text or a number.", "One URL path segment: every byte but `A-Z a-z 0-9 - . _ ~` percent-encoded (`/` too). An empty value, `.` or `..` fails the step.", &[
        ok("https://x/users/{{ id | path_segment }}", r#"{"id": "../../admin?x=1"}"#, r#""https://x/users/..%2F..%2Fadmin%3Fx%3D1""#),
        err("{{ '..' | path_segment }}", NONE, "invalid operation: path_segment: refusing `..` as a path segment (it would change the request's path)"),
    ]),
    warden("required", "value | required", "none", "The value itself; fails the step when it is missing or null, even where missing data renders empty.", &[
        ok("{{ user.id | required }}", r#"{"user": {"id": "00u1"}}"#, r#""00u1""#),
        err("{{ user.id | required }}", r#"{"user": {"id": null}}"#, "undefined value: `required` value is missing or null"),
    ]),
    Entry {
        name: "prompt_url",
        callable: Callable::Function,
        origin: Origin::Warden,
        signature: "prompt_url(status)",
        arguments: "`status`: the `value` of one of the prompt's `choices`.",
        result: "The single-use URL that answers the prompt with that choice. Only in a prompt's `request`; an unknown status fails, naming the choices.",
        examples: &[
            ok("{{ prompt_url('approve') }}", r#"{"__prompt_urls": {"approve": "https://warden.example/prompt/3q2-7Xk", "deny": "https://warden.example/prompt/Vb8-1Lz"}}"#, r#""https://warden.example/prompt/3q2-7Xk""#),
        ],
    },
    Entry {
        name: "range",
        callable: Callable::Function,
        origin: Origin::Builtin,
        signature: "range([start,] stop[, step])",
        arguments: "integers",
        result: "A list of integers from `start` (default 0) up to, not including, `stop`.",
        examples: &[ok("{{ range(3) }}", NONE, "[0,1,2]")],
    },
    Entry {
        name: "dict",
        callable: Callable::Function,
        origin: Origin::Builtin,
        signature: "dict(key=value, …)",
        arguments: "keyword arguments",
        result: "A mapping of the arguments.",
        examples: &[ok("{{ dict(a=1, b='x') }}", NONE, r#"{"a":1,"b":"x"}"#)],
    },
    Entry {
        name: "namespace",
        callable: Callable::Function,
        origin: Origin::Builtin,
        signature: "namespace(key=value, …)",
        arguments: "keyword arguments",
        result: "An object whose attributes can be set inside loops (`{% set ns.total = … %}`).",
        examples: &[ok("{% set ns = namespace(n=0) %}{% for x in [1, 2, 3] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}", NONE, r#""6""#)],
    },
    builtin("abs", "number | abs", "The absolute value.", &[ok("{{ -3 | abs }}", NONE, "3")]),
    builtin("attr", "value | attr(name)", "The attribute `name`.", &[ok("{{ u | attr('id') }}", r#"{"u": {"id": 7}}"#, "7")]),
    builtin("batch", "list | batch(count[, fill])", "The list cut into lists of `count`, the last filled with `fill` when given.", &[ok("{{ [1, 2, 3] | batch(2) }}", NONE, "[[1,2],[3]]")]),
    builtin("bool", "value | bool", "The value's truth: `false` for empty, zero, null.", &[ok("{{ '' | bool }}", NONE, "false")]),
    builtin("capitalize", "text | capitalize", "First letter upper case, the rest lower.", &[ok("{{ 'hELLO' | capitalize }}", NONE, r#""Hello""#)]),
    builtin("count", "value | count", "Same as `length`.", &[ok("{{ [1, 2] | count }}", NONE, "2")]),
    builtin("d", "value | d(default[, boolean])", "Same as `default`.", &[ok("{{ u.city | d('unknown') }}", r#"{"u": {}}"#, r#""unknown""#)]),
    builtin("default", "value | default(default[, boolean])", "The value, or `default` when it is missing; with `true` also when it is empty, null or false.", &[
        ok("{{ u.city | default('unknown') }}", r#"{"u": {}}"#, r#""unknown""#),
        ok("{{ u.city | default('unknown', true) }}", r#"{"u": {"city": null}}"#, r#""unknown""#),
    ]),
    builtin("dictsort", "mapping | dictsort", "The `[key, value]` pairs sorted by key.", &[ok("{{ {'b': 1, 'a': 2} | dictsort }}", NONE, r#"[["a",2],["b",1]]"#)]),
    builtin("e", "text | e", "Same as `escape`.", &[ok("{{ '<b>' | e }}", NONE, r#""&lt;b&gt;""#)]),
    builtin("escape", "text | escape", "HTML-escaped text (`&`, `<`, `>`, quotes).", &[ok("{{ '<a href=\"x\">' | escape }}", NONE, r#""&lt;a href=&quot;x&quot;&gt;""#)]),
    builtin("first", "list | first", "The first item (undefined when empty: see `first_or_none`).", &[ok("{{ ['a', 'b'] | first }}", NONE, r#""a""#)]),
    builtin("float", "value | float", "The value as a floating-point number.", &[ok("{{ '2.5' | float }}", NONE, "2.5")]),
    builtin("groupby", "list | groupby(attribute)", "Groups of items sharing `attribute`: each `{grouper, list}`.", &[ok("{{ xs | groupby('t') | map(attribute='grouper') }}", r#"{"xs": [{"t": "a"}, {"t": "b"}, {"t": "a"}]}"#, r#"["a","b"]"#)]),
    builtin("indent", "text | indent(width[, first_line, blank_lines])", "Every line but the first indented by `width` spaces.", &[ok("{{ 'a\\nb' | indent(2) }}", NONE, r#""a\n  b""#)]),
    builtin("int", "value | int", "The value as an integer (text parsed, floats truncated).", &[ok("{{ '42' | int + 1 }}", NONE, "43")]),
    builtin("items", "mapping | items", "The `[key, value]` pairs in order.", &[ok("{{ {'a': 1} | items }}", NONE, r#"[["a",1]]"#)]),
    builtin("join", "list | join(separator[, attribute])", "The items as text joined by `separator`.", &[ok("{{ ['a', 'b'] | join(', ') }}", NONE, r#""a, b""#)]),
    builtin("last", "list | last", "The last item.", &[ok("{{ ['a', 'b'] | last }}", NONE, r#""b""#)]),
    builtin("length", "value | length", "The number of items, keys or characters.", &[ok("{{ 'abc' | length }}", NONE, "3")]),
    builtin("lines", "text | lines", "The text's lines as a list.", &[ok("{{ 'a\\nb' | lines }}", NONE, r#"["a","b"]"#)]),
    builtin("list", "value | list", "The value as a list (a mapping's keys, a text's characters).", &[ok("{{ 'ab' | list }}", NONE, r#"["a","b"]"#)]),
    builtin("lower", "text | lower", "Lower-case text.", &[ok("{{ 'Jane@Example.COM' | lower }}", NONE, r#""jane@example.com""#)]),
    builtin("map", "list | map(filter or attribute=name)", "Each item through a filter, or each item's attribute.", &[ok("{{ xs | map(attribute='id') }}", r#"{"xs": [{"id": 1}, {"id": 2}]}"#, "[1,2]")]),
    builtin("max", "list | max", "The largest item.", &[ok("{{ [3, 9, 4] | max }}", NONE, "9")]),
    builtin("min", "list | min", "The smallest item.", &[ok("{{ [3, 9, 4] | min }}", NONE, "3")]),
    builtin("pprint", "value | pprint", "A readable representation of the value.", &[ok("{{ [1, 2] | pprint }}", NONE, r#""[\n    1,\n    2,\n]""#)]),
    builtin("reject", "list | reject(test)", "The items that fail `test`.", &[ok("{{ [1, 2, 3] | reject('odd') }}", NONE, "[2]")]),
    builtin("rejectattr", "list | rejectattr(attribute[, test, …])", "The items whose attribute fails the test (or is falsy).", &[ok("{{ xs | rejectattr('admin') | map(attribute='id') }}", r#"{"xs": [{"id": 1, "admin": true}, {"id": 2, "admin": false}]}"#, "[2]")]),
    builtin("replace", "text | replace(old, new[, count])", "The text with `old` replaced by `new`.", &[ok("{{ 'a-b-c' | replace('-', '.') }}", NONE, r#""a.b.c""#)]),
    builtin("reverse", "value | reverse", "The list (or text) reversed.", &[ok("{{ [1, 2, 3] | reverse }}", NONE, "[3,2,1]")]),
    builtin("round", "number | round([precision])", "The number rounded to `precision` decimals (default 0).", &[ok("{{ 2.567 | round(1) }}", NONE, "2.6")]),
    builtin("safe", "text | safe", "The text marked safe: a prompt's Slack text does not escape it.", &[ok("{{ '<https://x|x>' | safe }}", NONE, r#""<https://x|x>""#)]),
    builtin("select", "list | select([test, …])", "The items that pass `test` (or are truthy).", &[ok("{{ [0, 1, 2] | select }}", NONE, "[1,2]")]),
    builtin("selectattr", "list | selectattr(attribute[, test, …])", "The items whose attribute passes the test (or is truthy).", &[ok("{{ xs | selectattr('category', 'eq', 'malicious') | map(attribute='engine') }}", r#"{"xs": [{"engine": "A", "category": "malicious"}, {"engine": "B", "category": "harmless"}]}"#, r#"["A"]"#)]),
    builtin("slice", "list | slice(count[, fill])", "The list cut into `count` lists.", &[ok("{{ [1, 2, 3] | slice(2) }}", NONE, "[[1,2],[3]]")]),
    builtin("sort", "list | sort([reverse, case_sensitive, attribute])", "The items sorted.", &[ok("{{ [3, 1, 2] | sort }}", NONE, "[1,2,3]")]),
    builtin("split", "text | split([separator, max])", "The text split on `separator` (default: whitespace).", &[ok("{{ 'a,b' | split(',') }}", NONE, r#"["a","b"]"#)]),
    builtin("string", "value | string", "The value as text.", &[ok("{{ 42 | string }}", NONE, r#""42""#)]),
    builtin("sum", "list | sum([attribute, start])", "The sum of the items.", &[ok("{{ [1, 2, 3] | sum }}", NONE, "6")]),
    builtin("title", "text | title", "Each word capitalised.", &[ok("{{ 'jane doe' | title }}", NONE, r#""Jane Doe""#)]),
    builtin("tojson", "value | tojson", "JSON text, HTML-safe (`<`, `>`, `&`, `'` escaped): prefer `json` in request bodies.", &[ok("{{ {'a': '<b>'} | tojson }}", NONE, r#""{\"a\": \"\\u003cb\\u003e\"}""#)]),
    builtin("trim", "text | trim([chars])", "The text without leading and trailing whitespace (or `chars`).", &[ok("{{ '  x ' | trim }}", NONE, r#""x""#)]),
    builtin("unique", "list | unique", "The items without repeats, first kept.", &[ok("{{ [1, 2, 1] | unique }}", NONE, "[1,2]")]),
    builtin("upper", "text | upper", "Upper-case text.", &[ok("{{ 'abc' | upper }}", NONE, r#""ABC""#)]),
    builtin("urlencode", "value | urlencode", "Percent-encoded text (a mapping becomes a query string). Keeps `/`: use `path_segment` in URL paths.", &[
        ok("{{ 'a b&c' | urlencode }}", NONE, r#""a%20b%26c""#),
        ok("{{ {'q': 'a b', 'n': 1} | urlencode }}", NONE, r#""q=a%20b&n=1""#),
    ]),
];
