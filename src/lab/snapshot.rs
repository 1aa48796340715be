//! Everything the lab pane draws, copied out of the [`Lab`](super::Lab) at one moment: a plain
//! value, so that drawing takes no lock and holds nothing of the running generators.

use super::kind::GeneratorKind;
use super::lossy::LinkStats;
use super::settings::LabSettings;
use super::stats::GeneratorStats;

/// The whole lab at one moment; see [`Lab::snapshot`](super::Lab::snapshot).
#[derive(Clone, Debug, PartialEq)]
pub struct LabSnapshot {
    pub settings: LabSettings,
    /// Every generator, in [`GeneratorKind::ALL`] order (started or not).
    pub generators: Vec<GeneratorSnapshot>,
}

/// One generator at that moment.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratorSnapshot {
    pub kind: GeneratorKind,
    /// As [`Lab::stats`](super::Lab::stats) returns them: `running` says whether its client is
    /// still at work, `last_error` is its last error.
    pub stats: GeneratorStats,
    /// The lossy link's per-direction counters, for the generators that use it.
    pub link: Option<LinkStats>,
}

impl Default for LabSnapshot {
    /// The lab before anything ran: default settings, every generator idle.
    fn default() -> Self {
        LabSnapshot {
            settings: LabSettings::default(),
            generators: GeneratorKind::ALL
                .iter()
                .map(|&kind| GeneratorSnapshot {
                    kind,
                    stats: GeneratorStats::default(),
                    link: None,
                })
                .collect(),
        }
    }
}

impl LabSnapshot {
    /// The generator `kind` (every kind is there).
    pub fn generator(&self, kind: GeneratorKind) -> Option<&GeneratorSnapshot> {
        self.generators.iter().find(|g| g.kind == kind)
    }

    /// Whether any generator is running (its counters change all the time).
    pub fn any_running(&self) -> bool {
        self.generators.iter().any(|g| g.stats.running)
    }
}
