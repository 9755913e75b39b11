//! One channel's provider chain (`[whatsapp]`, `[voice]`), validated the
//! way `[sms]` is: provider, fallback, timeouts, retries (config.rs).

use std::collections::BTreeMap;

use crate::sms::config::{chain_names, chain_policy};
use crate::sms::retry::RetryPolicy;
use crate::validation::Problems;

/// One channel's provider chain, validated.
#[derive(Debug, Clone)]
pub struct ChainConfig<P> {
    pub chain: Vec<P>,
    pub policy: RetryPolicy,
}

/// The provider chain each channel section validates into.
pub trait ChannelSection {
    type Provider;
    const SECTION: &'static str;
    const PROVIDERS: &'static [&'static str];
    fn provider(&self) -> Option<&str>;
    fn fallback(&self) -> Option<&Vec<String>>;
    fn times(&self) -> [Option<&str>; 3];
    fn max_retries(&self) -> Option<u32>;
    fn table(&self, name: &str, problems: &mut Problems) -> Option<Self::Provider>;
}

/// Provider table `name` of `section`, validated by `validate`; a provider
/// named in `provider`/`fallback` without its table is a problem.
pub fn table_of<T, P>(
    section: &str,
    name: &str,
    table: Option<&T>,
    problems: &mut Problems,
    validate: impl FnOnce(&T, &mut Problems) -> Option<P>,
) -> Option<P> {
    match table {
        Some(t) => validate(t, problems),
        None => {
            problems.push(
                format!("{section}.{name}"),
                format!("{section}.provider or fallback names \"{name}\" but there is no [{section}.{name}] table"),
            );
            None
        }
    }
}

pub fn chain<S: ChannelSection>(
    raw: &S,
    problems: &mut Problems,
) -> Option<ChainConfig<S::Provider>> {
    let before = problems.0.len();
    let policy = chain_policy(S::SECTION, raw.times(), raw.max_retries(), problems);
    let names = chain_names(
        S::SECTION,
        raw.provider(),
        raw.fallback(),
        S::PROVIDERS,
        problems,
    );
    let chain: Vec<S::Provider> = names
        .into_iter()
        .filter_map(|(_, name)| raw.table(name, problems))
        .collect();
    (problems.0.len() == before && !chain.is_empty()).then_some(ChainConfig { chain, policy })
}

/// A WhatsApp template's language for the shopper's page language: the
/// merchant's `languages` map first (`hi = "hi"`, `en = "en_US"`), else
/// the tag itself.
pub(crate) fn template_language<'a>(
    languages: &'a BTreeMap<String, String>,
    lang: &'a str,
) -> &'a str {
    languages.get(lang).map_or(lang, String::as_str)
}
