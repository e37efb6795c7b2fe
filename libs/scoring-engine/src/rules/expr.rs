//! Compiles a CEL condition, parsed by the `cel` crate, into a small typed evaluator.
//!
//! Only a subset of CEL is accepted: literals, variables, `aging.<bucket>`, the
//! comparisons, `&&`, `||`, `!`, `? :`, arithmetic (`+ - * /`, unary `-`), `in` over a
//! list of literals, and `== null` / `!= null`. Anything else is refused at load, so a
//! rule can never fail while scoring.
//!
//! Null semantics (spec §4, "a comparison with a null metric is false"): any
//! comparison whose operand is undefined is `false`, `!=` included; only a comparison
//! with the literal `null` tests definedness. Arithmetic on an undefined value, and
//! division by zero, is undefined. Conditions are therefore always plain true/false and
//! `!`, `&&`, `||` are ordinary two-valued logic: `!(avg_days_late > 0)` is true when
//! `avg_days_late` is null.

use cel::common::ast::{CallExpr, Expr, LiteralValue, SelectExpr, operators};
use cel::common::ast::{IdedExpr, SourceInfo};

use crate::vars::{Facts, Var, VarType};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn from_operator(name: &str) -> Option<Cmp> {
        Some(match name {
            operators::EQUALS => Cmp::Eq,
            operators::NOT_EQUALS => Cmp::Ne,
            operators::LESS => Cmp::Lt,
            operators::LESS_EQUALS => Cmp::Le,
            operators::GREATER => Cmp::Gt,
            operators::GREATER_EQUALS => Cmp::Ge,
            _ => return None,
        })
    }

    fn holds<T: PartialOrd + ?Sized>(self, left: &T, right: &T) -> bool {
        match self {
            Cmp::Eq => left == right,
            Cmp::Ne => left != right,
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
        }
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

/// A condition: always true or false, never undefined.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BoolExpr {
    Const(bool),
    Flag(Var),
    Not(Box<BoolExpr>),
    And(Box<BoolExpr>, Box<BoolExpr>),
    Or(Box<BoolExpr>, Box<BoolExpr>),
    Choose(Box<BoolExpr>, Box<BoolExpr>, Box<BoolExpr>),
    Numbers(Cmp, NumExpr, NumExpr),
    Texts(Cmp, TextExpr, TextExpr),
    /// `==` (true) or `!=` (false) between two conditions.
    Flags(bool, Box<BoolExpr>, Box<BoolExpr>),
    /// `== null` (true) or `!= null` (false).
    NumberIsNull(bool, NumExpr),
    TextIsNull(bool, TextExpr),
    NumberIn(NumExpr, Vec<f64>),
    TextIn(TextExpr, Vec<String>),
}

/// A number that may be undefined.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NumExpr {
    Null,
    Const(f64),
    Var(Var),
    Neg(Box<NumExpr>),
    Arith(Arith, Box<NumExpr>, Box<NumExpr>),
    Choose(Box<BoolExpr>, Box<NumExpr>, Box<NumExpr>),
}

/// A text that may be undefined.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TextExpr {
    Null,
    Const(String),
    Var(Var),
    Choose(Box<BoolExpr>, Box<TextExpr>, Box<TextExpr>),
}

impl BoolExpr {
    pub(crate) fn eval(&self, facts: &Facts<'_>) -> bool {
        match self {
            BoolExpr::Const(value) => *value,
            BoolExpr::Flag(var) => facts.flag(*var),
            BoolExpr::Not(inner) => !inner.eval(facts),
            BoolExpr::And(left, right) => left.eval(facts) && right.eval(facts),
            BoolExpr::Or(left, right) => left.eval(facts) || right.eval(facts),
            BoolExpr::Choose(test, yes, no) => {
                if test.eval(facts) {
                    yes.eval(facts)
                } else {
                    no.eval(facts)
                }
            }
            BoolExpr::Numbers(cmp, left, right) => match (left.eval(facts), right.eval(facts)) {
                (Some(left), Some(right)) => cmp.holds(&left, &right),
                _ => false,
            },
            BoolExpr::Texts(cmp, left, right) => match (left.eval(facts), right.eval(facts)) {
                (Some(left), Some(right)) => cmp.holds(left, right),
                _ => false,
            },
            BoolExpr::Flags(equal, left, right) => (left.eval(facts) == right.eval(facts)) == *equal,
            BoolExpr::NumberIsNull(is_null, inner) => inner.eval(facts).is_none() == *is_null,
            BoolExpr::TextIsNull(is_null, inner) => inner.eval(facts).is_none() == *is_null,
            BoolExpr::NumberIn(inner, list) => inner.eval(facts).is_some_and(|value| list.contains(&value)),
            BoolExpr::TextIn(inner, list) => inner
                .eval(facts)
                .is_some_and(|value| list.iter().any(|item| item == value)),
        }
    }
}

impl NumExpr {
    fn eval(&self, facts: &Facts<'_>) -> Option<f64> {
        match self {
            NumExpr::Null => None,
            NumExpr::Const(value) => Some(*value),
            NumExpr::Var(var) => facts.number(*var),
            NumExpr::Neg(inner) => inner.eval(facts).map(|value| -value),
            NumExpr::Arith(op, left, right) => {
                let left = left.eval(facts)?;
                let right = right.eval(facts)?;
                let value = match op {
                    Arith::Add => left + right,
                    Arith::Sub => left - right,
                    Arith::Mul => left * right,
                    Arith::Div => left / right,
                };
                // Division by zero and overflow are undefined, like a null metric.
                value.is_finite().then_some(value)
            }
            NumExpr::Choose(test, yes, no) => {
                if test.eval(facts) {
                    yes.eval(facts)
                } else {
                    no.eval(facts)
                }
            }
        }
    }
}

impl TextExpr {
    fn eval<'a>(&'a self, facts: &Facts<'a>) -> Option<&'a str> {
        match self {
            TextExpr::Null => None,
            TextExpr::Const(text) => Some(text),
            TextExpr::Var(var) => facts.text(*var),
            TextExpr::Choose(test, yes, no) => {
                if test.eval(facts) {
                    yes.eval(facts)
                } else {
                    no.eval(facts)
                }
            }
        }
    }
}

/// Why a condition was refused, and where in its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompileError {
    /// Byte offset in the condition text, when known.
    pub(crate) offset: Option<usize>,
    pub(crate) reason: CompileReason,
}

/// The reasons a parsed condition is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CompileReason {
    UnknownVariable(String),
    Invalid(String),
}

/// A compiled condition with the variables it reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Compiled {
    pub(crate) expr: BoolExpr,
    pub(crate) reads: Vec<Var>,
}

/// A typed intermediate form.
enum Typed {
    Bool(BoolExpr),
    Number(NumExpr),
    Text(TextExpr),
    Null,
}

impl Typed {
    fn type_name(&self) -> &'static str {
        match self {
            Typed::Bool(_) => "true/false",
            Typed::Number(_) => "number",
            Typed::Text(_) => "text",
            Typed::Null => "null",
        }
    }
}

/// Compiles a parsed condition; it must be a true/false expression.
pub(crate) fn compile(expr: &IdedExpr, source: &SourceInfo) -> Result<Compiled, CompileError> {
    let mut compiler = Compiler {
        source,
        reads: Vec::new(),
    };
    let expr = match compiler.compile(expr)? {
        Typed::Bool(expr) => expr,
        other => {
            return Err(compiler.invalid(
                expr,
                format!("a condition must be true or false, this is a {}", other.type_name()),
            ));
        }
    };
    let mut reads = compiler.reads;
    reads.sort();
    reads.dedup();
    Ok(Compiled { expr, reads })
}

struct Compiler<'a> {
    source: &'a SourceInfo,
    reads: Vec<Var>,
}

impl Compiler<'_> {
    fn invalid(&self, at: &IdedExpr, reason: String) -> CompileError {
        CompileError {
            offset: self.offset(at),
            reason: CompileReason::Invalid(reason),
        }
    }

    fn offset(&self, at: &IdedExpr) -> Option<usize> {
        self.source.offset_for(at.id).map(|(start, _)| start as usize)
    }

    fn compile(&mut self, node: &IdedExpr) -> Result<Typed, CompileError> {
        match &node.expr {
            Expr::Literal(literal) => self.literal(node, literal),
            Expr::Ident(name) => self.variable(node, name),
            Expr::Select(select) => self.select(node, select),
            Expr::Call(call) => self.call(node, call),
            Expr::Comprehension(_) => Err(self.invalid(
                node,
                "macros such as all, exists, map and filter are not supported".to_owned(),
            )),
            Expr::List(_) => Err(self.invalid(node, "a list is only allowed after `in`".to_owned())),
            Expr::Map(_) | Expr::Struct(_) => Err(self.invalid(node, "maps and messages are not supported".to_owned())),
            Expr::Unspecified => Err(self.invalid(node, "empty expression".to_owned())),
        }
    }

    fn literal(&self, node: &IdedExpr, literal: &LiteralValue) -> Result<Typed, CompileError> {
        Ok(match literal {
            LiteralValue::Boolean(value) => Typed::Bool(BoolExpr::Const(*value.inner())),
            LiteralValue::Int(value) => Typed::Number(NumExpr::Const(*value.inner() as f64)),
            LiteralValue::UInt(value) => Typed::Number(NumExpr::Const(*value.inner() as f64)),
            LiteralValue::Double(value) => Typed::Number(NumExpr::Const(*value.inner())),
            LiteralValue::String(value) => Typed::Text(TextExpr::Const(value.inner().to_owned())),
            LiteralValue::Null => Typed::Null,
            LiteralValue::Bytes(_) => {
                return Err(self.invalid(node, "bytes literals are not supported".to_owned()));
            }
        })
    }

    fn variable(&mut self, node: &IdedExpr, name: &str) -> Result<Typed, CompileError> {
        if name == "aging" {
            return Err(self.invalid(
                node,
                "aging is an object: use aging.current, aging.d1_30, aging.d31_60, aging.d61_90 or aging.d91_plus"
                    .to_owned(),
            ));
        }
        let Some(var) = Var::lookup(name) else {
            return Err(CompileError {
                offset: self.offset(node),
                reason: CompileReason::UnknownVariable(name.to_owned()),
            });
        };
        self.reads.push(var);
        self.reads.extend_from_slice(var.inputs());
        Ok(match var.ty() {
            VarType::Bool => Typed::Bool(BoolExpr::Flag(var)),
            VarType::Number => Typed::Number(NumExpr::Var(var)),
            VarType::Text => Typed::Text(TextExpr::Var(var)),
        })
    }

    fn select(&mut self, node: &IdedExpr, select: &SelectExpr) -> Result<Typed, CompileError> {
        if select.test {
            return Err(self.invalid(node, "has() is not supported: compare with null instead".to_owned()));
        }
        match &select.operand.expr {
            Expr::Ident(root) => {
                let name = format!("{root}.{}", select.field);
                if root == "aging" && Var::lookup(&name).is_some() {
                    self.variable(node, &name)
                } else {
                    Err(CompileError {
                        offset: self.offset(node),
                        reason: CompileReason::UnknownVariable(name),
                    })
                }
            }
            _ => Err(self.invalid(node, "field selection is only supported on aging".to_owned())),
        }
    }

    fn call(&mut self, node: &IdedExpr, call: &CallExpr) -> Result<Typed, CompileError> {
        if call.target.is_some() {
            return Err(self.invalid(node, format!("method calls are not supported (`.{}`)", call.func_name)));
        }
        let name = call.func_name.as_str();
        let args = &call.args;
        match (name, args.len()) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, 2) => {
                let left = self.condition(&args[0], name)?;
                let right = self.condition(&args[1], name)?;
                Ok(Typed::Bool(if name == operators::LOGICAL_AND {
                    BoolExpr::And(Box::new(left), Box::new(right))
                } else {
                    BoolExpr::Or(Box::new(left), Box::new(right))
                }))
            }
            (operators::LOGICAL_NOT, 1) => {
                let inner = self.condition(&args[0], name)?;
                Ok(Typed::Bool(BoolExpr::Not(Box::new(inner))))
            }
            (operators::NEGATE, 1) => match self.compile(&args[0])? {
                Typed::Number(inner) => Ok(Typed::Number(NumExpr::Neg(Box::new(inner)))),
                other => Err(self.invalid(node, format!("cannot negate a {}", other.type_name()))),
            },
            (operators::ADD | operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE, 2) => {
                let op = match name {
                    operators::ADD => Arith::Add,
                    operators::SUBSTRACT => Arith::Sub,
                    operators::MULTIPLY => Arith::Mul,
                    _ => Arith::Div,
                };
                let left = self.compile(&args[0])?;
                let right = self.compile(&args[1])?;
                match (left, right) {
                    (Typed::Number(left), Typed::Number(right)) => {
                        Ok(Typed::Number(NumExpr::Arith(op, Box::new(left), Box::new(right))))
                    }
                    (left, right) => Err(self.invalid(
                        node,
                        format!(
                            "arithmetic needs numbers, got {} and {}",
                            left.type_name(),
                            right.type_name()
                        ),
                    )),
                }
            }
            (operators::CONDITIONAL, 3) => self.conditional(node, args),
            (operators::IN, 2) => self.membership(node, args),
            (_, 2) if Cmp::from_operator(name).is_some() => {
                let cmp = Cmp::from_operator(name).unwrap_or(Cmp::Eq);
                self.comparison(node, cmp, args)
            }
            _ => Err(self.invalid(node, format!("unsupported function `{}`", display_operator(name)))),
        }
    }

    fn condition(&mut self, node: &IdedExpr, operator: &str) -> Result<BoolExpr, CompileError> {
        match self.compile(node)? {
            Typed::Bool(expr) => Ok(expr),
            other => Err(self.invalid(
                node,
                format!(
                    "`{}` needs true/false operands, got a {}",
                    display_operator(operator),
                    other.type_name()
                ),
            )),
        }
    }

    fn conditional(&mut self, node: &IdedExpr, args: &[IdedExpr]) -> Result<Typed, CompileError> {
        let test = Box::new(self.condition(&args[0], operators::CONDITIONAL)?);
        let yes = self.compile(&args[1])?;
        let no = self.compile(&args[2])?;
        Ok(match (yes, no) {
            (Typed::Bool(yes), Typed::Bool(no)) => Typed::Bool(BoolExpr::Choose(test, Box::new(yes), Box::new(no))),
            (Typed::Number(yes), Typed::Number(no)) => {
                Typed::Number(NumExpr::Choose(test, Box::new(yes), Box::new(no)))
            }
            (Typed::Number(yes), Typed::Null) => {
                Typed::Number(NumExpr::Choose(test, Box::new(yes), Box::new(NumExpr::Null)))
            }
            (Typed::Null, Typed::Number(no)) => {
                Typed::Number(NumExpr::Choose(test, Box::new(NumExpr::Null), Box::new(no)))
            }
            (Typed::Text(yes), Typed::Text(no)) => Typed::Text(TextExpr::Choose(test, Box::new(yes), Box::new(no))),
            (Typed::Text(yes), Typed::Null) => {
                Typed::Text(TextExpr::Choose(test, Box::new(yes), Box::new(TextExpr::Null)))
            }
            (Typed::Null, Typed::Text(no)) => {
                Typed::Text(TextExpr::Choose(test, Box::new(TextExpr::Null), Box::new(no)))
            }
            (yes, no) => {
                return Err(self.invalid(
                    node,
                    format!(
                        "both branches of `? :` must have the same type, got {} and {}",
                        yes.type_name(),
                        no.type_name()
                    ),
                ));
            }
        })
    }

    fn membership(&mut self, node: &IdedExpr, args: &[IdedExpr]) -> Result<Typed, CompileError> {
        let Expr::List(list) = &args[1].expr else {
            return Err(self.invalid(node, "`in` needs a list of literals on its right".to_owned()));
        };
        let needle = self.compile(&args[0])?;
        let mut items = Vec::with_capacity(list.elements.len());
        for element in &list.elements {
            let Expr::Literal(literal) = &element.expr else {
                return Err(self.invalid(element, "`in` lists may hold only literals".to_owned()));
            };
            items.push(self.literal(element, literal)?);
        }
        match needle {
            Typed::Number(needle) => {
                let mut numbers = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Typed::Number(NumExpr::Const(value)) => numbers.push(value),
                        other => return Err(self.mixed_list(node, "number", &other)),
                    }
                }
                Ok(Typed::Bool(BoolExpr::NumberIn(needle, numbers)))
            }
            Typed::Text(needle) => {
                let mut texts = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Typed::Text(TextExpr::Const(value)) => texts.push(value),
                        other => return Err(self.mixed_list(node, "text", &other)),
                    }
                }
                Ok(Typed::Bool(BoolExpr::TextIn(needle, texts)))
            }
            other => Err(self.invalid(
                node,
                format!("`in` needs a number or text on its left, got {}", other.type_name()),
            )),
        }
    }

    fn mixed_list(&self, node: &IdedExpr, expected: &str, got: &Typed) -> CompileError {
        self.invalid(
            node,
            format!("`in` list holds a {} where a {expected} was expected", got.type_name()),
        )
    }

    fn comparison(&mut self, node: &IdedExpr, cmp: Cmp, args: &[IdedExpr]) -> Result<Typed, CompileError> {
        let left = self.compile(&args[0])?;
        let right = self.compile(&args[1])?;
        let equality = matches!(cmp, Cmp::Eq | Cmp::Ne);
        let is_null_test = cmp == Cmp::Eq;
        let expr = match (left, right) {
            (Typed::Number(left), Typed::Number(right)) => BoolExpr::Numbers(cmp, left, right),
            (Typed::Text(left), Typed::Text(right)) => BoolExpr::Texts(cmp, left, right),
            (Typed::Bool(left), Typed::Bool(right)) if equality => {
                BoolExpr::Flags(is_null_test, Box::new(left), Box::new(right))
            }
            (Typed::Number(value), Typed::Null) | (Typed::Null, Typed::Number(value)) if equality => {
                BoolExpr::NumberIsNull(is_null_test, value)
            }
            (Typed::Text(value), Typed::Null) | (Typed::Null, Typed::Text(value)) if equality => {
                BoolExpr::TextIsNull(is_null_test, value)
            }
            // Conditions are never null.
            (Typed::Bool(_), Typed::Null) | (Typed::Null, Typed::Bool(_)) if equality => BoolExpr::Const(!is_null_test),
            (Typed::Null, Typed::Null) if equality => BoolExpr::Const(is_null_test),
            (left, right) => {
                return Err(self.invalid(
                    node,
                    format!(
                        "cannot compare {} with {} using `{}`",
                        left.type_name(),
                        right.type_name(),
                        display_operator(cmp_operator(cmp))
                    ),
                ));
            }
        };
        Ok(Typed::Bool(expr))
    }
}

fn cmp_operator(cmp: Cmp) -> &'static str {
    match cmp {
        Cmp::Eq => operators::EQUALS,
        Cmp::Ne => operators::NOT_EQUALS,
        Cmp::Lt => operators::LESS,
        Cmp::Le => operators::LESS_EQUALS,
        Cmp::Gt => operators::GREATER,
        Cmp::Ge => operators::GREATER_EQUALS,
    }
}

/// Shows `_&&_` as `&&`, the way the user wrote it.
fn display_operator(name: &str) -> &str {
    match name {
        operators::CONDITIONAL => "? :",
        operators::IN => "in",
        _ => name.trim_matches('_').trim_end_matches('_'),
    }
}
