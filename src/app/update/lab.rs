//! The lab pane: starting and stopping generators and tuning them. The generators are tasks of
//! the event loop; here they are only asked for, as effects.

use crate::app::effect::{Effect, LabCmd};
use crate::app::keymap::Action;
use crate::app::state::{App, Focus};

impl App {
    /// Starts or stops the selected lab generator.
    pub(crate) fn toggle_generator(&mut self) -> Vec<Effect> {
        if self.lab_net.is_some() {
            // The network runs the scenario's programs; the loopback generators are the
            // other lab (--lab-loopback).
            self.notice = Some(
                "The lab network runs its scenario's programs: s / S picks another scenario,                  x explains this one"
                    .into(),
            );
            return Vec::new();
        }
        if self.lab.is_none() {
            return Vec::new();
        }
        let k = crate::lab::GeneratorKind::ALL[self.lab_selected];
        vec![Effect::Lab(LabCmd::Toggle(k))]
    }

    /// Rate, payload and loss of the lab, by small steps. The pane shows the new settings at
    /// once; the generators take them at their next message.
    pub(crate) fn tune_lab(&mut self, a: Action) -> Vec<Effect> {
        if self.focus != Focus::Lab {
            return Vec::new();
        }
        if self.lab_net.is_some() {
            // The lab network's knobs are its WAN link's.
            let l = &mut self.lab_link;
            let ms = l.delay.as_millis() as u64;
            match a {
                Action::MoreLoss => l.loss_pct = (l.loss_pct + 5.0).min(90.0),
                Action::LessLoss => l.loss_pct = (l.loss_pct - 5.0).max(0.0),
                Action::Bigger => {
                    l.delay = std::time::Duration::from_millis((ms * 2).clamp(1, 2000))
                }
                Action::Smaller => l.delay = std::time::Duration::from_millis(ms / 2),
                Action::Faster => l.reorder_pct = (l.reorder_pct + 5.0).min(50.0),
                Action::Slower => l.reorder_pct = (l.reorder_pct - 5.0).max(0.0),
                _ => return Vec::new(),
            }
            return vec![Effect::LabNetLink(*l)];
        }
        let Some(lab) = self.lab.as_mut() else {
            return Vec::new();
        };
        let s = &mut lab.settings;
        match a {
            Action::Faster => s.rate_per_sec = (s.rate_per_sec * 2).min(1000),
            Action::Slower => s.rate_per_sec = (s.rate_per_sec / 2).max(1),
            Action::Bigger => s.payload = (s.payload * 2).min(60_000),
            Action::Smaller => s.payload = (s.payload / 2).max(16),
            Action::MoreLoss => s.loss_pct = (s.loss_pct + 5.0).min(90.0),
            Action::LessLoss => s.loss_pct = (s.loss_pct - 5.0).max(0.0),
            _ => return Vec::new(),
        }
        vec![Effect::Lab(LabCmd::Settings(s.clone()))]
    }
}
