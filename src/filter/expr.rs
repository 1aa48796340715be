//! The words a filter is made of: the compiled expression, and the error that says where a
//! text goes wrong.

use std::fmt;

use super::fields::{Field, Layer};
use crate::firewall::model::Value;

/// Why a filter text does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 0-based char offset in the text where the problem is.
    pub pos: usize,
    pub msg: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "col {}: {}", self.pos + 1, self.msg)
    }
}

impl std::error::Error for FilterError {}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    /// The empty filter: every packet.
    All,
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Layer(Layer),
    /// A bare field name: the field is present.
    Present(Field),
    Test(Field, Test),
    /// `frame contains …`: the captured bytes contain these.
    FrameContains(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Test {
    /// Some occurrence is held by one of the values (`==`, `in`, orderings as ranges).
    Any(Vec<Value>),
    /// The field is present and no occurrence is held by any value (`!=`).
    NoneOf(Vec<Value>),
    /// String field: equal to one of these.
    StrAny(Vec<String>),
    /// String field: present and equal to none of these.
    StrNone(Vec<String>),
    StrContains(String),
}
