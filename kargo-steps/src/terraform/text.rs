//! Text clean-up: ANSI escape sequences, and cutting long texts to size.

/// GitHub's limit on a pull-request body, in characters.
pub(crate) const PR_BODY_LIMIT: usize = 65_536;

/// Removes ANSI escape sequences (CSI such as colours, OSC such as
/// hyperlinks, and two-character escapes). Terraform runs with `-no-color`,
/// but wrappers and providers may still colour their text.
pub(crate) fn strip_ansi(s: &str) -> String {
    if !s.contains('\u{1b}') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameter and intermediate bytes, then one final byte.
            Some('[') => {
                for n in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&n) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ST (ESC \).
            Some(']') => {
                while let Some(n) = chars.next() {
                    if n == '\u{7}' {
                        break;
                    }
                    if n == '\u{1b}' {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            // A two-character escape (or a lone ESC at the end).
            Some(_) | None => {}
        }
    }
    out
}

/// `s` cut to at most `limit` characters, with a note of what was cut.
pub(crate) fn truncate_chars(s: &str, limit: usize) -> String {
    let total = s.chars().count();
    if total <= limit {
        return s.to_owned();
    }
    let note = format!(" [... {} more characters cut]", total - limit);
    let keep = limit.saturating_sub(note.chars().count());
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(&note);
    out
}

/// A plan text fit for a pull-request body: at most `limit` characters.
///
/// A text that fits is returned as it is. A longer one keeps its beginning
/// (the changes, in Terraform's order) and its end (the `Plan: ...` line and
/// the output changes), cut at line ends, with a line in between that says
/// how many lines and characters were cut and where the whole text is.
pub(crate) fn truncate_for_pr(text: &str, limit: usize) -> String {
    let total = text.chars().count();
    if total <= limit {
        return text.to_owned();
    }
    // Room for the note; its numbers have at most 20 digits each.
    const NOTE_ROOM: usize = 200;
    let budget = limit.saturating_sub(NOTE_ROOM);
    let tail_budget = budget / 8;
    let head_budget = budget - tail_budget;

    let head_end = cut_head(text, head_budget);
    let tail_start = cut_tail(&text[head_end..], tail_budget) + head_end;
    let (head, cut, tail) = (
        &text[..head_end],
        &text[head_end..tail_start],
        &text[tail_start..],
    );
    let note = format!(
        "\n[... {} lines ({} characters) of the plan cut here; the step output `plan` has the whole text ...]\n\n",
        cut.lines().count(),
        cut.chars().count(),
    );
    let mut out = String::with_capacity(head.len() + note.len() + tail.len());
    out.push_str(head);
    if !head.is_empty() && !head.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&note);
    out.push_str(tail);
    debug_assert!(out.chars().count() <= limit);
    out
}

/// The byte index where a head of at most `budget` characters ends: after
/// the last newline within the budget, or (one long line) at the budget.
fn cut_head(text: &str, budget: usize) -> usize {
    let hard = text
        .char_indices()
        .nth(budget)
        .map_or(text.len(), |(i, _)| i);
    match text[..hard].rfind('\n') {
        Some(nl) => nl + 1,
        None => hard,
    }
}

/// The byte index where a tail of at most `budget` characters starts: at
/// the first line start within the budget, or (one long line) at the budget.
fn cut_tail(text: &str, budget: usize) -> usize {
    let total = text.chars().count();
    let hard = text
        .char_indices()
        .nth(total.saturating_sub(budget))
        .map_or(text.len(), |(i, _)| i);
    if hard == 0 || text[..hard].ends_with('\n') {
        return hard;
    }
    match text[hard..].find('\n') {
        Some(nl) if hard + nl + 1 < text.len() => hard + nl + 1,
        _ => hard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_ansi_removes_colours_links_and_short_escapes() {
        let s = "\u{1b}[1m\u{1b}[32mPlan:\u{1b}[0m 1 to add \u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{1b}\\ \u{1b}=done";
        assert_eq!(strip_ansi(s), "Plan: 1 to add link done");
        assert_eq!(strip_ansi("plain │ text"), "plain │ text");
    }

    #[test]
    fn short_plan_text_is_kept_whole() {
        assert_eq!(truncate_for_pr("a\nb\n", 100), "a\nb\n");
    }

    #[test]
    fn long_plan_text_keeps_head_and_tail_within_the_limit() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("  + resource line {i} ✓\n"));
        }
        text.push_str("Plan: 20000 to add, 0 to change, 0 to destroy.\n");
        let out = truncate_for_pr(&text, PR_BODY_LIMIT);
        assert!(out.chars().count() <= PR_BODY_LIMIT, "{}", out.len());
        assert!(out.starts_with("  + resource line 0 ✓\n"));
        assert!(out.ends_with("Plan: 20000 to add, 0 to change, 0 to destroy.\n"));
        assert!(out.contains("of the plan cut here"), "{out}");
        // Cut at line ends: every kept line is whole.
        for line in out.lines().filter(|l| l.starts_with("  +")) {
            assert!(line.ends_with(" ✓"), "{line}");
        }
    }

    #[test]
    fn one_long_line_is_cut_at_the_limit() {
        let text = "x".repeat(200_000);
        let out = truncate_for_pr(&text, 1000);
        assert!(out.chars().count() <= 1000);
        assert!(out.contains("characters) of the plan cut here"));
    }

    #[test]
    fn truncate_chars_notes_the_cut() {
        let out = truncate_chars(&"é".repeat(100), 50);
        assert!(out.chars().count() <= 50);
        assert!(out.ends_with("more characters cut]"), "{out}");
    }
}
