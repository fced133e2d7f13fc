//! Freight aliases: short, human-friendly, unique within a project, and
//! changeable (Kargo's `Freight.alias`, mirrored in the
//! `kargo.akuity.io/alias` label, so it must be a valid label value).

use crate::{Error, Result};

const ADJECTIVES: &[&str] = &[
    "amber", "bold", "brave", "calm", "clever", "cosmic", "crisp", "dapper", "eager", "fancy",
    "gentle", "golden", "happy", "jolly", "keen", "lively", "lucky", "mellow", "nimble", "noble",
    "plucky", "proud", "quick", "quiet", "rapid", "shiny", "silver", "snappy", "steady", "sunny",
    "swift", "witty",
];

const ANIMALS: &[&str] = &[
    "badger", "beaver", "bison", "cobra", "coyote", "crane", "dingo", "eagle", "ferret", "gecko",
    "heron", "ibex", "jackal", "koala", "lemur", "lynx", "marmot", "moose", "newt", "otter",
    "panda", "puffin", "quail", "raven", "salmon", "seal", "tapir", "toucan", "walrus", "wombat",
    "yak", "zebra",
];

/// A new alias for the Freight with ID `freight_id`, not `taken`.
///
/// The first try is derived from the ID (`adjective-animal`), so the same
/// Freight gets the same alias in a fresh store; when that is taken, the
/// next pairs are tried, then the pairs with a number appended.
///
/// ```
/// use kargo_core::pipeline::alias;
/// let a = alias::generate("15fb8ccab8de56daa2e9541c35c25a1728c2d51c", |_| false);
/// assert!(alias::validate(&a).is_ok());
/// let b = alias::generate("15fb8ccab8de56daa2e9541c35c25a1728c2d51c", |t| t == a);
/// assert_ne!(a, b);
/// ```
pub fn generate(freight_id: &str, taken: impl Fn(&str) -> bool) -> String {
    let seed = freight_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let pairs = (ADJECTIVES.len() * ANIMALS.len()) as u64;
    for round in 0u64.. {
        for step in 0..pairs {
            let n = (seed.wrapping_add(step) % pairs) as usize;
            let base = format!(
                "{}-{}",
                ADJECTIVES[n / ANIMALS.len()],
                ANIMALS[n % ANIMALS.len()]
            );
            let alias = if round == 0 {
                base
            } else {
                format!("{base}-{}", round + 1)
            };
            if !taken(&alias) {
                return alias;
            }
        }
    }
    unreachable!("an unbounded search over numbered aliases always finds a free one")
}

/// Checks that `alias` can be an alias: a Kubernetes label value that is
/// not empty (at most 63 characters of `A-Z a-z 0-9 - _ .`, starting and
/// ending with a letter or digit) and not a 40-digit hex string that could
/// be mistaken for a Freight ID.
pub fn validate(alias: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::Invalid(format!(
            "invalid Freight alias `{alias}`: {why}"
        )))
    };
    if alias.is_empty() {
        return bad("it is empty");
    }
    if alias.len() > 63 {
        return bad("it is longer than 63 characters");
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !alias.chars().all(ok_char) {
        return bad("only letters, digits, `-`, `_` and `.` are allowed");
    }
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !ends_ok(alias.chars().next()) || !ends_ok(alias.chars().last()) {
        return bad("it must start and end with a letter or digit");
    }
    if alias.len() == 40 && alias.chars().all(|c| c.is_ascii_hexdigit()) {
        return bad("it looks like a Freight ID");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn generated_aliases_are_stable_valid_and_unique() {
        let id = "27fe6a4d90176761691f906e1a4775e8ed991924";
        assert_eq!(generate(id, |_| false), generate(id, |_| false));
        let mut taken = BTreeSet::new();
        // More aliases than word pairs: numbered ones follow.
        for _ in 0..(ADJECTIVES.len() * ANIMALS.len() + 5) {
            let a = generate(id, |t| taken.contains(t));
            validate(&a).expect("valid");
            assert!(taken.insert(a.clone()), "{a} handed out twice");
        }
        assert!(taken.iter().any(|a| a.ends_with("-2")));
    }

    #[test]
    fn validate_table() {
        for ok in ["fancy-fox", "v1.2.3", "a", "A_b-c.9"] {
            validate(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "-fox",
            "fox-",
            "fancy fox",
            "fancy/fox",
            &"x".repeat(64),
            "27fe6a4d90176761691f906e1a4775e8ed991924",
        ] {
            let err = validate(bad).expect_err(bad);
            assert!(err.to_string().contains("invalid Freight alias"), "{err}");
        }
    }
}
