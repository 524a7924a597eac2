//! The "body" extension (RFC 5173): `:text` over decoded text parts, `:raw` over the
//! undecoded body, `:content` by MIME type.

mod common;

use common::*;
use twinmail_sieve::Action;

fn multipart() -> Vec<u8> {
    msg(
        &[
            "From: a@b.example",
            "To: me@example.com",
            "MIME-Version: 1.0",
            "Content-Type: multipart/mixed; boundary=XX",
        ],
        "--XX\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
The missile is =C3=BCber ready.\r\n\
--XX\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>Send the <b>coordinates</b></p>\r\n\
--XX\r\n\
Content-Type: audio/mp3\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
SUQzBAAAAAAA\r\n\
--XX--\r\n",
    )
}

#[test]
fn section_7_examples() {
    // RFC 5173 §7's example script.
    let src = r#"
        require ["body", "fileinto"];

        # Save any message with any text MIME part that contains the
        # words "missile" or "coordinates" in the "secrets" folder.

        if body :content "text" :contains ["missile", "coordinates"] {
                fileinto "secrets";
        }

        # Save any message with an audio/mp3 MIME part in
        # the "jukebox" folder.

        if body :content "audio/mp3" :contains "" {
                fileinto "jukebox";
        }
    "#;
    assert_eq!(
        actions(src, &multipart()),
        vec![fileinto("secrets"), fileinto("jukebox")]
    );
    assert_eq!(actions(src, &plain("a@b.example", "x")), vec![keep()]);
}

#[test]
fn section_5_text_decodes_transfer_encodings_and_html() {
    let hit = |test: &str| {
        let src = format!("require \"body\"; if {test} {{ discard; }}");
        actions(&src, &multipart()) == vec![Action::Discard]
    };
    assert!(hit(r#"body :text :contains "über ready""#));
    assert!(hit(r#"body :contains "MISSILE""#));
    // HTML is reduced to text: tags do not split the words.
    assert!(hit(r#"body :text :contains "send the coordinates""#));
    assert!(!hit(r#"body :text :contains "<b>""#));
    // :raw sees the wire form: quoted-printable undecoded, tags present.
    assert!(hit(r#"body :raw :contains "=C3=BCber""#));
    assert!(hit(r#"body :raw :contains "<b>coordinates</b>""#));
    assert!(!hit(r#"body :raw :contains "über""#));
    // :content "text/html" sees the HTML source.
    assert!(hit(r#"body :content "text/html" :contains "<b>""#));
    assert!(!hit(r#"body :content "text/plain" :contains "<b>""#));
    // i;octet is case-sensitive here too.
    assert!(!hit(r#"body :comparator "i;octet" :contains "MISSILE""#));
    assert!(hit(r#"body :matches "*missile*ready*""#));
}

#[test]
fn body_needs_require() {
    let e = parse_error("if body :contains \"x\" { discard; }");
    assert!(e.to_string().contains("\"body\""), "{e}");
}
