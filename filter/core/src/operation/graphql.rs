//! The executable subset of GraphQL (October 2021 spec, §2): enough of a document to know
//! which operation runs and which root fields it selects, and to refuse what a server would.
//!
//! ```text
//! document   := (operation | fragment)+
//! operation  := selectionSet | ("query"|"mutation"|"subscription") Name? (…)? directive* selectionSet
//! fragment   := "fragment" Name "on" Name directive* selectionSet
//! selection  := (Name ":")? Name (…)? directive* selectionSet?      a field (alias resolved)
//!             | "..." Name directive*                              a fragment spread
//!             | "..." ("on" Name)? directive* selectionSet          an inline fragment
//! ```
//!
//! Only the top level of each selection set is kept; arguments, variable definitions,
//! directives and nested selections are skipped with bracket counting, so nesting costs no
//! stack. Root fields are the operation's own, plus those of the fragments it spreads and
//! its inline fragments, resolved recursively (a cycle, an unknown fragment or a document a
//! server would refuse for its shape is an error). `__typename` asks for no data and is left
//! out. Skipped values still go through the tokenizer, so a `{` inside a string is a string.
//!
//! Hand-written rather than `graphql-parser` (which builds the whole AST with `combine`):
//! the filter needs a few hundred lines of the grammar, and the `.wasm` stays small.

use super::{OpError, OpKind};

/// How deep inline fragments may nest at the top of a selection set, and how many fragment
/// spreads one operation may expand: beyond either the document is refused.
const MAX_DEPTH: usize = 32;
const MAX_EXPANSIONS: usize = 1024;

/// The operation that runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub kind: OpKind,
    pub name: Option<String>,
    pub fields: Vec<String>,
}

/// The operation `operation_name` picks from `doc` (the only one when `None`).
pub fn operation(doc: &str, operation_name: Option<&str>) -> Result<Operation, OpError> {
    let d = Parser::new(doc).document()?;
    let anonymous = d.ops.iter().filter(|o| o.name.is_none()).count();
    if d.ops.is_empty() || (anonymous > 0 && d.ops.len() > 1) {
        return Err(OpError::Malformed);
    }
    for (i, o) in d.ops.iter().enumerate() {
        if o.name.is_some() && d.ops[..i].iter().any(|p| p.name == o.name) {
            return Err(OpError::Malformed);
        }
    }
    for (i, f) in d.fragments.iter().enumerate() {
        if d.fragments[..i].iter().any(|g| g.0 == f.0) {
            return Err(OpError::Malformed);
        }
    }
    let op = match operation_name {
        Some(n) => d
            .ops
            .iter()
            .find(|o| o.name.as_deref() == Some(n))
            .ok_or(OpError::Malformed)?,
        None if d.ops.len() == 1 => &d.ops[0],
        None => return Err(OpError::Ambiguous),
    };
    let mut fields = Vec::new();
    let mut budget = MAX_EXPANSIONS;
    let mut stack = Vec::new();
    resolve(
        &op.items,
        &d.fragments,
        &mut stack,
        &mut budget,
        &mut fields,
    )?;
    Ok(Operation {
        kind: op.kind,
        name: op.name.clone(),
        fields,
    })
}

/// Collects the fields of `items`, expanding spreads; `stack` holds the fragments being
/// expanded, to refuse cycles.
fn resolve<'a>(
    items: &'a [Item],
    fragments: &'a [(String, Vec<Item>)],
    stack: &mut Vec<&'a str>,
    budget: &mut usize,
    out: &mut Vec<String>,
) -> Result<(), OpError> {
    for item in items {
        match item {
            Item::Field(name) => {
                if name != "__typename" && !out.contains(name) {
                    out.push(name.clone());
                }
            }
            Item::Inline(inner) => resolve(inner, fragments, stack, budget, out)?,
            Item::Spread(name) => {
                *budget = budget.checked_sub(1).ok_or(OpError::Malformed)?;
                if stack.contains(&name.as_str()) {
                    return Err(OpError::Malformed);
                }
                let (_, inner) = fragments
                    .iter()
                    .find(|(n, _)| n == name)
                    .ok_or(OpError::Malformed)?;
                stack.push(name);
                resolve(inner, fragments, stack, budget, out)?;
                stack.pop();
            }
        }
    }
    Ok(())
}

/// The top level of a selection set.
#[derive(Debug)]
enum Item {
    Field(String),
    Spread(String),
    Inline(Vec<Item>),
}

struct Op {
    kind: OpKind,
    name: Option<String>,
    items: Vec<Item>,
}

struct Document {
    ops: Vec<Op>,
    fragments: Vec<(String, Vec<Item>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Punct(u8),
    Spread,
    Name(&'a str),
    /// A number or a string: a value, only ever skipped.
    Value,
    End,
}

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    peeked: Option<Tok<'a>>,
}

type R<T> = Result<T, OpError>;
const BAD: OpError = OpError::Malformed;

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            src: text.as_bytes(),
            text,
            pos: 0,
            peeked: None,
        }
    }

    fn document(mut self) -> R<Document> {
        let mut d = Document {
            ops: Vec::new(),
            fragments: Vec::new(),
        };
        loop {
            match self.next()? {
                Tok::End => return Ok(d),
                Tok::Punct(b'{') => d.ops.push(Op {
                    kind: OpKind::Query,
                    name: None,
                    items: self.selection_set_body(0)?,
                }),
                Tok::Name("fragment") => {
                    let name = match self.next()? {
                        Tok::Name(n) if n != "on" => n.to_string(),
                        _ => return Err(BAD),
                    };
                    self.expect_name("on")?;
                    self.any_name()?;
                    self.directives()?;
                    self.expect(b'{')?;
                    let items = self.selection_set_body(0)?;
                    d.fragments.push((name, items));
                }
                Tok::Name(kw) => {
                    let kind = match kw {
                        "query" => OpKind::Query,
                        "mutation" => OpKind::Mutation,
                        "subscription" => OpKind::Subscription,
                        // Type-system definitions and anything else: not an executable document.
                        _ => return Err(BAD),
                    };
                    let mut name = None;
                    if let Tok::Name(n) = self.peek()? {
                        name = Some(n.to_string());
                        self.next()?;
                    }
                    if self.peek()? == Tok::Punct(b'(') {
                        self.next()?;
                        self.skip_balanced(b'(')?;
                    }
                    self.directives()?;
                    self.expect(b'{')?;
                    let items = self.selection_set_body(0)?;
                    d.ops.push(Op { kind, name, items });
                }
                _ => return Err(BAD),
            }
        }
    }

    /// The selections after a `{`, up to its `}`; nested selection sets are skipped.
    fn selection_set_body(&mut self, depth: usize) -> R<Vec<Item>> {
        if depth > MAX_DEPTH {
            return Err(BAD);
        }
        let mut items = Vec::new();
        loop {
            match self.next()? {
                Tok::Punct(b'}') if !items.is_empty() => return Ok(items),
                Tok::Spread => match self.peek()? {
                    Tok::Name(n) if n != "on" => {
                        let n = n.to_string();
                        self.next()?;
                        self.directives()?;
                        items.push(Item::Spread(n));
                    }
                    _ => {
                        if self.peek()? == Tok::Name("on") {
                            self.next()?;
                            self.any_name()?;
                        }
                        self.directives()?;
                        self.expect(b'{')?;
                        items.push(Item::Inline(self.selection_set_body(depth + 1)?));
                    }
                },
                Tok::Name(first) => {
                    let mut name = first;
                    if self.peek()? == Tok::Punct(b':') {
                        self.next()?;
                        name = self.any_name()?;
                    }
                    if self.peek()? == Tok::Punct(b'(') {
                        self.next()?;
                        self.skip_balanced(b'(')?;
                    }
                    self.directives()?;
                    if self.peek()? == Tok::Punct(b'{') {
                        self.next()?;
                        self.skip_balanced(b'{')?;
                    }
                    items.push(Item::Field(name.to_string()));
                }
                _ => return Err(BAD),
            }
        }
    }

    /// `@name(args)?` repeated.
    fn directives(&mut self) -> R<()> {
        while self.peek()? == Tok::Punct(b'@') {
            self.next()?;
            self.any_name()?;
            if self.peek()? == Tok::Punct(b'(') {
                self.next()?;
                self.skip_balanced(b'(')?;
            }
        }
        Ok(())
    }

    /// Skips to the bracket that closes `open` (already read), checking every bracket pairs.
    fn skip_balanced(&mut self, open: u8) -> R<()> {
        let mut stack = vec![open];
        while let Some(&top) = stack.last() {
            match self.next()? {
                Tok::End => return Err(BAD),
                Tok::Punct(c @ (b'(' | b'[' | b'{')) => stack.push(c),
                Tok::Punct(c @ (b')' | b']' | b'}')) => {
                    let want = match top {
                        b'(' => b')',
                        b'[' => b']',
                        _ => b'}',
                    };
                    if c != want {
                        return Err(BAD);
                    }
                    stack.pop();
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn any_name(&mut self) -> R<&'a str> {
        match self.next()? {
            Tok::Name(n) => Ok(n),
            _ => Err(BAD),
        }
    }

    fn expect_name(&mut self, want: &str) -> R<()> {
        match self.next()? {
            Tok::Name(n) if n == want => Ok(()),
            _ => Err(BAD),
        }
    }

    fn expect(&mut self, c: u8) -> R<()> {
        match self.next()? {
            Tok::Punct(p) if p == c => Ok(()),
            _ => Err(BAD),
        }
    }

    fn peek(&mut self) -> R<Tok<'a>> {
        if let Some(t) = self.peeked {
            return Ok(t);
        }
        let t = self.lex()?;
        self.peeked = Some(t);
        Ok(t)
    }

    fn next(&mut self) -> R<Tok<'a>> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex(),
        }
    }

    /// The next token, after whitespace, commas, a byte-order mark and comments.
    fn lex(&mut self) -> R<Tok<'a>> {
        let s = self.src;
        loop {
            match s.get(self.pos) {
                None => return Ok(Tok::End),
                Some(b' ' | b'\t' | b'\n' | b'\r' | b',') => self.pos += 1,
                Some(0xEF) if s.get(self.pos..self.pos + 3) == Some(&[0xEF, 0xBB, 0xBF]) => {
                    self.pos += 3
                }
                Some(b'#') => {
                    while !matches!(s.get(self.pos), None | Some(b'\n' | b'\r')) {
                        self.pos += 1;
                    }
                }
                Some(_) => break,
            }
        }
        let start = self.pos;
        let c = s[start];
        match c {
            b'!' | b'$' | b'&' | b'(' | b')' | b':' | b'=' | b'@' | b'[' | b']' | b'{' | b'|'
            | b'}' => {
                self.pos += 1;
                Ok(Tok::Punct(c))
            }
            b'.' => {
                if s.get(start..start + 3) == Some(b"...") {
                    self.pos += 3;
                    Ok(Tok::Spread)
                } else {
                    Err(BAD)
                }
            }
            b'_' | b'A'..=b'Z' | b'a'..=b'z' => {
                let len = s[start..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                self.pos += len;
                Ok(Tok::Name(&self.text[start..start + len]))
            }
            b'-' | b'0'..=b'9' => {
                let len = s[start..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                    .count();
                self.pos += len;
                Ok(Tok::Value)
            }
            b'"' => self.string(),
            _ => Err(BAD),
        }
    }

    /// A string or block string, skipped whole (escapes included).
    fn string(&mut self) -> R<Tok<'a>> {
        let s = self.src;
        if s.get(self.pos..self.pos + 3) == Some(b"\"\"\"") {
            self.pos += 3;
            loop {
                match s.get(self.pos) {
                    None => return Err(BAD),
                    Some(b'\\') if s.get(self.pos + 1..self.pos + 4) == Some(b"\"\"\"") => {
                        self.pos += 4
                    }
                    Some(b'"') if s.get(self.pos..self.pos + 3) == Some(b"\"\"\"") => {
                        self.pos += 3;
                        return Ok(Tok::Value);
                    }
                    Some(_) => self.pos += 1,
                }
            }
        }
        self.pos += 1;
        loop {
            match s.get(self.pos) {
                None | Some(b'\n' | b'\r') => return Err(BAD),
                Some(b'\\') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Tok::Value);
                }
                Some(_) => self.pos += 1,
            }
        }
    }
}
