use super::*;

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn injected_sidecar_and_gateway_arguments_are_understood() {
    let sidecar = parse_args(&words(
        "proxy sidecar --domain default.svc.cluster.local --proxyLogLevel=warning \
         --proxyComponentLogLevel=misc:error --log_output_level=default:info",
    ))
    .unwrap();
    assert_eq!(sidecar.role, Role::Sidecar);
    assert_eq!(sidecar.log_level, "warning");
    assert_eq!(sidecar.component_log_level, "misc:error");
    assert_eq!(sidecar.domain.as_deref(), Some("default.svc.cluster.local"));

    let gateway = parse_args(&words("proxy router --proxyLogLevel debug")).unwrap();
    assert_eq!(gateway.role, Role::Router);
    assert_eq!(gateway.log_level, "debug");
    assert_eq!(gateway.domain, None);
}

#[test]
fn the_image_default_is_a_sidecar_and_pilot_agent_may_be_named() {
    assert_eq!(parse_args(&[]).unwrap().role, Role::Sidecar);
    let named = parse_args(&words("/usr/local/bin/pilot-agent proxy router")).unwrap();
    assert_eq!(named.role, Role::Router);
}

#[test]
fn unknown_commands_are_refused_with_what_to_use() {
    let err = parse_args(&words("proxy ztunnel")).unwrap_err();
    assert!(err.contains("sidecar") && err.contains("router"), "{err}");
    let err = parse_args(&words("sleep 10")).unwrap_err();
    assert!(err.contains("proxy sidecar"), "{err}");
}
