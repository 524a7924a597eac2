//! The inbound filters as `[filter]` configures them, for the port-25 pipeline.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, Result};
use twinmail_filter::{
    AuthParts, AuthSettings, ClamdSettings, DnsCaches, FilterSet, RspamdSettings, SocketAddress,
    Stage,
};

use crate::config::FilterConfig;

/// The enabled filters in their order; DNS through the system's resolver configuration.
pub fn build(config: &FilterConfig, hostname: &str) -> Result<FilterSet> {
    let order = config
        .order
        .iter()
        .map(|s| s.parse::<Stage>().map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()
        .context("filter.order")?;
    let auth = if config.auth && order.contains(&Stage::Auth) {
        // Without a resolver configuration, every check says temperror and mail flows:
        // better than a mail server that will not start.
        let resolver = match twinmail_filter::system_resolver() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "filter.auth: no DNS resolver configuration; sender authentication will report temperror");
                twinmail_filter::offline_resolver()
                    .context("filter.auth: cannot set up a DNS resolver")?
            }
        };
        Some(AuthParts {
            settings: AuthSettings {
                authserv_id: hostname.to_string(),
                dmarc_reject: config.dmarc_reject,
                skip_local: config.auth_skip_local,
                timeout: Duration::from_secs(config.auth_timeout_secs),
            },
            resolver,
            caches: Arc::new(DnsCaches::default()),
        })
    } else {
        None
    };
    let clamd = config.clamd.as_deref().map(|a| ClamdSettings {
        address: SocketAddress::parse(a),
        timeout: Duration::from_secs(config.clamd_timeout_secs),
        fail_open: config.clamd_fail_open,
    });
    let rspamd = config.rspamd.as_deref().map(|a| RspamdSettings {
        address: SocketAddress::parse(a),
        timeout: Duration::from_secs(config.rspamd_timeout_secs),
        fail_open: config.rspamd_fail_open,
    });
    let set = FilterSet::build(&order, auth, clamd, rspamd);
    let names: Vec<&str> = set.stats().iter().map(|s| s.name).collect();
    tracing::info!(filters = ?names, "inbound filters");
    Ok(set)
}

/// The filters' counters as the admin page reads them.
pub fn source(set: &FilterSet) -> twinmail_admin::FilterSource {
    let set = set.clone();
    Arc::new(move || {
        set.stats()
            .into_iter()
            .map(|s| twinmail_admin::FilterCounts {
                name: s.name.to_string(),
                checked: s.checked,
                accepted: s.accepted,
                junked: s.junked,
                rejected: s.rejected,
                tempfailed: s.tempfailed,
                errors: s.errors,
                total_micros: s.total_micros,
                max_micros: s.max_micros,
            })
            .collect()
    })
}
