//! Which chains a packet meets, and what the rules do with it — with a trace of every rule
//! met and why it matched or not, like `nft monitor trace`.

mod chain;
mod hooks;
mod matching;
mod meters;
mod outcome;
mod packet;
mod state;
mod trace;

pub use hooks::{evaluate, walk, Bases, Seg, CONNTRACK_PRIORITY};
pub use matching::{prefix_contains, test_rule, Hit, Res};
pub(crate) use matching::{value_has, Read};
pub use meters::Meters;
pub use outcome::{Final, Outcome};
pub use packet::{Bytes, Class, Extra, PacketView};
pub use trace::Step;
