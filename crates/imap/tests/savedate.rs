//! SAVEDATE (RFC 8514): the save date is when a message came into its current mailbox
//! (APPEND, COPY, MOVE), the INTERNALDATE is kept from the original; FETCH SAVEDATE and
//! SEARCH SAVEDBEFORE / SAVEDON / SAVEDSINCE / SAVEDATESUPPORTED read it.

mod common;

use common::{ALICE, start};

/// A FETCH response's quoted date-time after `item`.
fn date_of(line: &str, item: &str) -> String {
    let at = line
        .find(&format!("{item} \""))
        .unwrap_or_else(|| panic!("{item} in {line}"));
    let rest = &line[at + item.len() + 2..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Today in UTC as a search date, and the days either side.
fn days() -> (String, String, String) {
    let today = chrono::Utc::now().date_naive();
    let f = |d: chrono::NaiveDate| d.format("%d-%b-%Y").to_string();
    (
        f(today.pred_opt().unwrap()),
        f(today),
        f(today.succ_opt().unwrap()),
    )
}

#[tokio::test]
async fn a_copy_keeps_the_internal_date_and_gets_its_own_save_date() {
    let srv = start().await;
    let mut c = srv.login(ALICE).await;
    let caps = c.cmd("CAPABILITY").await;
    assert!(caps[0].contains(" SAVEDATE"), "{caps:?}");
    // An APPEND with a date in 2001: its save date is now, not 2001.
    let m = "Subject: old\r\n\r\nx\r\n";
    let r = c
        .cmd(&format!(
            "APPEND INBOX \"05-Mar-2001 10:00:00 +0000\" {{{}+}}\r\n{m}",
            m.len()
        ))
        .await;
    assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
    c.cmd("CREATE Archive").await;
    c.cmd("SELECT INBOX").await;
    let r = c.cmd("FETCH 1 (INTERNALDATE SAVEDATE)").await;
    assert!(r[0].starts_with("* 1 FETCH ("), "{r:?}");
    assert_eq!(date_of(&r[0], "INTERNALDATE"), "05-Mar-2001 10:00:00 +0000");
    let (yesterday, today, tomorrow) = days();
    let saved = date_of(&r[0], "SAVEDATE");
    assert!(
        saved.starts_with(&today) || saved.starts_with(&format!(" {}", &today[1..])),
        "{saved}"
    );
    // SAVEDATE alone, and beside other items in either order.
    let r = c.cmd("FETCH 1 SAVEDATE").await;
    assert_eq!(r[0], format!("* 1 FETCH (SAVEDATE \"{saved}\")"));
    let r = c.cmd("UID FETCH 1 (SAVEDATE FLAGS)").await;
    assert_eq!(
        r[0],
        format!("* 1 FETCH (UID 1 FLAGS () SAVEDATE \"{saved}\")")
    );
    // SEARCH: the internal date is 2001, the save date today.
    assert_eq!(
        c.cmd(&format!("SEARCH SAVEDON {today}")).await[0],
        "* SEARCH 1"
    );
    assert_eq!(c.cmd(&format!("SEARCH ON {today}")).await[0], "* SEARCH");
    assert_eq!(
        c.cmd(&format!("SEARCH SAVEDSINCE {yesterday}")).await[0],
        "* SEARCH 1"
    );
    assert_eq!(
        c.cmd(&format!("SEARCH SAVEDBEFORE {today}")).await[0],
        "* SEARCH"
    );
    assert_eq!(
        c.cmd(&format!("SEARCH SAVEDBEFORE {tomorrow}")).await[0],
        "* SEARCH 1"
    );
    assert_eq!(c.cmd("SEARCH SAVEDATESUPPORTED").await[0], "* SEARCH 1");
    assert_eq!(
        c.cmd(&format!(
            "UID SEARCH NOT SAVEDSINCE \"{today}\" SUBJECT old"
        ))
        .await[0],
        "* SEARCH"
    );
    // A bad date is BAD, not a search for nothing.
    let r = c.cmd("SEARCH SAVEDON 2026-01-01").await;
    assert!(r.last().unwrap().starts_with("A BAD"), "{r:?}");
    // COPY keeps the INTERNALDATE and stamps a save date of its own (a later second).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = c.cmd("COPY 1 Archive").await;
    assert!(r.last().unwrap().starts_with("A OK"), "{r:?}");
    c.cmd("SELECT Archive").await;
    let r = c.cmd("FETCH 1 (SAVEDATE INTERNALDATE)").await;
    assert_eq!(date_of(&r[0], "INTERNALDATE"), "05-Mar-2001 10:00:00 +0000");
    assert_ne!(date_of(&r[0], "SAVEDATE"), saved, "{r:?}");
    // And SORT/ESEARCH criteria take the keys too.
    let r = c
        .cmd(&format!("SEARCH RETURN (COUNT) SAVEDON {today}"))
        .await;
    assert!(r[0].ends_with("COUNT 1"), "{r:?}");
}
