//! The filters in their configured order, built once at start-up, and the counters of
//! each for the status page.

use std::{str::FromStr, sync::Arc};

use mail_auth::MessageAuthenticator;
use twinmail_smtp::{Filter, HopLimit, Pipeline};

use crate::{
    AuthSettings, Clamd, ClamdSettings, DnsCaches, Rspamd, RspamdSettings, SenderAuth,
    stats::{Counters, FilterStats},
};

/// One configurable stage of the inbound pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Sender authentication (SPF, DKIM, ARC, DMARC).
    Auth,
    /// The clamd virus check.
    Clamd,
    /// The rspamd spam check.
    Rspamd,
}

impl Stage {
    /// The default order: who sent it, then is it dangerous, then is it wanted (rspamd
    /// sees our Authentication-Results field).
    pub const DEFAULT_ORDER: [Stage; 3] = [Stage::Auth, Stage::Clamd, Stage::Rspamd];

    /// The name in config and counters.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Auth => "auth",
            Stage::Clamd => "clamd",
            Stage::Rspamd => "rspamd",
        }
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Stage, String> {
        Stage::DEFAULT_ORDER
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| format!("unknown filter {s:?} (known: auth, clamd, rspamd)"))
    }
}

/// The enabled filters, in order, each with its counters.
#[derive(Clone, Default)]
pub struct FilterSet {
    /// The filters with their names and counters, in the order they run.
    stages: Vec<(&'static str, Arc<dyn Filter>, Arc<Counters>)>,
}

/// Sender authentication's parts, for [`FilterSet::build`].
pub struct AuthParts {
    /// How it is set up.
    pub settings: AuthSettings,
    /// The DNS resolver.
    pub resolver: MessageAuthenticator,
    /// The answer caches (pre-filled in tests).
    pub caches: Arc<DnsCaches>,
}

impl FilterSet {
    /// The filters of `order` that are configured (a `None` is a filter turned off).
    pub fn build(
        order: &[Stage],
        auth: Option<AuthParts>,
        clamd: Option<ClamdSettings>,
        rspamd: Option<RspamdSettings>,
    ) -> FilterSet {
        let mut set = FilterSet::default();
        let (mut auth, mut clamd, mut rspamd) = (auth, clamd, rspamd);
        for stage in order {
            let counters = Arc::new(Counters::default());
            let filter: Arc<dyn Filter> = match stage {
                Stage::Auth => match auth.take() {
                    Some(a) => Arc::new(SenderAuth::new(
                        a.settings,
                        a.resolver,
                        a.caches,
                        counters.clone(),
                    )),
                    None => continue,
                },
                Stage::Clamd => match clamd.take() {
                    Some(s) => Arc::new(Clamd::new(s, counters.clone())),
                    None => continue,
                },
                Stage::Rspamd => match rspamd.take() {
                    Some(s) => Arc::new(Rspamd::new(s, counters.clone())),
                    None => continue,
                },
            };
            set.stages.push((stage.name(), filter, counters));
        }
        set
    }

    /// The SMTP pipeline: the hop limit (cheapest, and a loop must not cost a scan),
    /// then these filters.
    pub fn pipeline(&self, max_hops: usize) -> Pipeline {
        let mut filters: Vec<Arc<dyn Filter>> = vec![Arc::new(HopLimit(max_hops))];
        filters.extend(self.stages.iter().map(|(_, f, _)| f.clone()));
        Pipeline::new(filters)
    }

    /// Each enabled filter's counts now, in pipeline order.
    pub fn stats(&self) -> Vec<FilterStats> {
        self.stages
            .iter()
            .map(|(name, _, c)| c.snapshot(name))
            .collect()
    }
}
