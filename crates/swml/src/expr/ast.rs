//! The syntax tree of a parsed expression.

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr<'s> {
    /// `null` (and `undefined`).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A numeric literal.
    Number(f64),
    /// A string literal.
    String(String),
    /// A variable and the properties read from it: `vars.list[0].name`.
    Path {
        /// The first name: a scope (`call`, `params`, `vars`, `envs`) or a bare variable.
        root: &'s str,
        /// The properties after it.
        steps: Vec<Step<'s>>,
    },
    /// A property of a computed value: `(a || b).length`.
    Member {
        /// The value.
        object: Box<Expr<'s>>,
        /// The property.
        step: Step<'s>,
    },
    /// A method call: `x.toLowerCase()`.
    Call {
        /// The receiver.
        object: Box<Expr<'s>>,
        /// The method.
        method: Method,
        /// The arguments.
        args: Vec<Expr<'s>>,
    },
    /// A prefix operator.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// Its operand.
        operand: Box<Expr<'s>>,
    },
    /// An infix operator.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        left: Box<Expr<'s>>,
        /// The right operand.
        right: Box<Expr<'s>>,
    },
    /// `&&` or `||`, which evaluate their right operand only when needed.
    Logical {
        /// The operator.
        op: LogicalOp,
        /// The left operand.
        left: Box<Expr<'s>>,
        /// The right operand.
        right: Box<Expr<'s>>,
    },
    /// `test ? then : otherwise`.
    Conditional {
        /// The condition.
        test: Box<Expr<'s>>,
        /// The value when it is truthy.
        then: Box<Expr<'s>>,
        /// The value when it is not.
        otherwise: Box<Expr<'s>>,
    },
}

/// A property access.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step<'s> {
    /// `.name`
    Key(&'s str),
    /// `[expression]`
    Computed(Box<Expr<'s>>),
}

/// The supported methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    ToLowerCase,
    ToUpperCase,
    Trim,
    Includes,
    StartsWith,
    EndsWith,
}

impl Method {
    /// The supported method called `name`, if any.
    pub fn named(name: &str) -> Option<Method> {
        Some(match name {
            "toLowerCase" => Method::ToLowerCase,
            "toUpperCase" => Method::ToUpperCase,
            "trim" => Method::Trim,
            "includes" => Method::Includes,
            "startsWith" => Method::StartsWith,
            "endsWith" => Method::EndsWith,
            _ => return None,
        })
    }

    /// The method's JavaScript name.
    pub fn name(self) -> &'static str {
        match self {
            Method::ToLowerCase => "toLowerCase",
            Method::ToUpperCase => "toUpperCase",
            Method::Trim => "trim",
            Method::Includes => "includes",
            Method::StartsWith => "startsWith",
            Method::EndsWith => "endsWith",
        }
    }
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnaryOp {
    /// `!`
    Not,
    /// `-`
    Negate,
    /// `+`
    Plus,
}

/// The short-circuiting operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LogicalOp {
    /// `&&`
    And,
    /// `||`
    Or,
}

/// The other infix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinaryOp {
    LooseEqual,
    LooseNotEqual,
    StrictEqual,
    StrictNotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
}
