//! MULTIAPPEND's split (crates/imap/src/multiappend.rs) on arbitrary bytes: never
//! panics, and every message it finds is a range of the input (a literal, or CATENATE's
//! TEXT pieces), in order; at least two, or one built with CATENATE.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twinmail_imap::{
    catenate::CatPart,
    multiappend::{Content, parse},
};

fuzz_target!(|data: &[u8]| {
    if let Some(Ok(m)) = parse(data) {
        let catenates = m
            .parts
            .iter()
            .any(|p| matches!(p.content, Content::Catenate(_)));
        assert!(m.parts.len() >= 2 || catenates);
        let mut after = 0;
        for part in &m.parts {
            let ranges: Vec<_> = match &part.content {
                Content::Literal(r) => vec![r.clone()],
                Content::Catenate(pieces) => pieces
                    .iter()
                    .filter_map(|p| match p {
                        CatPart::Text(r) => Some(r.clone()),
                        CatPart::Url(_) => None,
                    })
                    .collect(),
            };
            for r in ranges {
                assert!(r.start >= after && r.end <= data.len());
                after = r.end;
            }
        }
    }
});
