//! Translation of the expr-lang syntax Kargo users write into minijinja
//! expression syntax.
//!
//! The input is parsed with expr-lang's operator precedence and written out
//! with explicit parentheses, so precedence differences between the two
//! languages cannot change a result. String literals are copied as they
//! are; nothing inside them is translated.

use super::functions::{COALESCE_FN, FETCH_FN, HEADER_FN, OPTIONAL_FN, SIZED_FN};

/// Deepest nesting accepted, so that hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A string literal, already written in minijinja syntax.
    Str(String),
    Num(String),
    Ident(String),
    Punct(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Character offset in the source, for error messages.
    pos: usize,
}

const PUNCT2: [&str; 10] = ["&&", "||", "??", "?.", "==", "!=", "<=", ">=", "**", ".."];
const PUNCT1: &str = "!?:.,()[]{}+-*/%<>|^#~=";

fn punct1(c: char) -> Option<&'static str> {
    let i = PUNCT1.find(c)?;
    PUNCT1.get(i..i + c.len_utf8())
}

fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err(format!("unterminated string starting at position {pos}")),
                    Some('\\') => j += 2,
                    Some(&q) if q == c => break,
                    Some(_) => j += 1,
                }
            }
            toks.push(Token {
                tok: Tok::Str(chars[i..=j].iter().collect()),
                pos,
            });
            i = j + 1;
            continue;
        }
        if c == '`' {
            let Some(len) = chars[i + 1..].iter().position(|&x| x == '`') else {
                return Err(format!("unterminated string starting at position {pos}"));
            };
            let raw: String = chars[i + 1..i + 1 + len].iter().collect();
            toks.push(Token {
                tok: Tok::Str(serde_json::to_string(&raw).unwrap_or_default()),
                pos,
            });
            i += len + 2;
            continue;
        }
        let next = chars.get(i + 1).copied();
        if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) {
            let mut j = i;
            let hex = c == '0' && matches!(next, Some('x' | 'X'));
            while let Some(&d) = chars.get(j) {
                let prev = if j > i { Some(chars[j - 1]) } else { None };
                let exp_sign = matches!(d, '+' | '-')
                    && if hex {
                        matches!(prev, Some('p' | 'P'))
                    } else {
                        matches!(prev, Some('e' | 'E'))
                    };
                let range_dots = d == '.' && chars.get(j + 1) == Some(&'.');
                if (d.is_ascii_alphanumeric() || d == '_' || d == '.' || exp_sign) && !range_dots {
                    j += 1;
                } else {
                    break;
                }
            }
            toks.push(Token {
                tok: Tok::Num(chars[i..j].iter().collect()),
                pos,
            });
            i = j;
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let mut j = i;
            while chars
                .get(j)
                .is_some_and(|&d| d.is_alphanumeric() || d == '_' || d == '$')
            {
                j += 1;
            }
            toks.push(Token {
                tok: Tok::Ident(chars[i..j].iter().collect()),
                pos,
            });
            i = j;
            continue;
        }
        if let Some(n) = next {
            let pair: String = [c, n].iter().collect();
            let after_is_digit = chars.get(i + 2).is_some_and(|d| d.is_ascii_digit());
            if let Some(p) = PUNCT2.iter().find(|p| **p == pair)
                && !(*p == "?." && after_is_digit)
            {
                toks.push(Token {
                    tok: Tok::Punct(p),
                    pos,
                });
                i += 2;
                continue;
            }
        }
        match punct1(c) {
            Some(p) => toks.push(Token {
                tok: Tok::Punct(p),
                pos,
            }),
            None => return Err(format!("unexpected character `{c}` at position {pos}")),
        }
        i += 1;
    }
    Ok(toks)
}

/// Translates an expr-lang expression into an equivalent minijinja one.
pub(super) fn translate(src: &str) -> Result<String, String> {
    translate_with_calls(src).map(|(out, _)| out)
}

/// [`translate`]; with `doc_mode`, a top-level name other than `ctx`,
/// `vars`, `outputs`, `task` or a called function is fetched from `$env`
/// (a parse step's document), so a missing one is nil.
pub(super) fn translate_in(src: &str, doc_mode: bool) -> Result<String, String> {
    parse(src, doc_mode).map(|(out, _)| out)
}

/// [`translate`], and the names of the functions the expression calls
/// (`secret` in `secret('x').token`), with each method it calls as
/// `.name` (`.Major` in `semverParse(v).Major()`); filters are not counted.
pub(super) fn translate_with_calls(src: &str) -> Result<(String, Vec<String>), String> {
    parse(src, false)
}

fn parse(src: &str, doc_mode: bool) -> Result<(String, Vec<String>), String> {
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err("empty expression".into());
    }
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
        lenient: false,
        calls: Vec::new(),
        doc_mode,
    };
    let out = p.expr(0)?;
    if let Some(t) = p.toks.get(p.i) {
        return Err(format!(
            "unexpected {} at position {}",
            describe(&t.tok),
            t.pos
        ));
    }
    if nesting(&out) > MAX_DEPTH {
        return Err("expression nested too deeply".into());
    }
    Ok((out, p.calls))
}

/// The deepest bracket nesting of translated text (long operator chains
/// nest even when the input does not).
fn nesting(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    max
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Str(s) => format!("string {s}"),
        Tok::Num(n) => format!("number `{n}`"),
        Tok::Ident(n) => format!("`{n}`"),
        Tok::Punct(p) => format!("`{p}`"),
    }
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    /// Parse the next member chain as if every access were `?.`: the
    /// left side of `??` may name something missing.
    lenient: bool,
    /// The functions called by name so far.
    calls: Vec<String>,
    /// Read unknown top-level names from `$env` (see [`translate_in`]).
    doc_mode: bool,
}

/// expr-lang's binary operators: precedence and right associativity.
fn binary(op: &str) -> Option<(u32, bool)> {
    Some(match op {
        "or" | "||" => (10, false),
        "and" | "&&" => (15, false),
        "==" | "!=" | "<" | ">" | "<=" | ">=" | "in" | "not in" | "matches" | "contains"
        | "startsWith" | "endsWith" => (20, false),
        ".." => (25, false),
        "+" | "-" => (30, false),
        "*" | "/" | "%" => (60, false),
        "**" | "^" => (100, true),
        "??" => (500, false),
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.i + n).map(|t| &t.tok)
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }

    fn pos(&self) -> String {
        match self.toks.get(self.i) {
            Some(t) => format!("{} at position {}", describe(&t.tok), t.pos),
            None => "end of expression".into(),
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), String> {
        if self.is_punct(p) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected `{p}`, found {}", self.pos()))
        }
    }

    /// The binary operator at the cursor, if any, and its token count.
    fn binary_op(&self) -> Option<(String, usize)> {
        match self.peek()? {
            Tok::Punct(p) if binary(p).is_some() => Some(((*p).to_owned(), 1)),
            Tok::Ident(w)
                if w == "not" && matches!(self.peek_at(1), Some(Tok::Ident(n)) if n == "in") =>
            {
                Some(("not in".into(), 2))
            }
            Tok::Ident(w) if binary(w).is_some() => Some((w.clone(), 1)),
            _ => None,
        }
    }

    fn expr(&mut self, min: u32) -> Result<String, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        let r = self.expr_inner(min);
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self, min: u32) -> Result<String, String> {
        let start = self.i;
        let mut left = self.unary()?;
        let mut combined = false;
        while let Some((op, ntok)) = self.binary_op() {
            let Some((prec, right_assoc)) = binary(&op) else {
                break;
            };
            if prec < min {
                break;
            }
            if op == "??" && !combined {
                // As in expr-lang, `a.b.c ?? d` is `d` when any link is nil
                // or missing: parse the left side again, leniently.
                let end = self.i;
                self.i = start;
                self.lenient = true;
                let relaxed = self.unary();
                self.lenient = false;
                match relaxed {
                    Ok(r) if self.i == end => left = r,
                    _ => self.i = end,
                }
            }
            combined = true;
            self.i += ntok;
            let right = self.expr(if right_assoc { prec } else { prec + 1 })?;
            left = combine(&op, left, right)?;
        }
        if min == 0 {
            while self.is_punct("|") {
                self.i += 1;
                let Some(Tok::Ident(name)) = self.peek().cloned() else {
                    return Err(format!(
                        "expected a filter name after `|`, found {}",
                        self.pos()
                    ));
                };
                self.i += 1;
                let args = if self.is_punct("(") {
                    self.i += 1;
                    format!("({})", self.list(")")?)
                } else {
                    String::new()
                };
                left = format!("({left})|{name}{args}");
            }
            if self.is_punct("?") {
                self.i += 1;
                let then = self.expr(0)?;
                self.expect(":")?;
                let otherwise = self.expr(0)?;
                left = format!("({then} if {left} else {otherwise})");
            }
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Tok::Punct("!")) => {
                self.i += 1;
                Ok(format!("(not {})", self.expr(50)?))
            }
            Some(Tok::Ident(w)) if w == "not" => {
                self.i += 1;
                Ok(format!("(not {})", self.expr(50)?))
            }
            Some(Tok::Punct("-")) => {
                self.i += 1;
                Ok(format!("(-{})", self.expr(90)?))
            }
            Some(Tok::Punct("+")) => {
                self.i += 1;
                self.expr(90)
            }
            _ => self.postfix(),
        }
    }

    /// Comma-separated expressions up to `close` (a trailing comma is fine).
    fn list(&mut self, close: &str) -> Result<String, String> {
        let mut items = Vec::new();
        while !self.is_punct(close) {
            items.push(self.expr(0)?);
            if !self.is_punct(close) {
                self.expect(",")?;
            }
        }
        self.i += 1;
        Ok(items.join(", "))
    }

    fn postfix(&mut self) -> Result<String, String> {
        let mut optional = std::mem::take(&mut self.lenient);
        // The path as written, for error messages (`outputs.a[…]`).
        let mut shown = match self.peek() {
            Some(Tok::Ident(name)) => name.clone(),
            _ => "(…)".to_owned(),
        };
        let mut bare_name = matches!(self.peek(), Some(Tok::Ident(_)));
        let mut out = self.primary()?;
        // After `?.`, the rest of the chain yields nil instead of failing.
        loop {
            match self.peek() {
                Some(Tok::Punct(p @ ("." | "?."))) => {
                    let p = *p;
                    bare_name = false;
                    optional |= p == "?.";
                    self.i += 1;
                    match self.peek().cloned() {
                        Some(Tok::Ident(name)) => {
                            self.i += 1;
                            if self.is_punct("(") {
                                self.i += 1;
                                let args = self.list(")")?;
                                out = if name == "header" {
                                    // The http step's `response.header(name)`.
                                    format!("{HEADER_FN}({out}, {args})")
                                } else {
                                    self.calls.push(format!(".{name}"));
                                    format!("{out}.{name}({args})")
                                };
                                shown.push_str(&format!(".{name}(…)"));
                                continue;
                            } else if optional {
                                out = format!("{OPTIONAL_FN}({out}, {})", quote_name(&name));
                            } else {
                                out = format!(
                                    "{FETCH_FN}({out}, {}, {})",
                                    quote_name(&name),
                                    quote_name(&shown)
                                );
                            }
                            shown.push_str(&format!(".{name}"));
                        }
                        Some(Tok::Punct("[")) if p == "?." => {
                            self.i += 1;
                            let key = self.expr(0)?;
                            self.expect("]")?;
                            out = format!("{OPTIONAL_FN}({out}, {key})");
                        }
                        _ => {
                            return Err(format!(
                                "expected a name after `{p}`, found {}",
                                self.pos()
                            ));
                        }
                    }
                }
                Some(Tok::Punct("[")) => {
                    bare_name = false;
                    self.i += 1;
                    let (index, slice) = self.index()?;
                    if slice {
                        out = format!("{out}[{index}]");
                    } else if optional {
                        out = format!("{OPTIONAL_FN}({out}, {index})");
                    } else {
                        out = format!("{FETCH_FN}({out}, {index}, {})", quote_name(&shown));
                    }
                    shown.push_str("[…]");
                }
                Some(Tok::Punct("(")) => {
                    if std::mem::take(&mut bare_name) {
                        self.calls.push(shown.clone());
                    }
                    self.i += 1;
                    out = format!("{out}({})", self.list(")")?);
                    shown.push_str("(…)");
                }
                _ => return Ok(out),
            }
        }
    }

    /// The inside of `[...]`: an index or a slice (then `true`), up to and
    /// including `]`.
    fn index(&mut self) -> Result<(String, bool), String> {
        let start = if self.is_punct(":") {
            String::new()
        } else {
            self.expr(0)?
        };
        if self.is_punct(":") {
            self.i += 1;
            let end = if self.is_punct("]") {
                String::new()
            } else {
                self.expr(0)?
            };
            self.expect("]")?;
            return Ok((format!("{start}:{end}"), true));
        }
        self.expect("]")?;
        Ok((start, false))
    }

    fn primary(&mut self) -> Result<String, String> {
        let Some(tok) = self.peek().cloned() else {
            return Err("unexpected end of expression".into());
        };
        self.i += 1;
        match tok {
            Tok::Str(s) | Tok::Num(s) => Ok(s),
            Tok::Ident(name) => Ok(match name.as_str() {
                // expr-lang reads an unknown name (Kargo's `null`) as nil.
                "nil" | "null" => "none".into(),
                // expr-lang's whole environment.
                "$env" => super::ENV_VAR.into(),
                "true" | "false" | "ctx" | "vars" | "outputs" | "task" => name,
                _ if self.doc_mode && !self.is_punct("(") => format!(
                    "{FETCH_FN}({}, {}, \"$env\")",
                    super::ENV_VAR,
                    quote_name(&name)
                ),
                _ => name,
            }),
            Tok::Punct("(") => {
                let inner = self.expr(0)?;
                self.expect(")")?;
                Ok(format!("({inner})"))
            }
            Tok::Punct("[") => Ok(format!("[{}]", self.list("]")?)),
            Tok::Punct("{") => {
                let mut pairs = Vec::new();
                while !self.is_punct("}") {
                    let key = match self.peek().cloned() {
                        // expr-lang map keys may be bare names: `{a: 1}`.
                        Some(Tok::Ident(k)) if matches!(self.peek_at(1), Some(Tok::Punct(":"))) => {
                            self.i += 1;
                            quote_name(&k)
                        }
                        _ => self.expr(0)?,
                    };
                    self.expect(":")?;
                    let value = self.expr(0)?;
                    pairs.push(format!("{key}: {value}"));
                    if !self.is_punct("}") {
                        self.expect(",")?;
                    }
                }
                self.i += 1;
                Ok(format!("{{{}}}", pairs.join(", ")))
            }
            Tok::Punct(_) => {
                self.i -= 1;
                Err(format!("unexpected {}", self.pos()))
            }
        }
    }
}

fn quote_name(name: &str) -> String {
    serde_json::to_string(name).unwrap_or_default()
}

fn combine(op: &str, l: String, r: String) -> Result<String, String> {
    Ok(match op {
        "||" | "or" => format!("({l} or {r})"),
        "&&" | "and" => format!("({l} and {r})"),
        // A sum may double a string or a list: its size is checked.
        "+" => format!("{SIZED_FN}({l} + {r})"),
        "==" | "!=" | "<" | ">" | "<=" | ">=" | "in" | "not in" | "-" | "*" | "/" | "%" => {
            format!("({l} {op} {r})")
        }
        "**" | "^" => format!("({l} ** {r})"),
        "contains" => format!("({r} in {l})"),
        "startsWith" => format!("hasPrefix({l}, {r})"),
        "endsWith" => format!("hasSuffix({l}, {r})"),
        ".." => format!("range({l}, ({r}) + 1)"),
        "??" => format!("{COALESCE_FN}({l}, {r})"),
        other => return Err(format!("operator `{other}` is not supported")),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::translate;

    fn t(s: &str) -> String {
        translate(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn logical_operators_become_words() {
        assert_eq!(t("a && b || !c"), "((a and b) or (not c))");
        assert_eq!(t("a != b"), "(a != b)");
        assert_eq!(t("!a == b"), "((not a) == b)");
        assert_eq!(t("not a"), "(not a)");
    }

    #[test]
    fn string_literals_are_not_translated() {
        assert_eq!(t("'a && b || !c ? x : nil'"), "'a && b || !c ? x : nil'");
        assert_eq!(
            t(r#""say \"hi\" && bye" + x"#),
            r#"__kargo_sized("say \"hi\" && bye" + x)"#
        );
        assert_eq!(t("`raw \\ \"q\"`"), r#""raw \\ \"q\"""#);
    }

    #[test]
    fn ternary_becomes_if_else() {
        assert_eq!(t("a > 1 ? 'x' : 'y'"), "('x' if (a > 1) else 'y')");
        assert_eq!(t("a ? b : c ? d : e"), "(b if a else (d if c else e))");
        assert_eq!(t("{k: a ? 1 : 2}"), "{\"k\": (1 if a else 2)}");
        assert_eq!(t("x[1:2]"), "x[1:2]");
    }

    #[test]
    fn nil_and_coalescing_and_optional_chaining() {
        assert_eq!(t("x == nil"), "(x == none)");
        assert_eq!(
            t("a.b ?? 'd'"),
            "__kargo_coalesce(__kargo_optional(a, \"b\"), 'd')"
        );
        assert_eq!(
            t("a ?? b ?? c"),
            "__kargo_coalesce(__kargo_coalesce(a, b), c)"
        );
        assert_eq!(
            t("f(x.y).z ?? 1"),
            "__kargo_coalesce(__kargo_optional(f(__kargo_fetch(x, \"y\", \"x\")), \"z\"), 1)"
        );
        assert_eq!(
            t("a?.b.c"),
            "__kargo_optional(__kargo_optional(a, \"b\"), \"c\")"
        );
        assert_eq!(t("a?.['k']"), "__kargo_optional(a, 'k')");
        assert_eq!(t("-a ?? 1"), "(-__kargo_coalesce(a, 1))");
    }

    #[test]
    fn precedence_follows_expr_lang() {
        assert_eq!(t("1 + 2 * 3"), "__kargo_sized(1 + (2 * 3))");
        assert_eq!(t("2 ** 3 ** 2"), "(2 ** (3 ** 2))");
        assert_eq!(
            t("a in [1, 2] && b not in c"),
            "((a in [1, 2]) and (b not in c))"
        );
        assert_eq!(t("s contains 'x'"), "('x' in s)");
        assert_eq!(t("1..3"), "range(1, (3) + 1)");
    }

    #[test]
    fn members_and_indexes_fetch_as_expr_lang_does_and_calls_pass_through() {
        assert_eq!(
            t("outputs['step-1'].x + imageFrom(vars.repo, warehouse('w')).Tag"),
            "__kargo_sized(__kargo_fetch(__kargo_fetch(outputs, 'step-1', \"outputs\"), \"x\", \"outputs[…]\") \
             + __kargo_fetch(imageFrom(__kargo_fetch(vars, \"repo\", \"vars\"), warehouse('w')), \"Tag\", \"imageFrom(…)\"))"
        );
        assert_eq!(t("null"), "none");
        assert_eq!(
            t("semverParse(v).IncMinor().String()"),
            "semverParse(v).IncMinor().String()"
        );
        assert_eq!(t("x | upper"), "(x)|upper");
    }

    #[test]
    fn bad_syntax_is_reported_with_a_position() {
        assert_eq!(
            translate("1 +").unwrap_err(),
            "unexpected end of expression"
        );
        assert_eq!(
            translate("a ? b").unwrap_err(),
            "expected `:`, found end of expression"
        );
        assert_eq!(
            translate("(a").unwrap_err(),
            "expected `)`, found end of expression"
        );
        assert_eq!(
            translate("a b").unwrap_err(),
            "unexpected `b` at position 2"
        );
        assert_eq!(
            translate("'abc").unwrap_err(),
            "unterminated string starting at position 0"
        );
        assert!(
            translate(&"(".repeat(10_000))
                .unwrap_err()
                .contains("too deeply")
        );
    }
}
