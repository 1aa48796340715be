//! What the person sees and does, as plain state: focus, selection, scroll, modes, and the key
//! handling that changes them. No terminal, no files, no tasks: a key returns the [`Effect`]s
//! the event loop (`tui/`) carries out.

pub mod edit;
pub mod effect;
pub mod firewall_view;
pub mod keymap;
pub mod sessions_view;
pub mod state;
pub mod update;

pub use effect::{Effect, LabCmd};
pub use keymap::Action;
pub use state::App;
