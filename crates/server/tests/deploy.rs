//! The container files, checked without a container engine (this machine cannot pull the
//! base images; see the README's "Containers"): compose.yaml parsed as YAML agrees with
//! the Dockerfile and with the twins' configs it mounts: paths, ports, addresses, volume
//! and secret.

use std::{collections::BTreeSet, path::Path};

use serde_json::Value;

/// The repository root.
fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Ports a twin's config listens on (every service, the mirror and the admin page).
fn config_ports(config: &toml::Table) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for (section, keys) in [
        (
            "smtp",
            &["listen", "submission_listen", "submissions_listen"][..],
        ),
        ("imap", &["listen", "tls_listen"][..]),
        ("pop3", &["listen", "tls_listen"][..]),
        ("mirror", &["listen"][..]),
        ("admin", &["listen"][..]),
    ] {
        for key in keys {
            let value = &config[section][*key];
            let addrs: Vec<&str> = match value {
                toml::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
                v => v.as_str().into_iter().collect(),
            };
            for a in addrs {
                ports.insert(a.rsplit_once(':').unwrap().1.parse().unwrap());
            }
        }
    }
    ports
}

#[test]
fn compose_yaml_agrees_with_the_dockerfile_and_the_twins_configs() {
    twinmail_testkit::require(&["python3", "python3-yaml"]);
    let deploy = root().join("deploy");
    let compose: Value = serde_json::from_str(&twinmail_testkit::python(
        "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        &[deploy.join("compose.yaml").display().to_string()],
    ))
    .unwrap();
    let dockerfile = std::fs::read_to_string(deploy.join("Dockerfile")).unwrap();
    let instruction = |name: &str| -> Vec<&str> {
        dockerfile
            .lines()
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .collect()
    };
    let exposed: BTreeSet<u16> = instruction("EXPOSE")
        .iter()
        .flat_map(|l| l.split_whitespace())
        .map(|p| p.parse().unwrap())
        .collect();
    let entrypoint: Vec<String> = serde_json::from_str(instruction("ENTRYPOINT")[0]).unwrap();
    let config_in_container =
        &entrypoint[entrypoint.iter().position(|a| a == "--config").unwrap() + 1];
    let volume = instruction("VOLUME")[0].trim();
    assert_ne!(instruction("USER").last().copied(), Some("root"));

    let subnet = compose["networks"]["pair"]["ipam"]["config"][0]["subnet"]
        .as_str()
        .unwrap();
    let prefix = subnet.strip_suffix("0/24").unwrap();
    let services = compose["services"].as_object().unwrap();
    assert_eq!(services.keys().collect::<Vec<_>>(), ["a", "b"]);
    let mut host_ports = BTreeSet::new();
    for (me, twin) in [("a", "b"), ("b", "a")] {
        let s = &services[me];
        // Built from the repository with the Dockerfile beside this file.
        let context = deploy.join(s["build"]["context"].as_str().unwrap());
        assert!(
            context
                .join(s["build"]["dockerfile"].as_str().unwrap())
                .is_file(),
            "{me}: no Dockerfile at build.context/build.dockerfile"
        );
        // Its config is mounted where the ENTRYPOINT reads it, its data volume where the
        // Dockerfile declares it and the config keeps its data.
        let volumes: Vec<&str> = s["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let config_mount = volumes
            .iter()
            .find_map(|v| v.strip_suffix(&format!(":{config_in_container}:ro")))
            .unwrap_or_else(|| panic!("{me}: nothing mounted at {config_in_container}"));
        let config: toml::Table = std::fs::read_to_string(deploy.join(config_mount))
            .unwrap()
            .parse()
            .unwrap();
        let data_volume = format!("{me}-data:{volume}");
        assert!(volumes.contains(&data_volume.as_str()), "{me}: {volumes:?}");
        assert!(compose["volumes"].get(format!("{me}-data")).is_some());
        assert_eq!(config["node"]["data_dir"].as_str(), Some(volume));
        assert_eq!(config["node"]["id"].as_str(), Some(me));
        // The twin dials the fixed address compose gives the other, inside the subnet.
        let twin_address = services[twin]["networks"]["pair"]["ipv4_address"]
            .as_str()
            .unwrap();
        assert!(
            twin_address.starts_with(prefix),
            "{twin_address} not in {subnet}"
        );
        assert_eq!(
            config["mirror"]["twin"].as_str(),
            Some(format!("{twin_address}:4190").as_str())
        );
        assert_eq!(config["mirror"]["twin_id"].as_str(), Some(twin));
        // The shared secret is the compose secret.
        assert_eq!(s["secrets"], serde_json::json!(["mirror_secret"]));
        assert_eq!(
            config["mirror"]["secret_file"].as_str(),
            Some("/run/secrets/mirror_secret")
        );
        // Every port the config listens on is exposed, and every published one is one
        // the twin listens on, on a host port no other service takes.
        let listening = config_ports(&config);
        assert!(
            listening.is_subset(&exposed),
            "{me}: {listening:?} vs EXPOSE {exposed:?}"
        );
        for p in s["ports"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            let mut parts = p.rsplitn(3, ':');
            let inside: u16 = parts.next().unwrap().parse().unwrap();
            let outside: u16 = parts.next().unwrap().parse().unwrap();
            assert!(
                listening.contains(&inside),
                "{me}: {p} publishes a closed port"
            );
            assert!(
                host_ports.insert(outside),
                "host port {outside} published twice"
            );
        }
    }
    let secret = compose["secrets"]["mirror_secret"]["file"]
        .as_str()
        .unwrap();
    assert!(
        deploy.join(secret).parent().unwrap().is_dir(),
        "the secret's directory {secret} is missing"
    );
}

/// The mirror secret reaches each deployment's twinmail user without being readable by
/// anyone else: systemd's DynamicUser gets it by LoadCredential (the config points at the
/// credential), and the containers' fixed uid owns the compose secret file, which is made
/// 0600. The unit also caps the service's memory.
#[test]
fn the_mirror_secret_reaches_the_service_user_alone() {
    let deploy = root().join("deploy");
    let unit = std::fs::read_to_string(deploy.join("twinmail.service")).unwrap();
    let setting = |key: &str| -> Vec<&str> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .collect()
    };
    assert_eq!(setting("DynamicUser"), ["yes"]);
    let credential = setting("LoadCredential");
    let [credential] = credential[..] else {
        panic!("no single LoadCredential= in the unit: {credential:?}")
    };
    let (name, source) = credential.split_once(':').unwrap();
    assert!(source.starts_with('/'), "{credential}");
    // The config the unit's comment asks for reads the credential where systemd puts it.
    assert!(
        unit.contains(&format!(
            "mirror.secret_file = \"/run/credentials/twinmail.service/{name}\""
        )),
        "the unit does not say where the config reads the secret"
    );
    assert!(unit.contains(&format!("chmod 600 {source}")), "{unit}");
    assert!(!setting("MemoryMax").is_empty(), "no MemoryMax=");

    let dockerfile = std::fs::read_to_string(deploy.join("Dockerfile")).unwrap();
    let uid = dockerfile
        .split("useradd ")
        .nth(1)
        .and_then(|rest| rest.split("--uid ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the Dockerfile's user has no fixed --uid"));
    let compose = std::fs::read_to_string(deploy.join("compose.yaml")).unwrap();
    assert!(
        compose.contains(&format!("user: \"{uid}:")),
        "compose does not run as uid {uid}"
    );
    assert!(
        compose.contains(&format!("chown {uid}:")) && compose.contains("umask 077"),
        "compose's instructions do not give the secret to uid {uid} alone"
    );
    assert!(!compose.contains("chmod 644") && !compose.contains("chmod 444"));
}
