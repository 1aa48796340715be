//! Evaluating a compiled expression on one packet.

use super::expr::{Expr, Test};
use super::fields::{self, Field};
use super::packet::FilterPacket;
use crate::firewall::eval::value_has;

pub fn eval(e: &Expr, p: &FilterPacket<'_>) -> bool {
    match e {
        Expr::All => true,
        Expr::Or(a, b) => eval(a, p) || eval(b, p),
        Expr::And(a, b) => eval(a, p) && eval(b, p),
        Expr::Not(a) => !eval(a, p),
        Expr::Layer(l) => fields::has_layer(*l, p),
        Expr::Present(f) => match f {
            Field::DnsQryName => fields::read_str(*f, p).is_some(),
            _ => !fields::read(*f, p).as_slice().is_empty(),
        },
        Expr::FrameContains(needle) => contains(p.data, needle),
        Expr::Test(f, t) => test(*f, t, p),
    }
}

fn test(f: Field, t: &Test, p: &FilterPacket<'_>) -> bool {
    match t {
        Test::Any(vs) => fields::read(f, p)
            .as_slice()
            .iter()
            .any(|r| vs.iter().any(|v| value_has(v, r))),
        Test::NoneOf(vs) => {
            let occ = fields::read(f, p);
            let occ = occ.as_slice();
            !occ.is_empty() && !occ.iter().any(|r| vs.iter().any(|v| value_has(v, r)))
        }
        Test::StrAny(vs) => fields::read_str(f, p).is_some_and(|s| vs.contains(&s)),
        Test::StrNone(vs) => fields::read_str(f, p).is_some_and(|s| !vs.contains(&s)),
        Test::StrContains(v) => fields::read_str(f, p).is_some_and(|s| s.contains(v.as_str())),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}
