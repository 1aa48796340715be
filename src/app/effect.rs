//! What the app asks the world to do. Key handling changes state and returns these as values;
//! `tui::effects` carries them out and hands any answer back to the app, so every key is
//! testable without a terminal, a file system or a network.

use std::path::PathBuf;

use crate::firewall::Locality;
use crate::lab::{GeneratorKind, LabSettings};

#[derive(Clone, Debug)]
pub enum Effect {
    Quit,
    /// Stop (true) or resume (false) taking frames from the source.
    SetPaused(bool),
    /// Capture live on this interface from now on (the interface picker); the answer comes
    /// back as `App::capture_started` or an error line.
    Capture(String),
    /// List the interfaces live capture can use; the answer comes back as `App::show_interfaces`.
    ListInterfaces,
    /// Write `contents` to `path`; on success `done` becomes the notice, on failure the error
    /// is shown.
    WriteFile {
        path: PathBuf,
        contents: String,
        done: String,
    },
    /// Read the rules file again; the answer comes back as `App::rules_loaded`.
    LoadRules {
        path: PathBuf,
        locality: Locality,
    },
    /// Start, stop or tune the lab's generators (tasks of the event loop).
    Lab(LabCmd),
    /// The lab network's WAN link from now on.
    LabNetLink(crate::lab::LinkConfig),
    /// Build the lab network anew for this scenario, enforcing these rules.
    LabNetwork {
        scenario: String,
        rules: crate::firewall::model::Ruleset,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum LabCmd {
    Start(GeneratorKind),
    Toggle(GeneratorKind),
    StopAll,
    Settings(LabSettings),
}
