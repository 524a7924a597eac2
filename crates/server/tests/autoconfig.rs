//! Mail client autoconfiguration as Thunderbird and Outlook fetch it: the clientConfig XML
//! on both of Thunderbird's paths and Outlook's autodiscover answer, parsed as XML, name
//! both twins for IMAP, POP3 and submission, and only for a local domain.

mod common;

use serde_json::Value;

/// Fetches every answer the test checks with Python's urllib and parses each with
/// xml.etree; prints a JSON summary: per request, the HTTP status and what the XML says.
const FETCH: &str = r#"
import json, ssl, sys, urllib.request, urllib.error
import xml.etree.ElementTree as ET
http, https = sys.argv[1], sys.argv[2]
CTX = ssl.create_default_context(); CTX.check_hostname = False; CTX.verify_mode = ssl.CERT_NONE
def fetch(url, data=None, host=None):
    req = urllib.request.Request(url, data=data)
    if host: req.add_header('Host', host)
    if data: req.add_header('Content-Type', 'text/xml')
    try:
        r = urllib.request.urlopen(req, context=CTX, timeout=30)
        return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ''
def thunderbird(status, text):
    if status != 200: return {'status': status}
    root = ET.fromstring(text)
    p = root.find('emailProvider')
    servers = lambda tag: [{'type': s.get('type'), 'host': s.findtext('hostname'),
        'port': int(s.findtext('port')), 'socket': s.findtext('socketType'),
        'auth': s.findtext('authentication'), 'user': s.findtext('username')}
        for s in p.findall(tag)]
    return {'status': status, 'root': root.tag, 'version': root.get('version'),
        'id': p.get('id'), 'domains': [d.text for d in p.findall('domain')],
        'incoming': servers('incomingServer'), 'outgoing': servers('outgoingServer')}
R = '{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}'
A = '{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}'
def outlook(status, text):
    if status != 200: return {'status': status}
    root = ET.fromstring(text)
    acct = root.find(A + 'Response').find(A + 'Account')
    return {'status': status, 'root': root.tag, 'type': acct.findtext(A + 'AccountType'),
        'action': acct.findtext(A + 'Action'),
        'protocols': [{'type': p.findtext(A + 'Type'), 'host': p.findtext(A + 'Server'),
            'port': int(p.findtext(A + 'Port')), 'ssl': p.findtext(A + 'SSL'),
            'login': p.findtext(A + 'LoginName')} for p in acct.findall(A + 'Protocol')]}
def request(address):
    return ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
        '<Request><EMailAddress>%s</EMailAddress><AcceptableResponseSchema>'
        'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'
        '</AcceptableResponseSchema></Request></Autodiscover>' % address).encode()
print(json.dumps({
    'query': thunderbird(*fetch(http + '/mail/config-v1.1.xml?emailaddress=alice%40Example.com')),
    'well_known': thunderbird(*fetch(http + '/.well-known/autoconfig/mail/config-v1.1.xml', host='autoconfig.example.com')),
    'foreign': thunderbird(*fetch(http + '/mail/config-v1.1.xml?emailaddress=eve%40elsewhere.org')),
    'outlook': outlook(*fetch(https + '/autodiscover/autodiscover.xml', data=request('alice@example.com'))),
    'outlook_foreign': outlook(*fetch(https + '/autodiscover/autodiscover.xml', data=request('eve@elsewhere.org'))),
    'outlook_garbage': outlook(*fetch(https + '/autodiscover/autodiscover.xml', data=b'<Autodiscover/>')),
}))
"#;

#[test]
fn thunderbird_and_outlook_are_told_both_twins_for_a_local_domain_only() {
    twinmail_testkit::require(&["python3"]);
    let dir = tempfile::tempdir().unwrap();
    let config = common::write_config(dir.path());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "[autoconfig]\n\
         listen = [\"127.0.0.1:0\"]\n\
         tls_listen = [\"127.0.0.1:0\"]\n\
         imap = [\"mx-a.example.com:993\", \"mx-b.example.com:993\"]\n\
         pop3 = [\"mx-a.example.com:995\", \"mx-b.example.com:995\"]\n\
         smtp = [\"mx-a.example.com:465\", \"mx-b.example.com:465\"]\n",
    );
    std::fs::write(&config, text).unwrap();
    common::admin(&config, &["domain", "add", "example.com"], "");
    let mut server = common::serve(&config);
    let http = format!("http://{}", server.addrs["autoconfig"]);
    let https = format!("https://{}", server.addrs["autoconfig-tls"]);
    let out = twinmail_testkit::python(FETCH, &[http, https]);
    let _ = server.child.kill();
    let _ = server.child.wait();
    let v: Value = serde_json::from_str(out.trim()).unwrap();

    let twins = |port: u16| {
        serde_json::json!([
            {"host": "mx-a.example.com", "port": port},
            {"host": "mx-b.example.com", "port": port},
        ])
    };
    for answer in [&v["query"], &v["well_known"]] {
        assert_eq!(answer["status"], 200, "{answer}");
        assert_eq!(answer["root"], "clientConfig");
        assert_eq!(answer["version"], "1.1");
        assert_eq!(answer["id"], "example.com");
        assert_eq!(answer["domains"], serde_json::json!(["example.com"]));
        let pick = |list: &Value, kind: &str| {
            Value::Array(
                list.as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["type"] == kind)
                    .map(|s| serde_json::json!({"host": s["host"], "port": s["port"]}))
                    .collect(),
            )
        };
        assert_eq!(pick(&answer["incoming"], "imap"), twins(993), "{answer}");
        assert_eq!(pick(&answer["incoming"], "pop3"), twins(995), "{answer}");
        assert_eq!(pick(&answer["outgoing"], "smtp"), twins(465), "{answer}");
        for s in answer["incoming"]
            .as_array()
            .unwrap()
            .iter()
            .chain(answer["outgoing"].as_array().unwrap())
        {
            assert_eq!(s["socket"], "SSL", "{s}");
            assert_eq!(s["auth"], "password-cleartext", "{s}");
            assert_eq!(s["user"], "%EMAILADDRESS%", "{s}");
        }
    }
    assert_eq!(v["foreign"]["status"], 404);

    let o = &v["outlook"];
    assert_eq!(o["status"], 200, "{o}");
    assert_eq!(o["type"], "email");
    assert_eq!(o["action"], "settings");
    let protocols = o["protocols"].as_array().unwrap();
    for (kind, port) in [("IMAP", 993), ("POP3", 995), ("SMTP", 465)] {
        let of_kind: Vec<Value> = protocols
            .iter()
            .filter(|p| p["type"] == kind)
            .map(|p| serde_json::json!({"host": p["host"], "port": p["port"]}))
            .collect();
        assert_eq!(Value::Array(of_kind), twins(port), "{o}");
    }
    for p in protocols {
        assert_eq!(p["ssl"], "on", "{p}");
        assert_eq!(p["login"], "alice@example.com", "{p}");
    }
    assert_eq!(v["outlook_foreign"]["status"], 404);
    assert_eq!(v["outlook_garbage"]["status"], 400);
}
