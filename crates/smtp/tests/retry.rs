//! A sending MTA that retries a transaction (our 250 lost on the way, or our 451 while the
//! home twin's answer was in doubt) must not make a second copy: the same envelope and
//! content with a Message-ID is the same delivery. Identical messages without a
//! Message-ID (a script's daily "backup ok") stay separate messages.

mod common;

const SEND_TWICE: &str = r#"
import smtplib, sys
mx = int(sys.argv[1])
with_id = b'From: backup@remote.org\r\nSubject: nightly\r\nMessage-ID: <n1@remote.org>\r\n\r\nok\r\n'
without = b'From: backup@remote.org\r\nSubject: nightly\r\n\r\nok\r\n'
for m in (with_id, with_id, without, without):
    s = smtplib.SMTP('127.0.0.1', mx)
    s.ehlo('client.remote.org')
    assert s.sendmail('backup@remote.org', ['alice@example.com'], m) == {}
    s.quit()
print('ok')
"#;

#[tokio::test]
async fn a_retried_transaction_is_delivered_once_but_identical_messages_without_an_id_twice() {
    let server = common::start().await;
    let mx = server.mx.port().to_string();
    let out = tokio::task::spawn_blocking(move || common::python(SEND_TWICE, &[mx]))
        .await
        .unwrap();
    assert_eq!(out.trim(), "ok");
    let inbox = server.inbox("alice@example.com").await;
    let with_id = inbox
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains("Message-ID: <n1@remote.org>"))
        .count();
    assert_eq!(with_id, 1, "the retried transaction made a second copy");
    assert_eq!(
        inbox.len(),
        3,
        "identical messages without a Message-ID are two"
    );
}
