//! A display filter: compiled once from its text, then matched against packets.

use super::eval::eval;
use super::expr::{Expr, FilterError};
use super::packet::FilterPacket;
use super::parse;

/// A compiled display filter.
#[derive(Clone, Debug)]
pub struct DisplayFilter {
    text: String,
    expr: Expr,
}

impl DisplayFilter {
    /// Compiles a filter. Empty text (or only spaces) is the filter that keeps every packet.
    pub fn parse(text: &str) -> Result<DisplayFilter, FilterError> {
        Ok(DisplayFilter {
            text: text.to_string(),
            expr: parse::parse(text)?,
        })
    }

    pub fn matches(&self, p: &FilterPacket<'_>) -> bool {
        eval(&self.expr, p)
    }

    /// The text it was compiled from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it keeps every packet (the text is empty).
    pub fn is_empty(&self) -> bool {
        self.expr == Expr::All
    }
}
