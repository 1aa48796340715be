//! A plain copy of what the lab knows (settings, each generator's counters), refreshed by the
//! event loop on its tick, so drawing takes no lock and the app holds no tasks.

use crate::lab::{GeneratorKind, GeneratorStats, LabSettings};

#[derive(Clone, Debug, Default)]
pub struct LabView {
    pub settings: LabSettings,
    /// One entry per `GeneratorKind::ALL`, in that order.
    pub generators: Vec<GeneratorStats>,
}

impl LabView {
    pub fn stats(&self, k: GeneratorKind) -> GeneratorStats {
        GeneratorKind::ALL
            .iter()
            .position(|g| *g == k)
            .and_then(|i| self.generators.get(i).cloned())
            .unwrap_or_default()
    }

    pub fn is_running(&self, k: GeneratorKind) -> bool {
        self.stats(k).running
    }

    pub fn any_running(&self) -> bool {
        self.generators.iter().any(|g| g.running)
    }
}
