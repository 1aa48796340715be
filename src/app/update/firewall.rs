//! The firewall pane: toggling, moving, editing, adding and deleting rules, reloading and
//! saving the file. Every change judges the kept packets again.

use crossterm::event::KeyCode;

use crate::app::edit::{line_key, LineKey};
use crate::app::effect::Effect;
use crate::app::keymap::Action;
use crate::app::state::{App, EditTarget, Focus, RuleEditor};

/// How many deletes `u` can take back.
const UNDO_DEPTH: usize = 16;

/// Where `w` saves the rules read from `source`: `NAME.saved.nft` next to it (`fw.nft` →
/// `fw.saved.nft`, `rules.v4` → `rules.v4.saved.nft`); the starter (`starter.nft`, no folder)
/// in the current directory.
pub(crate) fn saved_path(source: &str) -> String {
    let (dir, file) = match source.rfind('/') {
        Some(i) => source.split_at(i + 1),
        None => ("", source),
    };
    let base = file
        .strip_suffix(".nft")
        .filter(|b| !b.is_empty())
        .unwrap_or(file);
    format!("{dir}{base}.saved.nft")
}

impl App {
    /// Enables or disables the selected rule, and judges everything again.
    pub(crate) fn toggle_rule(&mut self) {
        let Some(fw) = self.engine.firewall.as_mut() else {
            return;
        };
        let Some(id) = self.firewall.selected_rule(fw) else {
            return;
        };
        if let Some(r) = fw.ruleset.rule_mut(id) {
            r.enabled = !r.enabled;
        }
        self.rejudge();
    }

    pub(crate) fn open_editor(&mut self, a: Action) {
        let Some(fw) = &self.engine.firewall else {
            return;
        };
        let Some(id) = self.firewall.selected_rule(fw) else {
            return;
        };
        let (target, text) = match a {
            Action::EditRule => (
                EditTarget::Replace(id),
                fw.ruleset
                    .rule(id)
                    .map(|r| r.origin.text.clone())
                    .unwrap_or_default(),
            ),
            _ => (EditTarget::InsertAfter(id), String::new()),
        };
        self.rule_editor = Some(RuleEditor {
            target,
            text,
            error: None,
        });
        self.validate_rule();
    }

    /// A key while the rule editor is open: typing, Enter applies a valid rule, Esc cancels.
    pub(crate) fn edit_rule_key(&mut self, code: KeyCode) {
        let Some(ed) = self.rule_editor.as_mut() else {
            return;
        };
        match line_key(&mut ed.text, code) {
            LineKey::Changed => {}
            LineKey::Cancel => {
                self.rule_editor = None;
                return;
            }
            LineKey::Submit => {
                self.apply_editor();
                return;
            }
            LineKey::Other(_) => return,
        }
        self.validate_rule();
    }

    pub(crate) fn editor_table(&self) -> Option<(&crate::firewall::model::Table, EditTarget)> {
        let fw = self.engine.firewall.as_ref()?;
        let ed = self.rule_editor.as_ref()?;
        let id = match ed.target {
            EditTarget::Replace(id) | EditTarget::InsertAfter(id) => id,
        };
        Some((&fw.ruleset.tables[id.table as usize], ed.target))
    }

    /// The editor's text as a rule of the table it edits, or why it is not one ("col N: …").
    fn editor_rule(&self) -> Option<(EditTarget, Result<crate::firewall::model::Rule, String>)> {
        let (table, target) = self.editor_table()?;
        let text = &self.rule_editor.as_ref()?.text;
        let parsed = crate::firewall::nft::parse_rule(text, table)
            .map_err(|e| format!("col {}: {}", e.col, e.msg));
        Some((target, parsed))
    }

    pub(crate) fn validate_rule(&mut self) {
        let Some((_, parsed)) = self.editor_rule() else {
            return;
        };
        let err = parsed.err();
        if let Some(ed) = self.rule_editor.as_mut() {
            ed.error = err;
        }
    }

    pub(crate) fn apply_editor(&mut self) {
        let Some((target, Ok(mut rule))) = self.editor_rule() else {
            return; // the error is on screen; the editor stays open
        };
        let Some(fw) = self.engine.firewall.as_mut() else {
            return;
        };
        match target {
            EditTarget::Replace(id) => {
                if let Some(old) = fw.ruleset.rule_mut(id) {
                    rule.origin.line = old.origin.line;
                    rule.enabled = old.enabled;
                    *old = rule;
                }
            }
            EditTarget::InsertAfter(id) => {
                // A rule typed here has no line in the file: 0 marks it new.
                rule.origin.line = 0;
                let rules =
                    &mut fw.ruleset.tables[id.table as usize].chains[id.chain as usize].rules;
                rules.insert(id.rule as usize + 1, rule);
                self.firewall.selected += 1;
            }
        }
        self.rule_editor = None;
        if let Some(fw) = self.engine.firewall.as_mut() {
            fw.rules_changed();
        }
        self.rejudge();
    }

    /// d: asks first (a rule deleted by a stray key is hard to type again); `y` deletes it.
    pub(crate) fn ask_delete_rule(&mut self) {
        let Some(fw) = &self.engine.firewall else {
            return;
        };
        self.confirm_delete = self.firewall.selected_rule(fw);
    }

    /// The key after "delete rule N? y/n": `y` deletes, any other key keeps the rule.
    pub(crate) fn confirm_delete_key(&mut self, code: KeyCode) {
        let asked = self.confirm_delete.take();
        if code != KeyCode::Char('y') {
            return;
        }
        let Some(fw) = self.engine.firewall.as_ref() else {
            return;
        };
        // Only the rule that was asked about, should the selection have moved since.
        if asked.is_some() && self.firewall.selected_rule(fw) == asked {
            self.delete_rule();
        }
    }

    /// The prompt line of d: "delete rule N? y/n" with the rule's text.
    pub fn delete_prompt(&self) -> Option<String> {
        let id = self.confirm_delete?;
        let r = self.engine.firewall.as_ref()?.ruleset.rule(id)?;
        let n = if r.origin.line > 0 {
            format!("rule {}", r.origin.line)
        } else {
            "the new rule".to_string()
        };
        Some(format!("delete {n}? y/n — {}", r.origin.text))
    }

    pub(crate) fn delete_rule(&mut self) {
        let Some(fw) = self.engine.firewall.as_mut() else {
            return;
        };
        let Some(id) = self.firewall.selected_rule(fw) else {
            return;
        };
        let rule = fw.ruleset.tables[id.table as usize].chains[id.chain as usize]
            .rules
            .remove(id.rule as usize);
        if self.deleted_rules.len() == UNDO_DEPTH {
            self.deleted_rules.remove(0);
        }
        self.deleted_rules.push((id, rule));
        fw.rules_changed();
        let fw = self.engine.firewall.as_ref().expect("checked above");
        self.firewall.move_by(fw, 0);
        self.rejudge();
    }

    /// u: the rule deleted last goes back where it was (its chain, its place when the chain
    /// still has that many rules).
    pub(crate) fn undo_delete(&mut self) {
        let Some(fw) = self.engine.firewall.as_mut() else {
            return;
        };
        let Some((id, rule)) = self.deleted_rules.pop() else {
            self.notice = Some("Nothing to undo".into());
            return;
        };
        let Some(rules) = fw
            .ruleset
            .tables
            .get_mut(id.table as usize)
            .and_then(|t| t.chains.get_mut(id.chain as usize))
            .map(|c| &mut c.rules)
        else {
            // Another ruleset was loaded since: the rule has no chain to go back to.
            self.deleted_rules.clear();
            return;
        };
        let at = (id.rule as usize).min(rules.len());
        rules.insert(at, rule);
        fw.rules_changed();
        let fw = self.engine.firewall.as_ref().expect("checked above");
        self.firewall.move_by(fw, 0);
        self.rejudge();
    }

    /// R: the path line, with the file in use (to reload it) or empty after the starter.
    pub(crate) fn reload_rules(&mut self) -> Vec<Effect> {
        let path = match &self.engine.firewall {
            Some(fw) if !self.starter_rules => fw.source.clone(),
            _ => String::new(),
        };
        self.load_prompt = Some(path);
        Vec::new()
    }

    /// A key while the path line of R is open: Enter loads the file (through the loop), Esc
    /// closes the line.
    pub(crate) fn load_prompt_key(&mut self, code: KeyCode) -> Vec<Effect> {
        let Some(text) = self.load_prompt.as_mut() else {
            return Vec::new();
        };
        match line_key(text, code) {
            LineKey::Submit => {
                let path = text.trim().to_string();
                self.load_prompt = None;
                if path.is_empty() {
                    return Vec::new();
                }
                let locality = self
                    .engine
                    .firewall
                    .as_ref()
                    .map(|fw| fw.locality.clone())
                    .unwrap_or_default();
                vec![Effect::LoadRules {
                    path: path.into(),
                    locality,
                }]
            }
            LineKey::Cancel => {
                self.load_prompt = None;
                Vec::new()
            }
            LineKey::Changed | LineKey::Other(_) => Vec::new(),
        }
    }

    /// The rules file read again (`Effect::LoadRules`): the new rules replace the old, or the
    /// file's problem is shown and the rules in use stay.
    pub fn rules_loaded(&mut self, path: &str, loaded: Result<crate::firewall::Firewall, String>) {
        match loaded {
            Ok(new) => {
                self.engine.firewall = Some(new);
                self.starter_rules = false;
                self.own_rules = true;
                self.notice = Some(format!("Loaded {path}"));
                self.firewall.selected = 0;
                if let Some(fw) = &self.engine.firewall {
                    self.firewall.move_by(fw, 0);
                }
                self.rejudge();
            }
            // The rules in use stay; the file's problem is shown.
            Err(e) => self.errors.push(e),
        }
    }

    pub(crate) fn save_rules(&mut self) -> Vec<Effect> {
        let Some(fw) = self.engine.firewall.as_ref() else {
            return Vec::new();
        };
        let path = saved_path(&fw.source);
        vec![Effect::WriteFile {
            contents: crate::firewall::save::to_nft(&fw.ruleset),
            done: format!("Saved the rules, toggles included, to {path}"),
            path: path.into(),
        }]
    }

    /// Moves the selected rule within its chain, and judges everything again.
    pub(crate) fn move_rule(&mut self, delta: i64) {
        if self.focus != Focus::Firewall {
            return;
        }
        let Some(fw) = self.engine.firewall.as_mut() else {
            return;
        };
        let Some(id) = self.firewall.selected_rule(fw) else {
            return;
        };
        let rules = &mut fw.ruleset.tables[id.table as usize].chains[id.chain as usize].rules;
        let to = id.rule as i64 + delta;
        if to < 0 || to >= rules.len() as i64 {
            return;
        }
        rules.swap(id.rule as usize, to as usize);
        fw.rules_changed();
        self.firewall.selected = (self.firewall.selected as i64 + delta) as usize;
        self.rejudge();
    }
}

#[cfg(test)]
mod tests {
    use super::saved_path;

    #[test]
    fn saved_files_go_next_to_the_rules_file() {
        assert_eq!(saved_path("fw.nft"), "fw.saved.nft");
        assert_eq!(
            saved_path("/etc/nftables/fw.nft"),
            "/etc/nftables/fw.saved.nft"
        );
        assert_eq!(
            saved_path("/etc/iptables/rules.v4"),
            "/etc/iptables/rules.v4.saved.nft"
        );
        assert_eq!(saved_path("conf.nft.d/main"), "conf.nft.d/main.saved.nft");
        assert_eq!(saved_path("starter.nft"), "starter.saved.nft");
    }
}
