//! A precedence-climbing parser from tokens to a syntax tree, with JavaScript's precedence and a
//! cap on nesting, both of the parser's own recursion and of the tree it builds.

use super::ast::{BinaryOp, Expr, LogicalOp, Method, Step, UnaryOp};
use super::lexer::{Kind, Punct, Token};
use super::{ExprError, MAX_DEPTH};

/// JavaScript words the language leaves out.
const KEYWORDS: &[&str] = &[
    "async",
    "await",
    "class",
    "const",
    "delete",
    "function",
    "import",
    "in",
    "instanceof",
    "let",
    "new",
    "super",
    "this",
    "typeof",
    "var",
    "void",
    "yield",
];

/// The tree of `tokens`, which end with [`Kind::End`].
pub(super) fn parse<'s>(tokens: &[Token<'s>]) -> Result<Expr<'s>, ExprError> {
    let mut parser = Parser {
        tokens,
        next: 0,
        nesting: 0,
    };
    let parsed = parser.expression()?;
    let token = parser.peek();
    if token.kind != Kind::End {
        return Err(parser.unexpected(token));
    }
    Ok(parsed.expr)
}

/// A subtree and its depth.
struct Parsed<'s> {
    expr: Expr<'s>,
    depth: usize,
}

/// A subtree over children of the given depths, refused when it is too deep.
fn node<'s>(expr: Expr<'s>, children: &[usize]) -> Result<Parsed<'s>, ExprError> {
    let depth = 1 + children.iter().copied().max().unwrap_or(0);
    if depth > MAX_DEPTH {
        return Err(ExprError::TooDeep);
    }
    Ok(Parsed { expr, depth })
}

struct Parser<'t, 's> {
    tokens: &'t [Token<'s>],
    next: usize,
    /// How deep the parser's recursion is.
    nesting: usize,
}

impl<'t, 's> Parser<'t, 's> {
    fn peek(&self) -> &'t Token<'s> {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.next.min(last)]
    }

    fn advance(&mut self) -> &'t Token<'s> {
        let token = self.peek();
        self.next += 1;
        token
    }

    fn eat(&mut self, punct: Punct) -> bool {
        let found = self.peek().kind == Kind::Punct(punct);
        if found {
            self.next += 1;
        }
        found
    }

    fn expect(&mut self, punct: Punct, what: &str) -> Result<(), ExprError> {
        if self.eat(punct) {
            return Ok(());
        }
        let token = self.peek();
        Err(ExprError::Syntax {
            position: token.position,
            message: format!("expected {what}, found {}", token.kind.describe()),
        })
    }

    fn unexpected(&self, token: &Token<'s>) -> ExprError {
        if let Kind::Name(name) = token.kind
            && KEYWORDS.contains(&name)
        {
            return ExprError::Unsupported(format!("`{name}` at {}", token.position));
        }
        ExprError::Syntax {
            position: token.position,
            message: format!("unexpected {}", token.kind.describe()),
        }
    }

    /// Runs `parse` one level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        parse: impl FnOnce(&mut Self) -> Result<T, ExprError>,
    ) -> Result<T, ExprError> {
        if self.nesting >= MAX_DEPTH {
            return Err(ExprError::TooDeep);
        }
        self.nesting += 1;
        let result = parse(self);
        self.nesting -= 1;
        result
    }

    /// `logical_or [ "?" expression ":" expression ]`
    fn expression(&mut self) -> Result<Parsed<'s>, ExprError> {
        let test = self.binary(0)?;
        if !self.eat(Punct::Question) {
            return Ok(test);
        }
        let then = self.nested(Self::expression)?;
        self.expect(Punct::Colon, "`:`")?;
        let otherwise = self.nested(Self::expression)?;
        node(
            Expr::Conditional {
                test: Box::new(test.expr),
                then: Box::new(then.expr),
                otherwise: Box::new(otherwise.expr),
            },
            &[test.depth, then.depth, otherwise.depth],
        )
    }

    /// Binary operators binding at least as tightly as `min_power`, left-associative.
    fn binary(&mut self, min_power: u8) -> Result<Parsed<'s>, ExprError> {
        let mut left = self.unary()?;
        while let Some((op, power)) = infix(&self.peek().kind)
            && power >= min_power
        {
            self.next += 1;
            let right = self.binary(power + 1)?;
            let depths = [left.depth, right.depth];
            left = node(op.apply(left.expr, right.expr), &depths)?;
        }
        Ok(left)
    }

    /// `( "!" | "-" | "+" ) unary | postfix`
    fn unary(&mut self) -> Result<Parsed<'s>, ExprError> {
        let op = match self.peek().kind {
            Kind::Punct(Punct::Not) => UnaryOp::Not,
            Kind::Punct(Punct::Minus) => UnaryOp::Negate,
            Kind::Punct(Punct::Plus) => UnaryOp::Plus,
            _ => return self.postfix(),
        };
        self.next += 1;
        let operand = self.nested(Self::unary)?;
        node(
            Expr::Unary {
                op,
                operand: Box::new(operand.expr),
            },
            &[operand.depth],
        )
    }

    /// A primary expression followed by property accesses and method calls.
    fn postfix(&mut self) -> Result<Parsed<'s>, ExprError> {
        let mut current = self.primary()?;
        loop {
            let token = self.peek();
            let (step, step_depth) = match token.kind {
                Kind::Punct(Punct::Dot) => {
                    self.next += 1;
                    let name_token = self.advance();
                    let Kind::Name(name) = name_token.kind else {
                        return Err(self.unexpected(name_token));
                    };
                    if self.peek().kind == Kind::Punct(Punct::OpenParen) {
                        current = self.call(current, name, name_token.position)?;
                        continue;
                    }
                    (Step::Key(name), 0)
                }
                Kind::Punct(Punct::OpenBracket) => {
                    self.next += 1;
                    let index = self.nested(Self::expression)?;
                    self.expect(Punct::CloseBracket, "`]`")?;
                    (Step::Computed(Box::new(index.expr)), index.depth)
                }
                Kind::Punct(Punct::OpenParen) => {
                    return Err(ExprError::Unsupported(format!(
                        "calling a function at {}",
                        token.position
                    )));
                }
                _ => return Ok(current),
            };
            current = access(current, step, step_depth)?;
        }
    }

    /// `.method(args)`, the `(` next.
    fn call(
        &mut self,
        object: Parsed<'s>,
        name: &str,
        position: usize,
    ) -> Result<Parsed<'s>, ExprError> {
        let method = Method::named(name).ok_or_else(|| {
            ExprError::Unsupported(format!(
                "method `{name}` at {position} (supported: toLowerCase, toUpperCase, trim, \
                 includes, startsWith, endsWith)"
            ))
        })?;
        self.next += 1;
        let mut args = Vec::new();
        let mut depths = vec![object.depth];
        while !self.eat(Punct::CloseParen) {
            let arg = self.nested(Self::expression)?;
            args.push(arg.expr);
            depths.push(arg.depth);
            if !self.eat(Punct::Comma) {
                self.expect(Punct::CloseParen, "`,` or `)`")?;
                break;
            }
        }
        node(
            Expr::Call {
                object: Box::new(object.expr),
                method,
                args,
            },
            &depths,
        )
    }

    /// A literal, a name or a parenthesised expression.
    fn primary(&mut self) -> Result<Parsed<'s>, ExprError> {
        let token = self.advance();
        let expr = match &token.kind {
            Kind::Number(n) => Expr::Number(*n),
            Kind::String(s) => Expr::String(s.clone()),
            Kind::Name("true") => Expr::Bool(true),
            Kind::Name("false") => Expr::Bool(false),
            Kind::Name("null" | "undefined") => Expr::Null,
            Kind::Name(name) if !KEYWORDS.contains(name) => Expr::Path {
                root: name,
                steps: Vec::new(),
            },
            Kind::Punct(Punct::OpenParen) => {
                let inner = self.nested(Self::expression)?;
                self.expect(Punct::CloseParen, "`)`")?;
                return Ok(inner);
            }
            Kind::Punct(Punct::OpenBracket) => {
                return Err(ExprError::Unsupported(format!(
                    "array literals at {}",
                    token.position
                )));
            }
            _ => return Err(self.unexpected(token)),
        };
        node(expr, &[])
    }
}

/// `object.key` or `object[index]`: a path grows by a step (one node whose children are its
/// computed steps); anything else gets a member node.
fn access<'s>(
    object: Parsed<'s>,
    step: Step<'s>,
    step_depth: usize,
) -> Result<Parsed<'s>, ExprError> {
    match object.expr {
        Expr::Path { root, mut steps } => {
            steps.push(step);
            let depth = object.depth.max(step_depth + 1);
            node(Expr::Path { root, steps }, &[depth - 1])
        }
        other => node(
            Expr::Member {
                object: Box::new(other),
                step,
            },
            &[object.depth, step_depth],
        ),
    }
}

/// An infix operator.
#[derive(Debug, Clone, Copy)]
enum Infix {
    Logical(LogicalOp),
    Binary(BinaryOp),
}

impl Infix {
    /// The node applying the operator to two operands.
    fn apply<'s>(self, left: Expr<'s>, right: Expr<'s>) -> Expr<'s> {
        let (left, right) = (Box::new(left), Box::new(right));
        match self {
            Infix::Logical(op) => Expr::Logical { op, left, right },
            Infix::Binary(op) => Expr::Binary { op, left, right },
        }
    }
}

/// The infix operator `kind` is, with its binding power (higher binds tighter).
fn infix(kind: &Kind<'_>) -> Option<(Infix, u8)> {
    let Kind::Punct(punct) = kind else {
        return None;
    };
    let binary = |op, power| Some((Infix::Binary(op), power));
    match punct {
        Punct::Or => Some((Infix::Logical(LogicalOp::Or), 1)),
        Punct::And => Some((Infix::Logical(LogicalOp::And), 2)),
        Punct::LooseEqual => binary(BinaryOp::LooseEqual, 3),
        Punct::LooseNotEqual => binary(BinaryOp::LooseNotEqual, 3),
        Punct::StrictEqual => binary(BinaryOp::StrictEqual, 3),
        Punct::StrictNotEqual => binary(BinaryOp::StrictNotEqual, 3),
        Punct::Less => binary(BinaryOp::Less, 4),
        Punct::LessEqual => binary(BinaryOp::LessEqual, 4),
        Punct::Greater => binary(BinaryOp::Greater, 4),
        Punct::GreaterEqual => binary(BinaryOp::GreaterEqual, 4),
        Punct::Plus => binary(BinaryOp::Add, 5),
        Punct::Minus => binary(BinaryOp::Subtract, 5),
        Punct::Star => binary(BinaryOp::Multiply, 6),
        Punct::Slash => binary(BinaryOp::Divide, 6),
        Punct::Percent => binary(BinaryOp::Remainder, 6),
        _ => None,
    }
}
