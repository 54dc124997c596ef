//! Compiled templates: the common templates rendered without the engine's interpreter.
//!
//! A template made only of text, `{{ … }}` of names, attributes and constant
//! subscripts, `{% for x in … %}` (with `{% else %}` and `loop.index`, `index0`,
//! `revindex`, `revindex0`, `first`, `last`, `length`) and `{% if … %}` on the truth of
//! such values, `not`, `and`, `or`, `==` and `!=`, and `{{ … |safe }}`, is compiled,
//! once per source, from minijinja's own syntax tree into a small tree of operations
//! ([`Plan`]). Anything else (`extends`, `block`, `include`, `set`, macros, other
//! filters, calls, other operators) leaves the template to minijinja. Of the globals,
//! the plan knows `current_user`; any other name the context lacks leaves the page to
//! minijinja.
//!
//! The context is serialized into a flat arena ([`Arena`]) reused from render to
//! render, not into the engine's values, and the plan walks it. What the plan meets
//! and does not handle exactly as minijinja would (a name the context lacks, which may
//! be a global or an error; a float, a map or a sequence to print; a map to iterate;
//! anything undefined, an item minijinja could not convert) abandons the attempt
//! ([`Bail`]), and the caller renders with minijinja instead, which serializes the
//! context again. So a compiled template prints what minijinja prints, byte for byte,
//! or is not used (given a context whose `Serialize` says the same each time it
//! runs): the tests below render a table of templates and contexts both ways and
//! compare. A plan that gives up `GIVE_UP_AFTER` times in a row leaves its template
//! to minijinja, trying again once every `RETRY_EVERY` renders.
//!
//! Values of minijinja's own ([`Value`], a [`context!`](minijinja::context), a string
//! marked safe) inside a context are recognised while it is serialized and kept as
//! they are: the serialization runs inside minijinja's, so such a value hands over
//! itself rather than its data, as it does to the engine.

use std::cell::{Cell, RefCell};
use std::fmt;

use minijinja::machinery::ast::{self, Expr as Ast, Stmt};
use minijinja::value::{Serde, Value, ValueKind};
use serde::ser::{self, Serialize, Serializer};

use super::write_xhtml_escaped;

/// The name under which minijinja serializes one of its own values while it converts
/// a context (its in-band marker; checked by the tests that pass such values).
const VALUE_HANDLE_MARKER: &str = "\x01__minijinja_ValueHandle";

// ---------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------

/// A template compiled for the fast path.
#[derive(Debug)]
pub(crate) struct Plan {
    ops: Vec<Op>,
    /// The length of the last page, to size the next one's buffer.
    size_hint: Cell<usize>,
    /// Renders the plan gave up on (or skipped) in a row: from `GIVE_UP_AFTER`, the
    /// template's contexts are taken not to suit it, and the engine renders it but
    /// for one render in `RETRY_EVERY`, in case they changed.
    bails: Cell<u32>,
}

/// See `Plan::bails`.
const GIVE_UP_AFTER: u32 = 32;
const RETRY_EVERY: u32 = 256;

#[derive(Debug)]
enum Op {
    Text(Box<str>),
    Print(Expr),
    /// `Print(LocalAttr(..))`, the commonest print in a loop, without the detour
    /// through a value.
    PrintField(usize, Name),
    /// `{{ x|safe }}`: a string printed as it is.
    PrintSafe(Expr),
    For {
        iter: Expr,
        body: Vec<Op>,
        otherwise: Vec<Op>,
    },
    If {
        cond: Cond,
        then: Vec<Op>,
        otherwise: Vec<Op>,
    },
}

#[derive(Debug)]
enum Expr {
    /// A name of the context.
    Root(Name),
    /// The target of the loop at this depth (0 the outermost).
    Local(usize),
    /// An attribute of that target.
    LocalAttr(usize, Name),
    /// An attribute of the `loop` of the loop at this depth.
    Loop(usize, LoopAttr),
    Attr(Box<Expr>, Name),
    Index(Box<Expr>, usize),
    Key(Box<Expr>, Name),
    Str(Box<str>),
    Int(i64),
    Bool(bool),
    None,
}

/// A name looked up in maps and structs, with where it was found last in a struct:
/// the index of the field, and the address of the struct's key there (a `&'static
/// str`, the same for every value of one struct type, so finding it at that address
/// again means the same name without comparing the text).
#[derive(Debug)]
struct Name {
    text: Box<str>,
    field: Cell<usize>,
    key: Cell<(usize, usize)>,
}

impl Name {
    fn new(text: &str) -> Name {
        Name {
            text: text.into(),
            field: Cell::new(0),
            key: Cell::new((0, 0)),
        }
    }
}

fn address(s: &str) -> (usize, usize) {
    (s.as_ptr() as usize, s.len())
}

#[derive(Debug, Clone, Copy)]
enum LoopAttr {
    Index,
    Index0,
    RevIndex,
    RevIndex0,
    First,
    Last,
    Length,
}

#[derive(Debug)]
enum Cond {
    Truthy(Expr),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    /// `==` (or `!=` when the flag is false) of two values of one kind.
    Equal(Expr, Expr, bool),
}

/// What the compiler cannot compile: the template stays with the engine.
struct Unsupported;

type Compiled<T> = std::result::Result<T, Unsupported>;

impl Plan {
    /// Compiles the template `source` (named `name`, parsed with the environment's
    /// syntax, which is the default one), or `None` if it uses anything the fast path
    /// leaves to the engine.
    pub(crate) fn compile(source: &str, name: &str) -> Option<Plan> {
        let Stmt::Template(template) =
            minijinja::machinery::parse(source, name, Default::default()).ok()?
        else {
            return None;
        };
        let mut scope = Vec::new();
        let ops = compile_body(&template.children, &mut scope).ok()?;
        Some(Plan {
            ops,
            size_hint: Cell::new(source.len()),
            bails: Cell::new(0),
        })
    }
}

fn compile_body(stmts: &[Stmt<'_>], scope: &mut Vec<String>) -> Compiled<Vec<Op>> {
    let mut ops: Vec<Op> = Vec::with_capacity(stmts.len());
    for stmt in stmts {
        match stmt {
            Stmt::EmitRaw(raw) => match ops.last_mut() {
                Some(Op::Text(text)) => *text = format!("{text}{}", raw.raw).into(),
                _ => ops.push(Op::Text(raw.raw.into())),
            },
            Stmt::EmitExpr(emit) => {
                if let Ast::Filter(f) = &emit.expr
                    && f.name == "safe"
                    && f.args.is_empty()
                    && let Some(inner) = &f.expr
                {
                    ops.push(Op::PrintSafe(compile_expr(inner, scope)?));
                    continue;
                }
                let expr = compile_expr(&emit.expr, scope)?;
                match expr {
                    Expr::Bool(_) | Expr::None => return Err(Unsupported),
                    Expr::LocalAttr(depth, name) => ops.push(Op::PrintField(depth, name)),
                    expr => ops.push(Op::Print(expr)),
                }
            }
            Stmt::ForLoop(f) => {
                let Ast::Var(target) = &f.target else {
                    return Err(Unsupported);
                };
                if f.filter_expr.is_some() || f.recursive || target.id == "loop" {
                    return Err(Unsupported);
                }
                let iter = compile_expr(&f.iter, scope)?;
                // The else body runs in the enclosing scope.
                let otherwise = compile_body(&f.else_body, scope)?;
                scope.push(target.id.to_owned());
                let body = compile_body(&f.body, scope);
                scope.pop();
                ops.push(Op::For {
                    iter,
                    body: body?,
                    otherwise,
                });
            }
            Stmt::IfCond(i) => ops.push(Op::If {
                cond: compile_cond(&i.expr, scope)?,
                then: compile_body(&i.true_body, scope)?,
                otherwise: compile_body(&i.false_body, scope)?,
            }),
            _ => return Err(Unsupported),
        }
    }
    Ok(ops)
}

fn compile_cond(expr: &Ast<'_>, scope: &[String]) -> Compiled<Cond> {
    Ok(match expr {
        Ast::UnaryOp(u) if matches!(u.op, ast::UnaryOpKind::Not) => {
            Cond::Not(Box::new(compile_cond(&u.expr, scope)?))
        }
        Ast::BinOp(b) => match b.op {
            ast::BinOpKind::ScAnd => Cond::And(
                Box::new(compile_cond(&b.left, scope)?),
                Box::new(compile_cond(&b.right, scope)?),
            ),
            ast::BinOpKind::ScOr => Cond::Or(
                Box::new(compile_cond(&b.left, scope)?),
                Box::new(compile_cond(&b.right, scope)?),
            ),
            ast::BinOpKind::Eq | ast::BinOpKind::Ne => Cond::Equal(
                compile_expr(&b.left, scope)?,
                compile_expr(&b.right, scope)?,
                matches!(b.op, ast::BinOpKind::Eq),
            ),
            _ => return Err(Unsupported),
        },
        Ast::Compare(c) if c.ops.len() == 1 => {
            let equal = match c.ops[0].op {
                ast::CompareOpKind::Eq => true,
                ast::CompareOpKind::Ne => false,
                _ => return Err(Unsupported),
            };
            Cond::Equal(
                compile_expr(&c.expr, scope)?,
                compile_expr(&c.ops[0].expr, scope)?,
                equal,
            )
        }
        _ => Cond::Truthy(compile_expr(expr, scope)?),
    })
}

fn compile_expr(expr: &Ast<'_>, scope: &[String]) -> Compiled<Expr> {
    Ok(match expr {
        Ast::Var(var) => {
            if var.id == "loop" && !scope.is_empty() {
                // Only the attributes compiled below.
                return Err(Unsupported);
            }
            match scope.iter().rposition(|name| name == var.id) {
                Some(depth) => Expr::Local(depth),
                None => Expr::Root(Name::new(var.id)),
            }
        }
        Ast::Const(c) => constant(&c.value)?,
        Ast::GetAttr(a) => {
            if let Ast::Var(var) = &a.expr
                && var.id == "loop"
                && !scope.is_empty()
            {
                let attr = match a.name {
                    "index" => LoopAttr::Index,
                    "index0" => LoopAttr::Index0,
                    "revindex" => LoopAttr::RevIndex,
                    "revindex0" => LoopAttr::RevIndex0,
                    "first" => LoopAttr::First,
                    "last" => LoopAttr::Last,
                    "length" => LoopAttr::Length,
                    _ => return Err(Unsupported),
                };
                return Ok(Expr::Loop(scope.len() - 1, attr));
            }
            match compile_expr(&a.expr, scope)? {
                Expr::Local(depth) => Expr::LocalAttr(depth, Name::new(a.name)),
                base => Expr::Attr(Box::new(base), Name::new(a.name)),
            }
        }
        Ast::GetItem(g) => {
            let Ast::Const(key) = &g.subscript_expr else {
                return Err(Unsupported);
            };
            let base = Box::new(compile_expr(&g.expr, scope)?);
            if let Some(key) = key.value.as_str() {
                Expr::Key(base, Name::new(key))
            } else if key.value.is_integer()
                && let Some(index) = key.value.as_usize()
            {
                Expr::Index(base, index)
            } else {
                return Err(Unsupported);
            }
        }
        _ => return Err(Unsupported),
    })
}

/// A constant the plan can use: a string, an integer, a boolean or `none`.
fn constant(value: &Value) -> Compiled<Expr> {
    Ok(match value.kind() {
        ValueKind::String => Expr::Str(value.as_str().ok_or(Unsupported)?.into()),
        ValueKind::Bool => Expr::Bool(value.is_true()),
        ValueKind::None => Expr::None,
        ValueKind::Number if value.is_integer() => {
            Expr::Int(i64::try_from(value.clone()).map_err(|_| Unsupported)?)
        }
        _ => return Err(Unsupported),
    })
}

// ---------------------------------------------------------------------------
// The context: a flat arena made by a serde serializer
// ---------------------------------------------------------------------------

/// A context serialized for the plan: nodes, the children of sequences and maps, and
/// the text of every string, each in one vector reused from render to render.
#[derive(Default)]
struct Arena {
    nodes: Vec<Node>,
    /// The children of each sequence, and the keys and values of each map (key,
    /// value, key, value…), contiguous for each.
    kids: Vec<u32>,
    text: String,
    /// minijinja's own values met in the context.
    values: Vec<Value>,
    /// The children of the sequences and maps being serialized, innermost last.
    stack: Vec<u32>,
    /// Part of the context failed to serialize (its `Serialize` returned an error,
    /// even one that a parent then ignored) or outgrew the arena's 32-bit indexes:
    /// the arena does not hold what minijinja would, and the plan gives up.
    failed: bool,
}

#[derive(Debug, Clone, Copy)]
enum Node {
    None,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// A range of `Arena::text`.
    Str(u32, u32),
    Static(&'static str),
    /// A range of `Arena::kids`.
    Seq(u32, u32),
    /// A range of `Arena::kids`: keys and values in turn. A key's last value counts,
    /// as in minijinja's maps.
    Map(u32, u32),
    /// A struct's fields, as `Map`, but its first field of a name counts, as in
    /// minijinja's structs.
    Struct(u32, u32),
    /// One of minijinja's values, kept as it is: its index in `Arena::values`.
    Value(u32),
    /// Anything else (bytes, 128-bit integers): the plan gives up on it.
    Other,
}

impl Arena {
    fn push(&mut self, node: Node) -> u32 {
        self.nodes.push(node);
        self.index(self.nodes.len() - 1)
    }

    /// `i` as an index, or 0 with the arena failed if it does not fit in 32 bits.
    fn index(&mut self, i: usize) -> u32 {
        u32::try_from(i).unwrap_or_else(|_| {
            self.failed = true;
            0
        })
    }

    fn push_str(&mut self, s: &str) -> u32 {
        let start = self.index(self.text.len());
        self.text.push_str(s);
        let end = self.index(self.text.len());
        self.push(Node::Str(start, end))
    }

    fn str(&self, start: u32, end: u32) -> &str {
        &self.text[start as usize..end as usize]
    }

    /// Moves the children pushed since `mark` to `kids`: their range there.
    fn take_children(&mut self, mark: usize) -> (u32, u32) {
        let start = self.index(self.kids.len());
        self.kids.extend_from_slice(&self.stack[mark..]);
        self.stack.truncate(mark);
        (start, self.index(self.kids.len()))
    }

    fn clear(&mut self) {
        self.nodes.clear();
        self.kids.clear();
        self.text.clear();
        self.values.clear();
        self.stack.clear();
        self.failed = false;
    }
}

/// A serialization that failed (the context's own `Serialize` returned an error).
#[derive(Debug)]
struct SerError;

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the context did not serialize")
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        SerError
    }
}

type SerResult<T> = std::result::Result<T, SerError>;

/// A serializer method that makes one node of its value.
macro_rules! leaf {
    ($method:ident, |$v:ident: $ty:ty| $node:expr) => {
        fn $method(self, $v: $ty) -> SerResult<u32> {
            Ok(self.push($node))
        }
    };
}

impl<'a> Serializer for &'a mut Arena {
    type Ok = u32;
    type Error = SerError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    leaf!(serialize_bool, |v: bool| Node::Bool(v));
    leaf!(serialize_i8, |v: i8| Node::Int(v.into()));
    leaf!(serialize_i16, |v: i16| Node::Int(v.into()));
    leaf!(serialize_i32, |v: i32| Node::Int(v.into()));
    leaf!(serialize_i64, |v: i64| Node::Int(v));
    leaf!(serialize_i128, |_v: i128| Node::Other);
    leaf!(serialize_u8, |v: u8| Node::UInt(v.into()));
    leaf!(serialize_u16, |v: u16| Node::UInt(v.into()));
    leaf!(serialize_u32, |v: u32| Node::UInt(v.into()));
    leaf!(serialize_u64, |v: u64| Node::UInt(v));
    leaf!(serialize_u128, |_v: u128| Node::Other);
    leaf!(serialize_f32, |v: f32| Node::Float(v.into()));
    leaf!(serialize_f64, |v: f64| Node::Float(v));
    fn serialize_char(self, v: char) -> SerResult<u32> {
        Ok(self.push_str(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> SerResult<u32> {
        Ok(self.push_str(v))
    }
    fn serialize_bytes(self, _v: &[u8]) -> SerResult<u32> {
        Ok(self.push(Node::Other))
    }
    fn serialize_none(self) -> SerResult<u32> {
        Ok(self.push(Node::None))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> SerResult<u32> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> SerResult<u32> {
        Ok(self.push(Node::None))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> SerResult<u32> {
        Ok(self.push(Node::None))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> SerResult<u32> {
        Ok(self.push(Node::Static(variant)))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> SerResult<u32> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> SerResult<u32> {
        // As minijinja does: a map of the variant's name to its value.
        let inner = value.serialize(&mut *self)?;
        Ok(variant_map(self, variant, inner))
    }
    fn serialize_seq(self, _len: Option<usize>) -> SerResult<Compound<'a>> {
        Ok(Compound::new(self, Kind::Seq))
    }
    fn serialize_tuple(self, _len: usize) -> SerResult<Compound<'a>> {
        // minijinja makes a tuple, which iterates, indexes and tests as a list does
        // (it prints differently, but the plan prints no sequence).
        Ok(Compound::new(self, Kind::Seq))
    }
    fn serialize_tuple_struct(self, name: &'static str, _len: usize) -> SerResult<Compound<'a>> {
        if name == VALUE_HANDLE_MARKER {
            Ok(Compound::new(self, Kind::Handle))
        } else {
            Ok(Compound::new(self, Kind::Seq))
        }
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> SerResult<Compound<'a>> {
        Ok(Compound::new(self, Kind::SeqVariant(variant)))
    }
    fn serialize_map(self, _len: Option<usize>) -> SerResult<Compound<'a>> {
        Ok(Compound::new(self, Kind::Map))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> SerResult<Compound<'a>> {
        Ok(Compound::new(self, Kind::Struct))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> SerResult<Compound<'a>> {
        Ok(Compound::new(self, Kind::MapVariant(variant)))
    }
}

/// `{variant: inner}`, as minijinja represents an enum's variant with data.
fn variant_map(arena: &mut Arena, variant: &'static str, inner: u32) -> u32 {
    let key = arena.push(Node::Static(variant));
    let start = arena.index(arena.kids.len());
    arena.kids.extend_from_slice(&[key, inner]);
    let end = arena.index(arena.kids.len());
    arena.push(Node::Map(start, end))
}

enum Kind {
    Seq,
    Map,
    Struct,
    SeqVariant(&'static str),
    MapVariant(&'static str),
    /// One of minijinja's own values, by its handle.
    Handle,
}

/// A sequence, map, struct or variant being serialized: its children go on the
/// arena's stack from `mark`.
struct Compound<'a> {
    arena: &'a mut Arena,
    mark: usize,
    kind: Kind,
}

impl<'a> Compound<'a> {
    fn new(arena: &'a mut Arena, kind: Kind) -> Compound<'a> {
        let mark = arena.stack.len();
        Compound { arena, mark, kind }
    }

    fn child<T: Serialize + ?Sized>(&mut self, value: &T) -> SerResult<()> {
        match value.serialize(&mut *self.arena) {
            Ok(node) => {
                self.arena.stack.push(node);
                Ok(())
            }
            Err(e) => {
                // The parent may carry on without this child; the arena may not.
                self.arena.failed = true;
                Err(e)
            }
        }
    }

    fn key(&mut self, key: &'static str) {
        let node = self.arena.push(Node::Static(key));
        self.arena.stack.push(node);
    }

    fn end(self) -> SerResult<u32> {
        let arena = self.arena;
        if let Kind::Handle = self.kind {
            return Ok(handle_value(arena, self.mark));
        }
        let (start, end) = arena.take_children(self.mark);
        Ok(match self.kind {
            Kind::Seq => arena.push(Node::Seq(start, end)),
            Kind::Map => arena.push(Node::Map(start, end)),
            Kind::Struct => arena.push(Node::Struct(start, end)),
            Kind::SeqVariant(variant) => {
                let inner = arena.push(Node::Seq(start, end));
                variant_map(arena, variant, inner)
            }
            Kind::MapVariant(variant) => {
                let inner = arena.push(Node::Map(start, end));
                variant_map(arena, variant, inner)
            }
            Kind::Handle => unreachable!("returned above"),
        })
    }
}

/// The value behind a handle minijinja serialized (its one child, a number): handed
/// back through minijinja's own conversion, which takes it out of its registry.
fn handle_value(arena: &mut Arena, mark: usize) -> u32 {
    let handle = match arena.stack.get(mark).map(|&i| &arena.nodes[i as usize]) {
        Some(&Node::UInt(h)) => u32::try_from(h).ok(),
        Some(&Node::Int(h)) => u32::try_from(h).ok(),
        _ => None,
    };
    arena.stack.truncate(mark);
    let Some(handle) = handle else {
        return arena.push(Node::Other);
    };
    struct Replay(u32);
    impl Serialize for Replay {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            use serde::ser::SerializeTupleStruct;
            let mut t = s.serialize_tuple_struct(VALUE_HANDLE_MARKER, 1)?;
            t.serialize_field(&self.0)?;
            t.end()
        }
    }
    arena.values.push(Value::from(Serde(Replay(handle))));
    let index = arena.index(arena.values.len() - 1);
    arena.push(Node::Value(index))
}

macro_rules! compound {
    ($trait:ident, $method:ident) => {
        impl ser::$trait for Compound<'_> {
            type Ok = u32;
            type Error = SerError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> SerResult<()> {
                self.child(value)
            }
            fn end(self) -> SerResult<u32> {
                Compound::end(self)
            }
        }
    };
}

compound!(SerializeSeq, serialize_element);
compound!(SerializeTuple, serialize_element);
compound!(SerializeTupleStruct, serialize_field);
compound!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for Compound<'_> {
    type Ok = u32;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> SerResult<()> {
        self.child(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> SerResult<()> {
        self.child(value)
    }
    fn end(self) -> SerResult<u32> {
        Compound::end(self)
    }
}

macro_rules! fields {
    ($trait:ident) => {
        impl ser::$trait for Compound<'_> {
            type Ok = u32;
            type Error = SerError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> SerResult<()> {
                self.key(key);
                self.child(value)
            }
            fn end(self) -> SerResult<u32> {
                Compound::end(self)
            }
        }
    };
}

fields!(SerializeStruct);
fields!(SerializeStructVariant);

/// Serializes `context` into `arena` inside minijinja's own conversion, so that its
/// values inside the context come as handles to themselves: the root's node.
fn serialize_context<T: Serialize + ?Sized>(arena: &mut Arena, context: &T) -> Option<u32> {
    struct Probe<'a, T: ?Sized> {
        context: &'a T,
        arena: RefCell<&'a mut Arena>,
        root: Cell<Option<u32>>,
    }
    impl<T: Serialize + ?Sized> Serialize for Probe<'_, T> {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            let mut arena = self.arena.borrow_mut();
            self.root.set(self.context.serialize(&mut **arena).ok());
            s.serialize_unit()
        }
    }
    let probe = Probe {
        context,
        arena: RefCell::new(arena),
        root: Cell::new(None),
    };
    let _ = Value::from(Serde(&probe));
    let root = probe.root.get();
    if probe.arena.into_inner().failed {
        None
    } else {
        root
    }
}

thread_local! {
    /// Arenas to reuse: one per render under way on this thread.
    static ARENAS: RefCell<Vec<Arena>> = const { RefCell::new(Vec::new()) };
}

/// An arena is kept for reuse only up to this size (its vectors' capacities, in
/// bytes), so one huge context does not stay in memory.
const KEEP_ARENA_BYTES: usize = 256 * 1024;

impl Arena {
    /// The bytes its vectors hold.
    fn footprint(&self) -> usize {
        use std::mem::size_of;
        self.text.capacity()
            + self.nodes.capacity() * size_of::<Node>()
            + (self.kids.capacity() + self.stack.capacity()) * size_of::<u32>()
            + self.values.capacity() * size_of::<Value>()
    }
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

/// The plan met something it does not do exactly as minijinja would: the engine
/// renders the page instead.
#[derive(Debug)]
struct Bail;

type Rendered<T> = std::result::Result<T, Bail>;

/// A value while the plan runs.
#[derive(Clone)]
enum Val<'a> {
    Node(&'a Node),
    Value(Value),
    Str(&'a str),
    Int(i64),
    UInt(u64),
    Bool(bool),
    None,
}

/// A loop under way: its target and where it is.
struct LoopState<'a> {
    item: Val<'a>,
    index: usize,
    length: usize,
}

impl Plan {
    /// Renders with `context`, or `None` when the engine must (see [`Bail`]).
    /// `user` is the `current_user` global the engine would see (`none` when
    /// `None`), for a name the context does not hold.
    pub(crate) fn render<T: Serialize + ?Sized>(
        &self,
        context: &T,
        autoescape: bool,
        user: Option<&str>,
    ) -> Option<String> {
        let bails = self.bails.get();
        if bails >= GIVE_UP_AFTER && !bails.is_multiple_of(RETRY_EVERY) {
            self.bails.set(bails.saturating_add(1));
            return None;
        }
        let mut arena = ARENAS.with(|a| a.borrow_mut().pop()).unwrap_or_default();
        let page = serialize_context(&mut arena, context).and_then(|root| {
            let mut out = String::with_capacity(self.size_hint.get() + self.size_hint.get() / 8);
            let mut run = Run {
                arena: &arena,
                root: Val::None,
                user: user.map_or(Val::None, Val::Str),
                autoescape,
                loops: Vec::new(),
            };
            run.root = run.node(root);
            run.ops(&self.ops, &mut out).ok()?;
            Some(out)
        });
        arena.clear();
        if arena.footprint() <= KEEP_ARENA_BYTES {
            ARENAS.with(|a| a.borrow_mut().push(arena));
        }
        match &page {
            Some(page) => {
                self.size_hint.set(page.len());
                self.bails.set(0);
            }
            None => self.bails.set(bails.saturating_add(1)),
        }
        page
    }
}

struct Run<'a> {
    arena: &'a Arena,
    root: Val<'a>,
    /// The `current_user` global.
    user: Val<'a>,
    autoescape: bool,
    loops: Vec<LoopState<'a>>,
}

impl<'a> Run<'a> {
    fn ops(&mut self, ops: &'a [Op], out: &mut String) -> Rendered<()> {
        for op in ops {
            match op {
                Op::Text(text) => out.push_str(text),
                Op::Print(expr) => {
                    let value = self.eval(expr)?;
                    self.print(&value, out)?;
                }
                Op::PrintSafe(expr) => {
                    // minijinja's `safe` makes a string of any value; the plan takes
                    // strings only.
                    let value = self.eval(expr)?;
                    out.push_str(self.text_of(&value)?);
                }
                Op::PrintField(depth, name) => {
                    let item = &self.loops[*depth].item;
                    if let Val::Node(Node::Struct(start, end)) = item
                        && let Some(node) = self.field(*start, *end, name)
                        && self.print_node(node, out)
                    {
                        continue;
                    }
                    let value = self.attr(item, name)?;
                    self.print(&value, out)?;
                }
                Op::For {
                    iter,
                    body,
                    otherwise,
                } => {
                    let seq = self.eval(iter)?;
                    self.each(&seq, body, otherwise, out)?;
                }
                Op::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    if self.test(cond)? {
                        self.ops(then, out)?;
                    } else {
                        self.ops(otherwise, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn eval(&self, expr: &'a Expr) -> Rendered<Val<'a>> {
        Ok(match expr {
            Expr::Root(name) => match self.in_context(name)? {
                Some(value) => value,
                // The engine's next place to look: the render's globals, of which the
                // plan knows `current_user`.
                None if &*name.text == "current_user" => self.user.clone(),
                None => return Err(Bail),
            },
            Expr::Local(depth) => self.loops[*depth].item.clone(),
            Expr::LocalAttr(depth, name) => self.attr(&self.loops[*depth].item, name)?,
            Expr::Loop(depth, attr) => {
                let l = &self.loops[*depth];
                match attr {
                    LoopAttr::Index => Val::UInt((l.index + 1) as u64),
                    LoopAttr::Index0 => Val::UInt(l.index as u64),
                    LoopAttr::RevIndex => Val::UInt((l.length - l.index) as u64),
                    LoopAttr::RevIndex0 => Val::UInt((l.length - l.index - 1) as u64),
                    LoopAttr::First => Val::Bool(l.index == 0),
                    LoopAttr::Last => Val::Bool(l.index + 1 == l.length),
                    LoopAttr::Length => Val::UInt(l.length as u64),
                }
            }
            Expr::Attr(base, name) => self.attr(&self.eval(base)?, name)?,
            Expr::Key(base, name) => match self.eval(base)? {
                // A subscript asks the engine's value as the engine's `[]` does.
                Val::Value(v) if v.kind() == ValueKind::Map => {
                    mj_defined(v.get_item(&Value::from(&*name.text)))?
                }
                base => self.attr(&base, name)?,
            },
            Expr::Index(base, index) => self.item(&self.eval(base)?, *index)?,
            Expr::Str(s) => Val::Str(s),
            Expr::Int(n) => Val::Int(*n),
            Expr::Bool(b) => Val::Bool(*b),
            Expr::None => Val::None,
        })
    }

    /// The context's `name`, `None` if it has none (the engine then looks in the
    /// globals), or `Bail` if the plan cannot tell.
    fn in_context(&self, name: &Name) -> Rendered<Option<Val<'a>>> {
        match &self.root {
            Val::Node(Node::Struct(..) | Node::Map(..)) => match self.attr(&self.root, name) {
                Ok(value) => Ok(Some(value)),
                // Not there, or a map key of the engine's own that may be the name.
                Err(Bail) if self.map_has_engine_keys(&self.root) => Err(Bail),
                Err(Bail) => Ok(None),
            },
            // The engine's `Root` asks any value (an object of the user's may answer
            // whatever its kind) and looks in the globals if it gets nothing.
            Val::Value(v) => match v.get_attr(&name.text) {
                Ok(value) if value.kind() == ValueKind::Invalid => Err(Bail),
                Ok(value) if !value.is_undefined() => Ok(Some(Val::Value(value))),
                Ok(_) | Err(_) => Ok(None),
            },
            // Anything else at the root has no names; the engine's `Root` then looks
            // in the globals.
            _ => Ok(None),
        }
    }

    /// Whether a map node has a key that is one of minijinja's values.
    fn map_has_engine_keys(&self, map: &Val<'a>) -> bool {
        let Val::Node(Node::Map(start, end)) = map else {
            return false;
        };
        self.arena.kids[*start as usize..*end as usize]
            .chunks_exact(2)
            .any(|pair| matches!(self.arena.nodes[pair[0] as usize], Node::Value(_)))
    }

    /// The value of `name` in a map or struct, found as minijinja finds it.
    #[inline]
    fn attr(&self, base: &Val<'a>, name: &Name) -> Rendered<Val<'a>> {
        match base {
            Val::Node(Node::Struct(start, end)) => match self.field(*start, *end, name) {
                Some(Node::Value(i)) => Ok(Val::Value(self.arena.values[*i as usize].clone())),
                Some(node) => Ok(Val::Node(node)),
                None => Err(Bail),
            },
            Val::Node(Node::Map(start, end)) => {
                let kids = &self.arena.kids[*start as usize..*end as usize];
                for pair in kids.chunks_exact(2).rev() {
                    let key = match &self.arena.nodes[pair[0] as usize] {
                        Node::Str(s, e) => self.arena.str(*s, *e),
                        Node::Static(s) => s,
                        // A key of the engine's own: it may equal `name`.
                        Node::Value(_) => return Err(Bail),
                        _ => continue,
                    };
                    if key == &*name.text {
                        return Ok(self.node(pair[1]));
                    }
                }
                Err(Bail)
            }
            Val::Value(v) if v.kind() == ValueKind::Map => mj_defined(v.get_attr(&name.text)),
            _ => Err(Bail),
        }
    }

    /// The field `name` of the struct whose fields are `kids[start..end]` (the first
    /// of that name, as minijinja finds it).
    #[inline]
    fn field(&self, start: u32, end: u32, name: &Name) -> Option<&'a Node> {
        let arena: &'a Arena = self.arena;
        let kids = &arena.kids[start as usize..end as usize];
        let field = name.field.get();
        if let Some(pair) = kids.get(2 * field..2 * field + 2)
            && let Node::Static(key) = &arena.nodes[pair[0] as usize]
            && address(key) == name.key.get()
            // The first of that name: a hand-written `Serialize` may repeat one.
            && !kids[..2 * field].chunks_exact(2).any(|p| {
                matches!(&arena.nodes[p[0] as usize], Node::Static(k) if k.len() == key.len() && k == key)
            })
        {
            return Some(&arena.nodes[pair[1] as usize]);
        }
        for (field, pair) in kids.chunks_exact(2).enumerate() {
            if let Node::Static(key) = &arena.nodes[pair[0] as usize]
                && **key == *name.text
            {
                name.field.set(field);
                name.key.set(address(key));
                return Some(&arena.nodes[pair[1] as usize]);
            }
        }
        None
    }

    /// Prints a string or integer node; `false` for any other (nothing printed).
    #[inline]
    fn print_node(&self, node: &Node, out: &mut String) -> bool {
        match node {
            Node::Str(s, e) => self.print_str(self.arena.str(*s, *e), out),
            Node::Static(s) => self.print_str(s, out),
            Node::Int(n) => put_int(out, *n),
            Node::UInt(n) => put_uint(out, *n),
            _ => return false,
        }
        true
    }

    /// Node `index` as a value: one of minijinja's is taken out of the arena.
    #[inline]
    fn node(&self, index: u32) -> Val<'a> {
        let arena: &'a Arena = self.arena;
        match &arena.nodes[index as usize] {
            Node::Value(i) => Val::Value(arena.values[*i as usize].clone()),
            node => Val::Node(node),
        }
    }

    /// A loop of `length` items begins (an error ends the whole render, so only the
    /// loops that finish take their state off).
    fn enter(&mut self, length: usize) {
        self.loops.push(LoopState {
            item: Val::None,
            index: 0,
            length,
        });
    }

    /// Runs `body` for each item of `seq`, or `otherwise` if it has none.
    fn each(
        &mut self,
        seq: &Val<'a>,
        body: &'a [Op],
        otherwise: &'a [Op],
        out: &mut String,
    ) -> Rendered<()> {
        match seq {
            Val::Node(Node::Seq(start, end)) => {
                let arena: &'a Arena = self.arena;
                let kids = &arena.kids[*start as usize..*end as usize];
                if kids.is_empty() {
                    return self.ops(otherwise, out);
                }
                self.enter(kids.len());
                for (index, &kid) in kids.iter().enumerate() {
                    let item = self.node(kid);
                    if let Val::Value(v) = &item {
                        invalid(v)?;
                    }
                    self.step(item, index, kids.len(), body, out)?;
                }
                self.loops.pop();
                Ok(())
            }
            // As the engine iterates its sequences: the length is the iterator's,
            // when it knows it exactly.
            Val::Value(v) if v.kind() == ValueKind::Seq => {
                let items = v.try_iter().map_err(|_| Bail)?;
                let length = match items.size_hint() {
                    (low, Some(high)) if low == high => low,
                    _ => return Err(Bail),
                };
                if length == 0 {
                    return self.ops(otherwise, out);
                }
                self.enter(length);
                for (index, item) in items.enumerate() {
                    invalid(&item)?;
                    self.step(Val::Value(item), index, length, body, out)?;
                }
                self.loops.pop();
                Ok(())
            }
            _ => Err(Bail),
        }
    }

    /// One turn of a loop (whose state `each` pushed).
    #[inline]
    fn step(
        &mut self,
        item: Val<'a>,
        index: usize,
        length: usize,
        body: &'a [Op],
        out: &mut String,
    ) -> Rendered<()> {
        if index >= length {
            // The sequence gave more items than its length said.
            return Err(Bail);
        }

        let state = self.loops.last_mut().ok_or(Bail)?;
        state.item = item;
        state.index = index;
        self.ops(body, out)
    }

    /// Item `index` of a sequence.
    fn item(&self, seq: &Val<'a>, index: usize) -> Rendered<Val<'a>> {
        match seq {
            Val::Node(Node::Seq(start, end)) => {
                let kids = &self.arena.kids[*start as usize..*end as usize];
                kids.get(index).map(|&i| self.node(i)).ok_or(Bail)
            }
            Val::Value(v) if v.kind() == ValueKind::Seq => mj_defined(v.get_item_by_index(index)),
            _ => Err(Bail),
        }
    }

    fn print(&self, value: &Val<'a>, out: &mut String) -> Rendered<()> {
        match value {
            Val::Node(node) => {
                if !self.print_node(node, out) {
                    return Err(Bail);
                }
            }
            Val::Str(s) => self.print_str(s, out),
            Val::Int(n) => put_int(out, *n),
            Val::UInt(n) => put_uint(out, *n),
            Val::Value(v) => {
                if let Some(s) = v.as_str() {
                    if v.is_safe() || !self.autoescape {
                        out.push_str(s);
                    } else {
                        self.print_str(s, out);
                    }
                } else if v.is_integer() {
                    use std::fmt::Write;
                    let _ = write!(out, "{v}");
                } else {
                    return Err(Bail);
                }
            }
            _ => return Err(Bail),
        }
        Ok(())
    }

    /// The text of a string value.
    fn text_of<'v>(&self, value: &'v Val<'a>) -> Rendered<&'v str>
    where
        'a: 'v,
    {
        match value {
            Val::Node(Node::Str(s, e)) => Ok(self.arena.str(*s, *e)),
            Val::Node(Node::Static(s)) | Val::Str(s) => Ok(s),
            Val::Value(v) => v.as_str().ok_or(Bail),
            _ => Err(Bail),
        }
    }

    fn print_str(&self, s: &str, out: &mut String) {
        if self.autoescape {
            let _ = write_xhtml_escaped(out, s);
        } else {
            out.push_str(s);
        }
    }

    fn test(&self, cond: &'a Cond) -> Rendered<bool> {
        Ok(match cond {
            Cond::Truthy(expr) => truthy(&self.eval(expr)?)?,
            Cond::Not(c) => !self.test(c)?,
            Cond::And(a, b) => self.test(a)? && self.test(b)?,
            Cond::Or(a, b) => self.test(a)? || self.test(b)?,
            Cond::Equal(a, b, equal) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let (a, b) = (scalar(self.arena, &a)?, scalar(self.arena, &b)?);
                if std::mem::discriminant(&a) != std::mem::discriminant(&b) {
                    return Err(Bail);
                }
                (a == b) == *equal
            }
        })
    }
}

/// The engine stops a loop at an item that did not convert: so does the plan.
fn invalid(item: &Value) -> Rendered<()> {
    if item.kind() == ValueKind::Invalid {
        Err(Bail)
    } else {
        Ok(())
    }
}

/// A value minijinja gave back, unless it is undefined (an error in strict mode, or a
/// global the context does not hold).
fn mj_defined(value: std::result::Result<Value, minijinja::Error>) -> Rendered<Val<'static>> {
    match value {
        Ok(v) if !v.is_undefined() && v.kind() != ValueKind::Invalid => Ok(Val::Value(v)),
        _ => Err(Bail),
    }
}

/// Minijinja's truth of a value.
fn truthy(value: &Val<'_>) -> Rendered<bool> {
    Ok(match value {
        Val::Value(v) => match v.kind() {
            ValueKind::Bool
            | ValueKind::Number
            | ValueKind::None
            | ValueKind::String
            | ValueKind::Seq
            | ValueKind::Map => v.is_true(),
            _ => return Err(Bail),
        },
        Val::Node(node) => match node {
            Node::None => false,
            Node::Bool(b) => *b,
            Node::Int(n) => *n != 0,
            Node::UInt(n) => *n != 0,
            Node::Float(f) => *f != 0.0,
            Node::Str(s, e) => s != e,
            Node::Static(s) => !s.is_empty(),
            Node::Seq(s, e) | Node::Map(s, e) | Node::Struct(s, e) => s != e,
            // `Run::node` hands minijinja's values out as `Val::Value`.
            Node::Value(_) | Node::Other => return Err(Bail),
        },
        Val::Str(s) => !s.is_empty(),
        Val::Int(n) => *n != 0,
        Val::UInt(n) => *n != 0,
        Val::Bool(b) => *b,
        Val::None => false,
    })
}

/// A value compared with `==`: a string, an integer, a boolean or none. Anything else,
/// and two of different kinds, are left to minijinja.
#[derive(PartialEq)]
enum Scalar<'a> {
    Str(&'a str),
    Int(i128),
    Bool(bool),
    None,
}

fn scalar<'v>(arena: &'v Arena, value: &'v Val<'_>) -> Rendered<Scalar<'v>> {
    Ok(match value {
        Val::Node(node) => match node {
            Node::None => Scalar::None,
            Node::Bool(b) => Scalar::Bool(*b),
            Node::Int(n) => Scalar::Int((*n).into()),
            Node::UInt(n) => Scalar::Int((*n).into()),
            Node::Str(s, e) => Scalar::Str(arena.str(*s, *e)),
            Node::Static(s) => Scalar::Str(s),
            // `Run::node` hands minijinja's values out as `Val::Value`.
            _ => return Err(Bail),
        },
        Val::Value(v) => mj_scalar(v)?,
        Val::Str(s) => Scalar::Str(s),
        Val::Int(n) => Scalar::Int((*n).into()),
        Val::UInt(n) => Scalar::Int((*n).into()),
        Val::Bool(b) => Scalar::Bool(*b),
        Val::None => Scalar::None,
    })
}

fn mj_scalar(v: &Value) -> Rendered<Scalar<'_>> {
    Ok(match v.kind() {
        ValueKind::String => Scalar::Str(v.as_str().ok_or(Bail)?),
        ValueKind::None => Scalar::None,
        ValueKind::Bool => Scalar::Bool(v.is_true()),
        ValueKind::Number if v.is_integer() => {
            Scalar::Int(i128::try_from(v.clone()).map_err(|_| Bail)?)
        }
        _ => return Err(Bail),
    })
}

/// Writes `n` in decimal.
fn put_uint(out: &mut String, n: u64) {
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
    } else {
        out.push_str(crate::staticfile::decimal(n, &mut [0; 20]));
    }
}

fn put_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    put_uint(out, n.unsigned_abs());
}

#[cfg(test)]
mod tests {
    //! Every template here is rendered twice, by its plan and by minijinja (the engine
    //! path of `template.rs`, with the same environment, escaping and globals), and
    //! the two pages must be the same. Each case also says which way the plan goes:
    //! it renders, it gives up on this context, or the template is not compiled.

    use std::collections::{BTreeMap, HashMap};
    use std::rc::Rc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use minijinja::context;
    use serde::Serialize;

    use super::*;
    use crate::application::AppShared;
    use crate::template::{RenderScope, render_compiled, render_page, to_value};
    use crate::{Application, Settings};

    /// Template `name` of `app` rendered by its plan (`None` if the plan left it to
    /// the engine) and by the engine, in a render whose `current_user` is `user`.
    pub(super) fn both_ways<T: Serialize>(
        app: &Rc<AppShared>,
        name: &str,
        context: &T,
        user: Option<&str>,
    ) -> (Option<String>, crate::Result<String>) {
        let fast = render_compiled(app, name, context, user).unwrap();
        let scope = Rc::new(RenderScope::new(
            app.clone(),
            None,
            user.map(str::to_owned),
            vec![("current_user", Value::from(user))],
        ));
        (fast, render_page(&scope, name, to_value(context)))
    }

    #[derive(Debug, PartialEq)]
    enum Way {
        /// The plan renders the page.
        Fast,
        /// The template is compiled, but the plan leaves this context to the engine.
        Bail,
        /// The template is left to the engine.
        Engine,
    }

    /// Renders `source` with `context` both ways; checks the way and the page.
    fn check<T: Serialize>(source: &str, context: T, way: Way, autoescape: bool) {
        check_as(source, context, way, autoescape, None);
    }

    /// `check` in a render whose `current_user` is `user`.
    fn check_as<T: Serialize>(
        source: &str,
        context: T,
        way: Way,
        autoescape: bool,
        user: Option<&str>,
    ) {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tornado-template-fast-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("t.html"), source).unwrap();
        let app = Application::with_settings(
            vec![],
            Settings {
                template_path: Some(dir.clone()),
                autoescape,
                ..Settings::default()
            },
        );
        let compiled = Plan::compile(source, "t.html").is_some();
        let (fast, engine) = both_ways(app.shared(), "t.html", &context, user);
        std::fs::remove_dir_all(&dir).unwrap();

        let got = match (&fast, compiled) {
            (Some(_), _) => Way::Fast,
            (None, true) => Way::Bail,
            (None, false) => Way::Engine,
        };
        assert_eq!(got, way, "{source:?}: engine gave {engine:?}");
        if let Some(page) = fast {
            let engine = engine.unwrap_or_else(|e| panic!("{source:?}: engine failed: {e}"));
            assert_eq!(page, engine, "{source:?}");
        }
    }

    fn fast<T: Serialize>(source: &str, context: T) {
        check(source, context, Way::Fast, true);
    }

    fn bail<T: Serialize>(source: &str, context: T) {
        check(source, context, Way::Bail, true);
    }

    fn engine<T: Serialize>(source: &str, context: T) {
        check(source, context, Way::Engine, true);
    }

    #[derive(Serialize)]
    struct Row {
        id: u32,
        message: String,
        tags: Vec<&'static str>,
        parent: Option<Box<Row>>,
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                id: 1,
                message: "<script>alert('x') & \"y\"</script>/".into(),
                tags: vec!["a", "<b>"],
                parent: None,
            },
            Row {
                id: 2,
                message: "フレームワーク".into(),
                tags: vec![],
                parent: Some(Box::new(Row {
                    id: 0,
                    message: String::new(),
                    tags: vec!["p"],
                    parent: None,
                })),
            },
        ]
    }

    /// Values of two types in one list, as an untagged enum serializes them.
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Either<A, B> {
        A(A),
        B(B),
    }

    #[derive(Serialize)]
    struct Rows<T> {
        rows: Vec<T>,
    }

    #[derive(Serialize)]
    enum Shape {
        Dot,
        Circle(u32),
        Rect { w: u32, h: u32 },
        Pair(u32, u32),
    }

    #[test]
    fn text_and_whitespace_control() {
        fast("", ());
        fast("plain <b>text</b> & 'quotes'\n", ());
        fast("a{# comment #}b\n\n", ());
        fast("a  {%- if true %} b {% endif -%}  c\n", ());
        fast("{% raw %}{{ not a tag }}{% endraw %}", ());
        fast("line\n", ());
        fast("{% if true %}\n  x\n{% endif %}\n", ());
    }

    #[test]
    fn printing_strings_and_integers() {
        let strings = context! { s => "<a href=\"x\">'&'</a> é /", empty => "", n => -42,
        big => u64::MAX, small => 7u8 };
        fast(
            "[{{ s }}][{{ empty }}][{{ n }}][{{ big }}][{{ small }}]",
            &strings,
        );
        #[derive(Serialize)]
        struct Numbers {
            a: i8,
            b: i64,
            c: u64,
            d: char,
            s: &'static str,
        }
        let numbers = Numbers {
            a: -128,
            b: i64::MIN,
            c: u64::MAX,
            d: '<',
            s: "it's",
        };
        fast("{{ a }} {{ b }} {{ c }} {{ d }} {{ s }}", &numbers);
        fast("{{ 'a<b' }} {{ 12 }} {{ \"x\" }}", ());
        // The same with autoescape off.
        check("{{ s }}|{{ n }}|{{ 'a<b' }}", &strings, Way::Fast, false);
        check("{{ d }}{{ s }}", &numbers, Way::Fast, false);
    }

    #[test]
    fn attributes_and_subscripts() {
        let ctx = context! { rows => Value::from(Serde(rows())) };
        fast(
            "{{ rows[0].message }}|{{ rows[1]['message'] }}|{{ rows[0].tags[1] }}",
            &ctx,
        );
        fast("{{ rows[1].parent.tags[0] }}{{ rows[1].parent.id }}", &ctx);
        let page = BTreeMap::from([("title", "T&C"), ("body", "<p>")]);
        fast("{{ title }}{{ body }}", &page);
        let map: HashMap<String, Vec<i32>> = HashMap::from([("xs".to_owned(), vec![3, -1])]);
        fast("{{ xs[0] }}{{ xs[1] }}", &map);
        let json = serde_json::json!({ "user": { "name": "<ann>", "age": 7, "tags": ["x"] } });
        fast(
            "{{ user.name }} {{ user.age }} {{ user['tags'][0] }}",
            &json,
        );
    }

    #[test]
    fn struct_contexts_take_the_arena() {
        #[derive(Serialize)]
        struct Page<'a> {
            title: &'a str,
            rows: &'a [Row],
        }
        let rows = rows();
        let page = Page {
            title: "<Rows>",
            rows: &rows,
        };
        let source = "<h1>{{ title }}</h1>{% for r in rows %}<p>{{ r.id }}: {{ r.message }}\
            {% for t in r.tags %}[{{ t }}]{% else %}(none){% endfor %}</p>{% endfor %}";
        fast(source, &page);
        check(source, &page, Way::Fast, false);
    }

    #[test]
    fn loops() {
        let ctx =
            context! { xs => vec![10, 20, 30], ys => vec!["a", "b"], empty => Vec::<u32>::new() };
        fast(
            "{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/\
             {{ loop.revindex0 }}/{{ loop.length }}={{ x }}{% if loop.first %}F{% endif %}\
             {% if loop.last %}L{% endif %} {% endfor %}",
            &ctx,
        );
        fast(
            "{% for x in xs %}{% for y in ys %}{{ x }}{{ y }}{{ loop.index }}{% endfor %}\
             ({{ loop.index }}){% endfor %}",
            &ctx,
        );
        fast("{% for x in empty %}x{% else %}empty{% endfor %}", &ctx);
        fast("{% for x in xs %}{% endfor %}{{ xs[0] }}", &ctx);
        // The loop's name hides the context's, inside the loop only.
        let shadow = context! { x => "outer", xs => vec!["inner"] };
        fast(
            "{{ x }}{% for x in xs %}{{ x }}{% endfor %}{{ x }}",
            &shadow,
        );
        fast("{% for xs in xs %}{{ xs }}{% endfor %}", &shadow);
        // The same from structs.
        let rows = rows();
        fast(
            "{% for r in rows %}{{ loop.index }}{% for t in r.tags %}{{ loop.index }}{{ t }}\
             {% endfor %}{% endfor %}",
            context! { rows => Value::from(Serde(&rows)) },
        );
        #[derive(Serialize)]
        struct Lists {
            xs: Vec<u8>,
            empty: Vec<u8>,
        }
        let lists = Lists {
            xs: vec![1, 2],
            empty: vec![],
        };
        fast(
            "{% for x in xs %}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}\
             {% for x in empty %}{{ x }}{% else %}-{% endfor %}",
            &lists,
        );
    }

    #[test]
    fn special_names() {
        let ctx = context! { xs => vec![1, 2], empty => Vec::<u8>::new(), loop => "ctx",
        self => "me" };
        // `loop` in an inner loop's else is the outer loop's; outside loops, the context's.
        fast(
            "{% for x in xs %}{% for y in empty %}{% else %}{{ loop.index }}{% endfor %}{% endfor %}",
            &ctx,
        );
        fast("{{ loop }}", &ctx);
        // `self` reaches the template's blocks only in a call (`self.name()`).
        fast("{{ self }}", &ctx);
    }

    #[test]
    fn current_user_and_safe() {
        #[derive(Serialize)]
        struct Entry {
            author: &'static str,
            html: &'static str,
        }
        let entry =
            context! { entry => Value::from(Serde(Entry { author: "ann", html: "<p>hi</p>" })) };
        let source = "{% if current_user and current_user == entry.author %}edit {{ current_user }}\
            {% elif current_user %}read{% else %}sign in{% endif %}|{{ entry.html|safe }}";
        for user in [None, Some("ann"), Some("<bo>")] {
            check_as(source, &entry, Way::Fast, true, user);
        }
        // A context's own `current_user` hides the global.
        check_as(
            "{{ current_user }}",
            context! { current_user => "ctx" },
            Way::Fast,
            true,
            Some("ann"),
        );
        // A context with no names at all.
        check_as("{{ current_user }}", (), Way::Fast, true, Some("<ann>"));
        // An object of the user's at the root answers for itself, whatever its kind.
        {
            use minijinja::value::{Object, ObjectRepr};
            use std::sync::Arc;
            #[derive(Debug)]
            struct Answers(ObjectRepr);
            impl Object for Answers {
                fn repr(self: &Arc<Self>) -> ObjectRepr {
                    self.0
                }
                fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
                    (key.as_str() == Some("current_user")).then(|| Value::from("own"))
                }
            }
            for repr in [
                ObjectRepr::Seq,
                ObjectRepr::Iterable,
                ObjectRepr::Plain,
                ObjectRepr::Map,
            ] {
                let root = Value::from_object(Answers(repr));
                check_as("{{ current_user }}", &root, Way::Fast, true, Some("ann"));
            }
        }
        // `none` prints the engine's way: left to it.
        check_as("{{ current_user }}", (), Way::Bail, true, None);
        // `safe` on a string only; with arguments or before another filter, not compiled.
        let values = context! { n => 1, s => Value::from_safe_string("<b>".into()), t => "<i>" };
        fast("{{ s|safe }}{{ t|safe }}{{ s }}", &values);
        bail("{{ n|safe }}", &values);
        engine("{{ t|safe|upper }}", &values);
        engine("{{ t|upper|safe }}", &values);
    }

    #[test]
    fn conditions() {
        #[derive(Serialize)]
        struct Ctx {
            yes: bool,
            no: bool,
            zero: i32,
            one: u8,
            empty: &'static str,
            text: &'static str,
            none: Option<u8>,
            some: Option<u8>,
            list: Vec<u8>,
            no_list: Vec<u8>,
            map: BTreeMap<&'static str, u8>,
            no_map: BTreeMap<&'static str, u8>,
            half: f64,
            fzero: f32,
        }
        let ctx = Ctx {
            yes: true,
            no: false,
            zero: 0,
            one: 1,
            empty: "",
            text: "t",
            none: None,
            some: Some(0),
            list: vec![0],
            no_list: vec![],
            map: BTreeMap::from([("k", 1)]),
            no_map: BTreeMap::new(),
            half: 0.5,
            fzero: 0.0,
        };
        let names = [
            "yes", "no", "zero", "one", "empty", "text", "none", "some", "list", "no_list", "map",
            "no_map", "half", "fzero",
        ];
        for name in names {
            fast(
                &format!("{{% if {name} %}}T{{% else %}}F{{% endif %}}"),
                &ctx,
            );
            fast(&format!("{{% if not {name} %}}T{{% endif %}}"), &ctx);
        }
        fast(
            "{% if yes and one %}a{% endif %}{% if no or zero %}b{% elif text %}c{% endif %}\
             {% if no and missing %}never{% endif %}{% if yes or missing %}d{% endif %}",
            &ctx,
        );
        fast(
            "{% if text == 't' %}a{% endif %}{% if one == 1 %}b{% endif %}\
             {% if one != 2 %}c{% endif %}{% if none == none %}d{% endif %}\
             {% if yes == true %}e{% endif %}{% if text != 'u' %}f{% endif %}\
             {% if 'x' == 'x' %}g{% endif %}",
            &ctx,
        );
        // The same on the engine's values.
        let values = context! { yes => true, list => Vec::<u8>::new(), s => "", n => 3,
        map => context! {} };
        fast(
            "{% if yes %}a{% endif %}{% if list %}b{% endif %}{% if s %}c{% endif %}\
             {% if n == 3 %}d{% endif %}{% if map %}e{% endif %}",
            &values,
        );
        // Different kinds compared, and floats: left to the engine.
        bail("{% if one == '1' %}x{% endif %}", &ctx);
        engine("{% if half == 0.5 %}x{% endif %}", &ctx);
    }

    #[test]
    fn engine_values_inside_a_context() {
        // A string marked safe is printed as it is, as the engine prints it.
        let safe = Value::from_safe_string("<b>bold</b>".to_owned());
        fast(
            "{{ html }}|{{ text }}",
            context! { html => safe.clone(), text => "<i>" },
        );
        #[derive(Serialize)]
        struct Page {
            html: Value,
            rows: Value,
            n: Value,
        }
        let page = Page {
            html: safe,
            rows: Value::from(vec!["<a>", "b"]),
            n: Value::from(-5),
        };
        fast(
            "{{ html }}{% for r in rows %}{{ r }}{{ loop.index }}{% endfor %}{{ n }}",
            &page,
        );
        // A context converted in advance.
        let converted = Value::from(Serde(context! { rows => Value::from(Serde(rows())) }));
        fast("{% for r in rows %}{{ r.message }}{% endfor %}", &converted);
        check("{{ html }}", &page, Way::Fast, false);
    }

    #[test]
    fn structs_of_different_types_in_one_loop() {
        // The name's cached field is right for one type and wrong for the other.
        #[derive(Serialize)]
        struct A {
            name: &'static str,
            id: u8,
        }
        #[derive(Serialize)]
        struct B {
            id: u8,
            title: &'static str,
            name: &'static str,
        }
        let ctx = Rows {
            rows: vec![
                Either::A(A { name: "a1", id: 1 }),
                Either::B(B {
                    id: 2,
                    title: "t",
                    name: "b2",
                }),
                Either::A(A { name: "a3", id: 3 }),
                Either::B(B {
                    id: 4,
                    title: "u",
                    name: "b4",
                }),
            ],
        };
        fast(
            "{% for r in rows %}{{ r.name }}={{ r.id }};{% endfor %}",
            &ctx,
        );
        bail("{% for r in rows %}{{ r.title }}{% endfor %}", &ctx);
    }

    #[test]
    fn repeated_keys_resolve_as_the_engine_resolves_them() {
        /// A map that names a key twice, and a struct that names a field twice.
        struct Twice(bool);
        impl Serialize for Twice {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                use serde::ser::{SerializeMap, SerializeStruct};
                if self.0 {
                    let mut m = s.serialize_map(None)?;
                    m.serialize_entry("k", "first")?;
                    m.serialize_entry(&1, "one")?;
                    m.serialize_entry("k", "last")?;
                    m.end()
                } else {
                    let mut st = s.serialize_struct("Twice", 2)?;
                    st.serialize_field("k", "first")?;
                    st.serialize_field("k", "last")?;
                    st.end()
                }
            }
        }
        fast("{{ k }}", Twice(true));
        fast("{{ k }}", Twice(false));
        fast(
            "{{ m.k }}{{ s.k }}",
            context! { m => Value::from(Serde(Twice(true))),
            s => Value::from(Serde(Twice(false))) },
        );
        // A key of the engine's own may be the name: left to it.
        let mut keyed = BTreeMap::new();
        keyed.insert(Value::from("k"), "v");
        bail("{{ k }}", &keyed);
    }

    #[test]
    fn enums_as_the_engine_sees_them() {
        let shapes = context! { shapes => Value::from(Serde(vec![Shape::Dot, Shape::Circle(3),
        Shape::Rect { w: 1, h: 2 }])) };
        fast(
            "{{ shapes[0] }}|{{ shapes[1].Circle }}|{{ shapes[2].Rect.h }}",
            &shapes,
        );
        #[derive(Serialize)]
        struct Ctx {
            shapes: Vec<Shape>,
        }
        let ctx = Ctx {
            shapes: vec![Shape::Dot, Shape::Circle(3), Shape::Rect { w: 1, h: 2 }],
        };
        fast(
            "{{ shapes[0] }}|{{ shapes[1].Circle }}|{{ shapes[2].Rect.h }}\
             {% if shapes[0] == 'Dot' %}!{% endif %}",
            &ctx,
        );
        // A tuple variant holds a list.
        fast(
            "{{ p.Pair[1] }}",
            context! { p => Value::from(Serde(Shape::Pair(1, 2))) },
        );
    }

    #[test]
    fn what_the_plan_leaves_to_the_engine_at_render_time() {
        let ctx = context! { f => 1.5, b => true, nothing => (), xs => vec![1], m => context! { a => 1 },
        s => "abc" };
        // Values the engine prints its own way.
        for source in [
            "{{ f }}",
            "{{ b }}",
            "{{ nothing }}",
            "{{ xs }}",
            "{{ m }}",
            "{% for x in xs %}{{ loop.first }}{% endfor %}",
        ] {
            bail(source, &ctx);
        }
        // Iterating a map or a string.
        bail("{% for k in m %}{{ k }}{% endfor %}", &ctx);
        bail("{% for c in s %}{{ c }}{% endfor %}", &ctx);
        // A name the context lacks: a global (`current_user`), or an error.
        bail("{{ current_user }}", &ctx);
        bail("{{ missing }}", &ctx);
        bail("{{ m.missing }}", &ctx);
        bail("{{ xs[5] }}", &ctx);
        bail("{% if missing %}x{% endif %}", &ctx);
        // Not a map at the root.
        bail("{{ x }}", vec![1, 2]);
        // The same from the arena.
        #[derive(Serialize)]
        struct Ctx {
            f: f64,
            bytes: serde_bytes_like::Bytes,
            wide: i128,
            pair: (u8, u8),
        }
        let ctx = Ctx {
            f: 2.0,
            bytes: serde_bytes_like::Bytes(b"ab"),
            wide: 1,
            pair: (1, 2),
        };
        for source in [
            "{{ f }}",
            "{{ bytes }}",
            "{{ wide }}",
            "{% if wide %}x{% endif %}",
        ] {
            bail(source, &ctx);
        }
        // Tuples iterate and index as lists.
        fast(
            "{{ pair[1] }}{% for p in pair %}{{ p }}{% endfor %}{% if pair %}!{% endif %}",
            &ctx,
        );
    }

    /// Bytes as serde's `serialize_bytes` sends them.
    mod serde_bytes_like {
        pub struct Bytes(pub &'static [u8]);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
    }

    #[test]
    fn templates_left_to_the_engine() {
        let ctx = context! { xs => vec![1, 2], s => "a", pairs => vec![(1, 2)] };
        for source in [
            "{% set y = 1 %}{{ y }}",
            "{{ s|upper }}",
            "{{ s ~ 'b' }}",
            "{{ xs[0] + 1 }}",
            "{% for x in range(2) %}{{ x }}{% endfor %}",
            "{% for x in xs if x > 1 %}{{ x }}{% endfor %}",
            "{% for a, b in pairs %}{{ a }}{% endfor %}",
            "{% for x in xs %}{{ loop.cycle('a', 'b') }}{% endfor %}",
            "{% for x in xs %}{{ loop }}{% endfor %}",
            "{% if s is defined %}x{% endif %}",
            "{% if 1 in xs %}x{% endif %}",
            "{% if xs[0] < 2 %}x{% endif %}",
            "{{ xs[-1] }}",
            "{{ true }}",
            "{{ none }}",
            "{% with y = 1 %}{{ y }}{% endwith %}",
            "{% macro m() %}x{% endmacro %}{{ m() }}",
            "{% autoescape false %}{{ s }}{% endautoescape %}",
            "{% filter upper %}x{% endfilter %}",
        ] {
            engine(source, &ctx);
        }
    }

    #[test]
    fn a_changed_template_is_compiled_again() {
        let dir = std::env::temp_dir().join(format!(
            "tornado-template-fast-reload-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("t.html"), "one {{ x }}").unwrap();
        let app = Application::with_settings(
            vec![],
            Settings {
                template_path: Some(dir.clone()),
                compiled_template_cache: false,
                ..Settings::default()
            },
        );
        assert_eq!(
            app.render_string("t.html", context! { x => 1 }).unwrap(),
            "one 1"
        );
        // A different length, so the engine's reload sees the change whatever the
        // file system's clock.
        std::fs::write(dir.join("t.html"), "{{ x|upper }} two").unwrap();
        assert_eq!(
            app.render_string("t.html", context! { x => "a" }).unwrap(),
            "A two"
        );
        std::fs::write(dir.join("t.html"), "three: {{ x }}").unwrap();
        assert_eq!(
            app.render_string("t.html", context! { x => "<" }).unwrap(),
            "three: &lt;"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_setting_turns_the_fast_path_off() {
        let dir =
            std::env::temp_dir().join(format!("tornado-template-fast-off-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("t.html"), "<p>{{ x }}</p>").unwrap();
        for on in [true, false] {
            let app = Application::with_settings(
                vec![],
                Settings {
                    template_path: Some(dir.clone()),
                    template_fast_path: on,
                    ..Settings::default()
                },
            );
            let fast =
                render_compiled(app.shared(), "t.html", &context! { x => "<" }, None).unwrap();
            assert_eq!(fast.is_some(), on);
            let page = app.render_string("t.html", context! { x => "<" }).unwrap();
            assert_eq!(page, "<p>&lt;</p>");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn arenas_are_reused_and_nested_renders_get_their_own() {
        let plan = Plan::compile("{% for x in xs %}{{ x }}{% endfor %}", "t").unwrap();
        for n in 0..3 {
            let xs: Vec<String> = (0..n).map(|i| format!("<{i}>")).collect();
            let want: String = xs
                .iter()
                .map(|x| x.replace('<', "&lt;").replace('>', "&gt;"))
                .collect();
            assert_eq!(
                plan.render(&context! { xs }, true, None).as_deref(),
                Some(&*want)
            );
        }
        ARENAS.with(|a| assert_eq!(a.borrow().len(), 1));
        // A context whose serialization renders (as a UI module's might): the inner
        // render takes a second arena.
        struct Nested<'a>(&'a Plan);
        impl Serialize for Nested<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                let inner = self
                    .0
                    .render(&context! { xs => vec!["in"] }, true, None)
                    .unwrap();
                let mut m = s.serialize_map(Some(1))?;
                use serde::ser::SerializeMap;
                m.serialize_entry("xs", &vec![inner])?;
                m.end()
            }
        }
        let outer = Plan::compile("{% for x in xs %}[{{ x }}]{% endfor %}", "t").unwrap();
        assert_eq!(
            outer.render(&Nested(&plan), true, None).as_deref(),
            Some("[in]")
        );
        ARENAS.with(|a| assert_eq!(a.borrow().len(), 2));
    }

    #[test]
    fn a_context_that_fails_to_serialize_goes_to_the_engine() {
        struct Broken;
        impl Serialize for Broken {
            fn serialize<S: Serializer>(&self, _s: S) -> std::result::Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        let plan = Plan::compile("text", "t").unwrap();
        assert_eq!(plan.render(&Broken, true, None), None);
    }

    /// A value whose serialization fails: minijinja makes it an invalid value.
    struct Broken;
    impl Serialize for Broken {
        fn serialize<S: Serializer>(&self, _s: S) -> std::result::Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("broken"))
        }
    }

    #[test]
    fn an_invalid_item_stops_the_plan_as_it_stops_the_engine() {
        // The engine fails on the item even though the body never prints it.
        let xs = Value::from(Serde(vec![Broken]));
        bail("{% for x in xs %}.{% endfor %}", context! { xs => xs });
        #[derive(Serialize)]
        struct Ctx {
            xs: Vec<Value>,
        }
        let ctx = Ctx {
            xs: vec![Value::from(Serde(Broken))],
        };
        bail("{% for x in xs %}[{{ loop.index }}]{% endfor %}", &ctx);
    }

    #[test]
    fn an_error_a_parent_ignores_still_stops_the_plan() {
        /// A struct that fails half way.
        struct Half;
        impl Serialize for Half {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut st = s.serialize_struct("Half", 2)?;
                st.serialize_field("a", &1u8)?;
                Err(serde::ser::Error::custom("half"))
            }
        }
        /// A list that skips what does not serialize.
        struct Lenient;
        impl Serialize for Lenient {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                use serde::ser::SerializeSeq;
                let mut seq = s.serialize_seq(None)?;
                let _ = seq.serialize_element(&Half);
                seq.serialize_element("ok")?;
                seq.end()
            }
        }
        #[derive(Serialize)]
        struct Ctx {
            xs: Lenient,
        }
        let plan = Plan::compile("{{ xs[0] }}", "t").unwrap();
        assert_eq!(plan.render(&Ctx { xs: Lenient }, true, None), None);
    }

    #[test]
    fn a_sequence_of_unknown_length_is_left_to_the_engine() {
        use minijinja::value::{Enumerator, Object, ObjectRepr};
        use std::sync::Arc;
        /// A list whose iterator does not know its length exactly.
        #[derive(Debug)]
        struct Items(Vec<u32>);
        impl Object for Items {
            fn repr(self: &Arc<Self>) -> ObjectRepr {
                ObjectRepr::Seq
            }
            fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
                self.0.get(key.as_usize()?).map(|v| Value::from(*v))
            }
            fn enumerate(self: &Arc<Self>) -> Enumerator {
                let items: Vec<Value> = self.0.iter().map(|v| Value::from(*v)).collect();
                Enumerator::Iter(Box::new(items.into_iter().filter(|_| true)))
            }
            fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
                Some(self.0.len())
            }
        }
        let xs = Value::from_object(Items(vec![1, 2]));
        bail(
            "{% for x in xs %}{{ x }}{% if loop.last %}L{% endif %}{% endfor %}",
            context! { xs => xs },
        );
    }

    #[test]
    fn a_repeated_field_at_a_remembered_index_is_not_taken() {
        // `B` names `x` first at field 0; the name remembers field 1 from `A`, where
        // `x` has the same address.
        const X: &str = "x";
        struct A;
        impl Serialize for A {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut st = s.serialize_struct("A", 2)?;
                st.serialize_field("y", "ay")?;
                st.serialize_field(X, "ax")?;
                st.end()
            }
        }
        struct B;
        impl Serialize for B {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut st = s.serialize_struct("B", 2)?;
                st.serialize_field(X, "first")?;
                st.serialize_field(X, "second")?;
                st.end()
            }
        }
        let ctx = Rows {
            rows: vec![Either::<A, B>::A(A), Either::B(B)],
        };
        fast("{% for r in rows %}{{ r.x }};{% endfor %}", &ctx);
    }

    #[test]
    fn a_large_arena_is_not_kept() {
        let plan = Plan::compile("{{ n }}", "t").unwrap();
        #[derive(Serialize)]
        struct Ctx {
            n: u8,
            big: Vec<u8>,
        }
        let ctx = Ctx {
            n: 1,
            big: vec![0; 100_000],
        };
        assert_eq!(plan.render(&ctx, true, None).as_deref(), Some("1"));
        ARENAS.with(|a| {
            let kept: usize = a.borrow().iter().map(Arena::footprint).sum();
            assert!(kept <= KEEP_ARENA_BYTES, "{kept} bytes kept");
        });
    }

    #[test]
    fn a_plan_that_keeps_giving_up_stops_trying() {
        let plan = Plan::compile("{{ x }}", "t").unwrap();
        for _ in 0..GIVE_UP_AFTER {
            assert_eq!(plan.render(&context! { x => 1.5 }, true, None), None);
        }
        // Even a context it could render now goes to the engine...
        let mut skipped = 0;
        while plan.render(&context! { x => 1 }, true, None).is_none() {
            skipped += 1;
            assert!(skipped < RETRY_EVERY, "the plan never tried again");
        }
        // ...until it tries again now and then, and keeps going once it renders.
        assert_eq!(skipped, RETRY_EVERY - GIVE_UP_AFTER);
        assert_eq!(
            plan.render(&context! { x => 2 }, true, None).as_deref(),
            Some("2")
        );
        // A plan that renders now and then keeps trying.
        let plan = Plan::compile("{{ x }}", "t").unwrap();
        for _ in 0..2 * GIVE_UP_AFTER {
            assert_eq!(plan.render(&context! { x => 1.5 }, true, None), None);
            assert_eq!(
                plan.render(&context! { x => 1 }, true, None).as_deref(),
                Some("1")
            );
        }
    }

    #[test]
    fn integers_print_in_decimal() {
        for n in [0i64, 1, 9, 10, 99, 100, -1, -10, i64::MAX, i64::MIN] {
            let mut s = String::new();
            put_int(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        let mut s = String::new();
        put_uint(&mut s, u64::MAX);
        assert_eq!(s, u64::MAX.to_string());
    }
}

#[cfg(test)]
mod random {
    //! Templates and contexts made at random from the shapes the plan handles (and a
    //! few it does not), each rendered both ways: wherever the plan renders, its page
    //! must be the engine's.

    use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, SerializeTuple};
    use serde::{Serialize, Serializer};

    use super::tests::both_ways;
    use super::*;
    use crate::{Application, Settings};

    /// xorshift64*: the same cases on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
    }

    const NAMES: [&str; 6] = ["a", "b", "xs", "n", "current_user", "loop"];
    const TEXTS: [&str; 7] = ["", "plain", "<b>&'\"", "フレーム", "a/b", "0", " x "];

    /// A context value of any shape serde can send.
    enum R {
        Struct(Vec<(&'static str, R)>),
        Map(Vec<(&'static str, R)>),
        Seq(Vec<R>),
        Tuple(Vec<R>),
        Str(&'static str),
        Int(i64),
        UInt(u64),
        Float(f64),
        Bool(bool),
        None,
        Safe(&'static str),
        Engine(Box<R>),
    }

    impl Serialize for R {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            match self {
                R::Struct(fields) => {
                    let mut st = s.serialize_struct("R", fields.len())?;
                    for (k, v) in fields {
                        st.serialize_field(k, v)?;
                    }
                    st.end()
                }
                R::Map(entries) => {
                    let mut m = s.serialize_map(Some(entries.len()))?;
                    for (k, v) in entries {
                        m.serialize_entry(k, v)?;
                    }
                    m.end()
                }
                R::Seq(items) => {
                    let mut q = s.serialize_seq(Some(items.len()))?;
                    for v in items {
                        q.serialize_element(v)?;
                    }
                    q.end()
                }
                R::Tuple(items) => {
                    let mut t = s.serialize_tuple(items.len())?;
                    for v in items {
                        t.serialize_element(v)?;
                    }
                    t.end()
                }
                R::Str(t) => s.serialize_str(t),
                R::Int(n) => s.serialize_i64(*n),
                R::UInt(n) => s.serialize_u64(*n),
                R::Float(f) => s.serialize_f64(*f),
                R::Bool(b) => s.serialize_bool(*b),
                R::None => s.serialize_none(),
                R::Safe(t) => Value::from_safe_string((*t).to_owned()).serialize(s),
                R::Engine(inner) => Value::from(Serde(&**inner)).serialize(s),
            }
        }
    }

    fn value(rng: &mut Rng, depth: usize) -> R {
        let leaf = depth == 0 || rng.below(3) == 0;
        match rng.below(if leaf { 10 } else { 16 }) {
            0 | 8 => R::Str(TEXTS[rng.below(TEXTS.len())]),
            9 => R::Int(rng.below(5) as i64),
            1 => R::Int(*rng.pick(&[0, 1, -7, i64::MIN, 42])),
            2 => R::UInt(*rng.pick(&[0, 3, u64::MAX])),
            3 => R::Float(*rng.pick(&[0.0, 1.5])),
            4 => R::Bool(rng.below(2) == 0),
            5 => R::None,
            6 => R::Safe(TEXTS[rng.below(TEXTS.len())]),
            7 => R::Str(NAMES[rng.below(NAMES.len())]),
            10 | 11 => R::Seq((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
            12 => R::Tuple((0..rng.below(3)).map(|_| value(rng, depth - 1)).collect()),
            13 => R::Engine(Box::new(value(rng, depth - 1))),
            _ => map(rng, depth - 1),
        }
    }

    fn map(rng: &mut Rng, depth: usize) -> R {
        let fields = (0..rng.below(5))
            .map(|_| (*rng.pick(&NAMES), value(rng, depth)))
            .collect();
        shape(rng, fields)
    }

    /// A context that names most of `NAMES` (a name it lacks is left to the engine).
    fn context(rng: &mut Rng, depth: usize) -> R {
        let mut fields = Vec::new();
        for name in NAMES {
            if rng.below(8) != 0 {
                fields.push((name, value(rng, depth)));
            }
        }
        if rng.below(4) == 0 {
            let i = rng.below(fields.len() + 1);
            fields.insert(i, (*rng.pick(&NAMES), value(rng, depth)));
        }
        let root = shape(rng, fields);
        if rng.below(6) == 0 {
            R::Engine(Box::new(root))
        } else {
            root
        }
    }

    fn shape(rng: &mut Rng, fields: Vec<(&'static str, R)>) -> R {
        if rng.below(2) == 0 {
            R::Struct(fields)
        } else {
            R::Map(fields)
        }
    }

    /// An expression; `locals` are the loop targets in scope.
    fn expr(rng: &mut Rng, locals: &[String], depth: usize) -> String {
        const CONSTANTS: [&str; 6] = ["1", "0", "'a'", "true", "none", "1.5"];
        const LOOP: [&str; 10] = [
            "index",
            "index0",
            "revindex",
            "revindex0",
            "first",
            "last",
            "length",
            "index",
            "length",
            "depth",
        ];
        let mut e = match rng.below(if locals.is_empty() { 6 } else { 10 }) {
            0..=3 => rng.pick(&NAMES).to_string(),
            4 => format!("{:?}", rng.pick(&TEXTS)),
            5 => rng.pick(&CONSTANTS).to_string(),
            6 | 7 => format!("loop.{}", rng.pick(&LOOP)),
            _ => rng.pick(locals).clone(),
        };
        for _ in 0..rng.below(depth + 1).min(rng.below(3)) {
            match rng.below(4) {
                0 => e = format!("{e}.{}", rng.pick(&NAMES)),
                1 => e = format!("{e}[{}]", rng.below(3)),
                2 => e = format!("{e}[{:?}]", rng.pick(&NAMES)),
                _ => {}
            }
        }
        e
    }

    fn cond(rng: &mut Rng, locals: &[String]) -> String {
        match rng.below(6) {
            0 => format!("not {}", expr(rng, locals, 2)),
            1 => format!("{} and {}", expr(rng, locals, 1), expr(rng, locals, 1)),
            2 => format!("{} or {}", expr(rng, locals, 1), expr(rng, locals, 1)),
            3 => format!(
                "{} {} {}",
                expr(rng, locals, 2),
                rng.pick(&["==", "!="]),
                expr(rng, locals, 0)
            ),
            _ => expr(rng, locals, 2),
        }
    }

    fn body(rng: &mut Rng, locals: &mut Vec<String>, depth: usize) -> String {
        let mut out = String::new();
        for _ in 0..rng.below(3) + 1 {
            match rng.below(if depth == 0 { 4 } else { 8 }) {
                0 => {
                    const RAW: [&str; 4] = ["x", "<p>", "\n", " & "];
                    out.push_str(RAW[rng.below(RAW.len())]);
                }
                1 | 2 => out.push_str(&format!("{{{{ {} }}}}", expr(rng, locals, 2))),
                3 => out.push_str(&format!(
                    "{{{{ {}|{} }}}}",
                    expr(rng, locals, 1),
                    rng.pick(&["safe", "safe", "safe", "upper"])
                )),
                4 | 5 => {
                    let target = rng.pick(&["v", "w", "a"]).to_string();
                    let iter = expr(rng, locals, 2);
                    locals.push(target.clone());
                    let inner = body(rng, locals, depth - 1);
                    locals.pop();
                    let otherwise = if rng.below(2) == 0 {
                        format!("{{% else %}}{}", body(rng, locals, depth - 1))
                    } else {
                        String::new()
                    };
                    out.push_str(&format!(
                        "{{% for {target} in {iter} %}}{inner}{otherwise}{{% endfor %}}"
                    ));
                }
                _ => {
                    let c = cond(rng, locals);
                    let then = body(rng, locals, depth - 1);
                    let otherwise = match rng.below(3) {
                        0 => format!(
                            "{{% elif {} %}}{}",
                            cond(rng, locals),
                            body(rng, locals, depth - 1)
                        ),
                        1 => format!("{{% else %}}{}", body(rng, locals, depth - 1)),
                        _ => String::new(),
                    };
                    out.push_str(&format!("{{% if {c} %}}{then}{otherwise}{{% endif %}}"));
                }
            }
        }
        out
    }

    #[test]
    fn random_templates_render_as_the_engine_renders_them() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let dir =
            std::env::temp_dir().join(format!("tornado-template-random-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut fast_pages, mut cases, mut compiled) = (0, 0, 0);
        for batch in 0..20 {
            let autoescape = batch % 4 != 3;
            let app = Application::with_settings(
                vec![],
                Settings {
                    template_path: Some(dir.clone()),
                    autoescape,
                    ..Settings::default()
                },
            );
            let shared = app.shared();
            for i in 0..100 {
                let source = body(&mut rng, &mut Vec::new(), 2);
                let name = format!("t{batch}-{i}.html");
                std::fs::write(dir.join(&name), &source).unwrap();
                compiled += usize::from(Plan::compile(&source, &name).is_some());
                for _ in 0..6 {
                    let context = context(&mut rng, 3);
                    let user = *rng.pick(&[None, Some("u<1>")]);
                    let (fast, engine) = both_ways(shared, &name, &context, user);
                    cases += 1;
                    if let Some(page) = fast {
                        fast_pages += 1;
                        match engine {
                            Ok(want) => assert_eq!(page, want, "{source:?}"),
                            Err(e) => panic!(
                                "{source:?}: the plan rendered {page:?}, the engine failed: {e}"
                            ),
                        }
                    }
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
        // The cases must exercise the plan, not only the engine (this seed: 898 of the
        // 2,000 templates compile, and the plan renders about a quarter of their pages;
        // it gives up on the rest, on data it leaves to the engine).
        assert!(
            compiled > 600 && fast_pages > 1000,
            "{fast_pages} of {cases} pages by the plan ({compiled} of 2000 templates compiled)"
        );
    }
}
