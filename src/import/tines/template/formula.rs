//! Tines formulas (`<<expr>>` pills and whole-field `=expr`) → minijinja expressions: paths,
//! literals, the operators (`=` `!=` `<` `<=` `>` `>=` `&&` `||` `+` `-` `*` `/` `&`, the pipeline
//! `|>` with `%`) and the common functions that have a minijinja equivalent. Anything else is an
//! error naming what had no translation; the caller leaves the piece out and says so.

use super::{resolve, string_literal, Found, Place, Seg};

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
enum Ex {
    Num(String),
    Str(String),
    Bool(bool),
    Null,
    Var(String),
    Get(Box<Ex>, Seg),
    Index(Box<Ex>, Box<Ex>),
    Call(String, Vec<Ex>),
    Bin(&'static str, Box<Ex>, Box<Ex>),
    Neg(Box<Ex>),
    Not(Box<Ex>),
    Hole,
    List(Vec<Ex>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(String),
    Str(String),
    Ident(String),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "|>", "==", "!=", "<=", ">=", "&&", "||", "=", "<", ">", "+", "-", "*", "/", "&", "!", "(",
    ")", "[", "]", ",", ".", "%",
];

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("a string is not closed".into()),
                    Some('\\') => {
                        match chars.get(i + 1) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(&other) => s.push(other),
                            None => return Err("a string is not closed".into()),
                        }
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        s.push(other);
                        i += 1;
                    }
                }
            }
            tokens.push(Tok::Str(s));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                // `a.0` style indices are handled by the parser; a number takes one dot.
                if chars[i] == '.' && !chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                    break;
                }
                i += 1;
            }
            tokens.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = OPS
                .iter()
                .find(|op| rest.starts_with(**op))
                .ok_or_else(|| format!("unexpected `{c}`"))?;
            tokens.push(Tok::Op(op));
            i += op.chars().count();
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek_op(&self, op: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Tok::Op(o)) if *o == op)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        let hit = self.peek_op(op);
        if hit {
            self.at += 1;
        }
        hit
    }
    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(format!("expected `{op}`"))
        }
    }

    fn binary(&mut self, level: usize) -> Result<Ex, String> {
        const LEVELS: &[&[&str]] = &[
            &["|>"],
            &["||"],
            &["&&"],
            &["==", "!=", "=", "<=", ">=", "<", ">"],
            &["&"],
            &["+", "-"],
            &["*", "/"],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        while let Some(op) = LEVELS[level].iter().find(|op| self.peek_op(op)) {
            self.at += 1;
            let right = self.binary(level + 1)?;
            left = Ex::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Ex, String> {
        if self.eat_op("-") {
            return Ok(Ex::Neg(Box::new(self.unary()?)));
        }
        if self.eat_op("!") {
            return Ok(Ex::Not(Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Ex, String> {
        let mut ex = self.primary()?;
        loop {
            if self.eat_op(".") {
                match self.tokens.get(self.at).cloned() {
                    Some(Tok::Ident(name)) => ex = Ex::Get(Box::new(ex), Seg::Key(name)),
                    Some(Tok::Num(n)) if n.parse::<i64>().is_ok() => {
                        ex = Ex::Get(Box::new(ex), Seg::Index(n.parse().unwrap_or_default()))
                    }
                    _ => return Err("expected a name after `.`".into()),
                }
                self.at += 1;
            } else if self.eat_op("[") {
                let index = self.binary(0)?;
                self.expect("]")?;
                ex = match index {
                    Ex::Str(key) => Ex::Get(Box::new(ex), Seg::Key(key)),
                    Ex::Num(n) if n.parse::<i64>().is_ok() => {
                        Ex::Get(Box::new(ex), Seg::Index(n.parse().unwrap_or_default()))
                    }
                    other => Ex::Index(Box::new(ex), Box::new(other)),
                };
            } else {
                return Ok(ex);
            }
        }
    }

    fn primary(&mut self) -> Result<Ex, String> {
        let token = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or("the formula ends too early")?;
        self.at += 1;
        match token {
            Tok::Num(n) => Ok(Ex::Num(n)),
            Tok::Str(s) => Ok(Ex::Str(s)),
            Tok::Ident(name) if self.peek_op("(") => {
                self.at += 1;
                let mut args = Vec::new();
                if !self.eat_op(")") {
                    loop {
                        args.push(self.binary(0)?);
                        if self.eat_op(")") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok(Ex::Call(name.to_ascii_uppercase(), args))
            }
            Tok::Ident(name) => Ok(match name.to_ascii_lowercase().as_str() {
                "true" => Ex::Bool(true),
                "false" => Ex::Bool(false),
                "null" | "nil" => Ex::Null,
                _ => Ex::Var(name),
            }),
            Tok::Op("(") => {
                let inner = self.binary(0)?;
                self.expect(")")?;
                Ok(inner)
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                if !self.eat_op("]") {
                    loop {
                        items.push(self.binary(0)?);
                        if self.eat_op("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok(Ex::List(items))
            }
            Tok::Op("%") => Ok(Ex::Hole),
            Tok::Op(op) => Err(format!("unexpected `{op}`")),
        }
    }
}

fn parse(text: &str) -> Result<Ex, String> {
    let mut parser = Parser {
        tokens: lex(text)?,
        at: 0,
    };
    let ex = parser.binary(0)?;
    if parser.at < parser.tokens.len() {
        return Err("unexpected text after the formula".into());
    }
    Ok(ex)
}

/// Translates a formula; `locals` are lambda parameters in scope.
pub fn translate(
    text: &str,
    place: &Place,
    locals: &[String],
    found: &mut Found,
) -> Result<String, String> {
    let ex = parse(text).map_err(|e| format!("cannot read the formula: {e}"))?;
    Translator {
        place,
        locals: locals.to_vec(),
        found,
    }
    .ex(&ex)
}

struct Translator<'p, 'f> {
    place: &'p Place<'p>,
    locals: Vec<String>,
    found: &'f mut Found,
}

impl Translator<'_, '_> {
    fn ex(&mut self, ex: &Ex) -> Result<String, String> {
        Ok(match ex {
            Ex::Num(n) => n.clone(),
            Ex::Str(s) => string_literal(s),
            Ex::Bool(b) => b.to_string(),
            Ex::Null => "none".into(),
            Ex::Var(_) | Ex::Get(..) => match path(ex) {
                Some((root, segs)) => resolve(&root, &segs, self.place, &self.locals, self.found)?,
                None => {
                    let Ex::Get(base, seg) = ex else {
                        unreachable!("a Var is always a path")
                    };
                    super::render_path(&format!("({})", self.ex(base)?), std::slice::from_ref(seg))
                }
            },
            Ex::Index(base, index) => format!("{}[{}]", self.ex(base)?, self.ex(index)?),
            Ex::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| self.ex(i))
                    .collect::<Result<Vec<_>, _>>()?
                    .join(", ")
            ),
            Ex::Neg(inner) => format!("(-{})", self.ex(inner)?),
            Ex::Not(inner) => format!("(not {})", self.ex(inner)?),
            Ex::Hole => return Err("`%` outside a pipeline".into()),
            Ex::Bin("|>", left, right) => {
                let right = fill_hole(right, left);
                self.ex(&right)?
            }
            Ex::Bin(op, left, right) => {
                let op = match *op {
                    "=" | "==" => "==",
                    "&&" => "and",
                    "||" => "or",
                    "&" => "~",
                    other => other,
                };
                format!("({} {op} {})", self.ex(left)?, self.ex(right)?)
            }
            Ex::Call(name, args) => self.call(name, args)?,
        })
    }

    fn call(&mut self, name: &str, args: &[Ex]) -> Result<String, String> {
        let filter = |t: &mut Self, f: &str, n: usize| -> Result<String, String> {
            if args.len() != n + 1 {
                return Err(format!("`{name}` with {} arguments", args.len()));
            }
            let subject = t.ex(&args[0])?;
            let rest = args[1..]
                .iter()
                .map(|a| t.ex(a))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if rest.is_empty() {
                format!("({subject} | {f})")
            } else {
                format!("({subject} | {f}({}))", rest.join(", "))
            })
        };
        match (name, args.len()) {
            ("UPCASE" | "UPPER", _) => filter(self, "upper", 0),
            ("DOWNCASE" | "LOWER", _) => filter(self, "lower", 0),
            ("CAPITALIZE", _) => filter(self, "capitalize", 0),
            ("STRIP" | "TRIM", _) => filter(self, "trim", 0),
            ("SIZE" | "LENGTH", _) => filter(self, "length", 0),
            ("DEFAULT", _) => filter(self, "default", 1),
            ("JSON_PARSE", _) => filter(self, "from_json", 0),
            ("JSON_ENCODE" | "TO_JSON", _) => filter(self, "json", 0),
            ("BASE64_ENCODE", _) => filter(self, "b64encode", 0),
            ("BASE64_DECODE", _) => filter(self, "b64decode", 0),
            ("SHA256", _) => filter(self, "sha256", 0),
            ("URL_ENCODE", _) => filter(self, "urlencode", 0),
            ("MATCH", _) => filter(self, "regex_match", 1),
            ("JOIN", _) => filter(self, "join", 1),
            ("SPLIT", _) => filter(self, "split", 1),
            ("FIRST", _) => filter(self, "first", 0),
            ("LAST", _) => filter(self, "last", 0),
            ("UNIQ" | "UNIQUE", _) => filter(self, "unique", 0),
            ("SORT", _) => filter(self, "sort", 0),
            ("REVERSE", _) => filter(self, "reverse", 0),
            ("SUM", _) => filter(self, "sum", 0),
            ("ABS", _) => filter(self, "abs", 0),
            ("ROUND", 1) => filter(self, "round", 0),
            ("ROUND", _) => filter(self, "round", 1),
            ("DATE", _) => filter(self, "date", 1),
            ("REPLACE", _) => filter(self, "replace", 2),
            ("KEYS", _) => filter(self, "list", 0),
            ("REGEX_REPLACE", 3) => {
                let replacement = match &args[2] {
                    Ex::Str(s) => string_literal(&ruby_backrefs(s)),
                    other => self.ex(other)?,
                };
                Ok(format!(
                    "({} | regex_replace({}, {replacement}))",
                    self.ex(&args[0])?,
                    self.ex(&args[1])?
                ))
            }
            ("IF", 2 | 3) => {
                let otherwise = match args.get(2) {
                    Some(a) => self.ex(a)?,
                    None => "none".into(),
                };
                Ok(format!(
                    "({} if {} else {otherwise})",
                    self.ex(&args[1])?,
                    self.ex(&args[0])?
                ))
            }
            ("AND" | "OR", n) if n >= 1 => {
                let joiner = if name == "AND" { " and " } else { " or " };
                let parts = args
                    .iter()
                    .map(|a| self.ex(a))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(format!("({})", parts.join(joiner)))
            }
            ("NOT", 1) => Ok(format!("(not {})", self.ex(&args[0])?)),
            ("INCLUDES" | "CONTAINS", 2) => Ok(format!(
                "({} in {})",
                self.ex(&args[1])?,
                self.ex(&args[0])?
            )),
            ("GET", 2) => Ok(format!("{}[{}]", self.ex(&args[0])?, self.ex(&args[1])?)),
            ("PROMPT", 1) => {
                let Ex::Str(status) = &args[0] else {
                    return Err("`PROMPT` with a computed status".into());
                };
                if !self.place.prompt {
                    return Err("a prompt link outside an action that became a `prompt`".into());
                }
                self.found.prompts.push(status.clone());
                Ok(format!(
                    "prompt_url({})",
                    string_literal(&super::super::prompt_status(status))
                ))
            }
            ("MAP", 2) => match &args[1] {
                Ex::Call(lambda, parts) if lambda == "LAMBDA" && parts.len() == 2 => {
                    let (Ex::Var(param), body) = (&parts[0], &parts[1]) else {
                        return Err("`MAP` with a lambda whose parameter is not a name".into());
                    };
                    match body {
                        Ex::Get(base, Seg::Key(attr)) if **base == Ex::Var(param.clone()) => Ok(format!(
                            "({} | map(attribute={}))",
                            self.ex(&args[0])?,
                            string_literal(attr)
                        )),
                        _ => Err("`MAP` with a lambda other than `LAMBDA(x, x.field)` has no minijinja equivalent".into()),
                    }
                }
                _ => Err("`MAP` without a lambda".into()),
            },
            ("LAMBDA", _) => Err("`LAMBDA` has no minijinja equivalent here".into()),
            _ => Err(format!("function `{name}` has no minijinja equivalent")),
        }
    }
}

/// A static path: a root name and its steps.
fn path(ex: &Ex) -> Option<(String, Vec<Seg>)> {
    match ex {
        Ex::Var(root) => Some((root.clone(), Vec::new())),
        Ex::Get(base, seg) => {
            let (root, mut segs) = path(base)?;
            segs.push(seg.clone());
            Some((root, segs))
        }
        _ => None,
    }
}

/// `a |> f(%, b)`: `%` stands for the left side.
fn fill_hole(ex: &Ex, with: &Ex) -> Ex {
    let fill = |e: &Ex| fill_hole(e, with);
    match ex {
        Ex::Hole => with.clone(),
        Ex::Get(b, s) => Ex::Get(Box::new(fill(b)), s.clone()),
        Ex::Index(b, i) => Ex::Index(Box::new(fill(b)), Box::new(fill(i))),
        Ex::Call(n, args) => Ex::Call(n.clone(), args.iter().map(fill).collect()),
        Ex::Bin(op, l, r) => Ex::Bin(op, Box::new(fill(l)), Box::new(fill(r))),
        Ex::Neg(i) => Ex::Neg(Box::new(fill(i))),
        Ex::Not(i) => Ex::Not(Box::new(fill(i))),
        Ex::List(items) => Ex::List(items.iter().map(fill).collect()),
        other => other.clone(),
    }
}

/// Ruby's `\1` back-references are Rust's `${1}`.
pub fn ruby_backrefs(replacement: &str) -> String {
    let mut out = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                out.push_str(&format!("${{{d}}}"));
                chars.next();
            }
            ('$', _) => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out
}
