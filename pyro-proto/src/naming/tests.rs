use super::*;
use alloc::vec;

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn kw(pairs: &[(&str, Value)]) -> Dict {
    Dict(pairs.iter().map(|(k, v)| (s(k), v.clone())).collect())
}

fn args(vargs: Vec<Value>, kwargs: &[(&str, Value)]) -> Args {
    Args {
        vargs,
        kwargs: kw(kwargs),
    }
}

fn ns() -> NameRegistry {
    NameRegistry::with_self(&Uri::parse("PYRO:Pyro.NameServer@127.0.0.1:9090").unwrap())
}

fn set(items: &[&str]) -> Value {
    Value::Set(items.iter().map(|i| s(i)).collect())
}

fn err(r: Result<Value, RemoteError>) -> (String, String) {
    let e = r.unwrap_err();
    (e.class_name.clone(), e.message())
}

#[test]
fn self_registration_and_count() {
    let mut r = ns();
    assert_eq!(r.call("count", Args::default()).unwrap(), Value::Int(1));
    let reply = r
        .call(
            "lookup",
            args(
                vec![s(NAMESERVER_NAME)],
                &[("return_metadata", Value::Bool(true))],
            ),
        )
        .unwrap();
    let uri = Uri::parse("PYRO:Pyro.NameServer@127.0.0.1:9090").unwrap();
    assert_eq!(
        reply,
        Value::Tuple(vec![
            uri.to_value(),
            Value::List(vec![s("class:Pyro4.naming.NameServer")])
        ])
    );
    assert_eq!(r.call("ping", Args::default()).unwrap(), Value::None);
}

#[test]
fn register_lookup_and_list_shapes() {
    let mut r = ns();
    let uri = Uri::parse("PYRO:obj2@127.0.0.1:5555").unwrap();
    // URI object (class dict as a codec decodes it) with metadata kwarg.
    let raw = Value::Dict(Dict(vec![
        (s("__class__"), s("Pyro4.core.URI")),
        (s("state"), uri.state()),
    ]));
    r.call(
        "register",
        args(
            vec![s("example.two"), raw],
            &[("metadata", set(&["blue", "red"]))],
        ),
    )
    .unwrap();
    r.call(
        "register",
        args(vec![s("example.one"), s("PYRO:obj1@h:1")], &[]),
    )
    .unwrap();
    assert_eq!(r.count(), 3);
    assert_eq!(
        r.call("lookup", args(vec![s("example.two")], &[])).unwrap(),
        uri.to_value()
    );
    // list gives strings, in registration order
    let all = r.call("list", Args::default()).unwrap();
    let d = all.as_dict().unwrap();
    let names: Vec<&str> = d.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, ["Pyro.NameServer", "example.two", "example.one"]);
    assert_eq!(d.get_str("example.one"), Some(&s("PYRO:obj1@h:1")));
    let any = r
        .call(
            "list",
            args(
                vec![],
                &[
                    ("metadata_any", set(&["green", "red"])),
                    ("return_metadata", Value::Bool(true)),
                ],
            ),
        )
        .unwrap();
    assert_eq!(
        any,
        Value::Dict(Dict(vec![(
            s("example.two"),
            Value::Tuple(vec![
                s("PYRO:obj2@127.0.0.1:5555"),
                Value::List(vec![s("blue"), s("red")])
            ])
        )]))
    );
    let all_meta = r
        .call(
            "list",
            args(vec![], &[("metadata_all", set(&["green", "red"]))]),
        )
        .unwrap();
    assert_eq!(all_meta, Value::Dict(Dict::new()));
    let pre = r
        .call("list", args(vec![], &[("prefix", s("example.o"))]))
        .unwrap();
    assert_eq!(pre.as_dict().unwrap().len(), 1);
    let re = r
        .call("list", args(vec![Value::None, s("ex.*e$")], &[]))
        .unwrap();
    assert_eq!(re.as_dict().unwrap().len(), 1);
    // re.match is anchored at the start only
    let re = r
        .call("list", args(vec![Value::None, s("two")], &[]))
        .unwrap();
    assert!(re.as_dict().unwrap().is_empty());
}

#[test]
fn naming_error_texts() {
    let mut r = ns();
    assert_eq!(
        err(r.call("lookup", args(vec![s("nope")], &[]))),
        (
            "Pyro4.errors.NamingError".into(),
            "unknown name: nope".into()
        )
    );
    assert_eq!(
        err(r.call("set_metadata", args(vec![s("nope"), Value::None], &[]))),
        (
            "Pyro4.errors.NamingError".into(),
            "unknown name: nope".into()
        )
    );
    r.call("register", args(vec![s("a"), s("PYRO:x@h:1")], &[]))
        .unwrap();
    assert_eq!(
        err(r.call(
            "register",
            args(
                vec![s("a"), s("PYRO:y@h:1")],
                &[("safe", Value::Bool(true))]
            )
        )),
        (
            "Pyro4.errors.NamingError".into(),
            "name already registered: a".into()
        )
    );
    let (class, msg) = err(r.call("list", args(vec![], &[("regex", s("(unclosed"))])));
    assert_eq!(class, "Pyro4.errors.NamingError");
    assert!(msg.starts_with("invalid regex: "), "{msg}");
    // unbalanced ")" is not repaired by the anchoring group
    assert!(r
        .call("list", args(vec![], &[("regex", s("a)(b"))]))
        .is_err());
    assert_eq!(
        err(r.call(
            "list",
            args(vec![], &[("prefix", s("a")), ("regex", s("b"))])
        )),
        (
            "builtins.ValueError".into(),
            "you can only filter on one thing at a time".into()
        )
    );
    assert_eq!(
        NamingError::NoMetadataMatch(BTreeSet::from(["a".to_string(), "b".to_string()]))
            .to_string(),
        "no registrations available with desired metadata properties {'a', 'b'}"
    );
}

#[test]
fn type_errors_as_python() {
    let mut r = ns();
    let cases: Vec<(Args, &str)> = vec![
        (
            args(vec![s("a"), Value::Int(3)], &[]),
            "only URIs or strings can be registered",
        ),
        (
            args(vec![Value::Int(1), s("PYRO:x@h:1")], &[]),
            "name must be a str",
        ),
        (
            args(vec![s("a"), s("PYRO:x@h:1")], &[("metadata", s("red"))]),
            "metadata should not be a str, but another iterable (set, list, etc)",
        ),
        (
            args(vec![s("a")], &[]),
            "NameServer.register() missing 1 required positional argument: 'uri'",
        ),
        (
            args(vec![], &[]),
            "NameServer.register() missing 2 required positional arguments: 'name' and 'uri'",
        ),
        (
            args(
                vec![
                    s("a"),
                    s("PYRO:x@h:1"),
                    Value::None,
                    Value::None,
                    Value::None,
                ],
                &[],
            ),
            "NameServer.register() takes from 3 to 5 positional arguments but 6 were given",
        ),
        (
            args(vec![s("a"), s("PYRO:x@h:1")], &[("name", s("b"))]),
            "NameServer.register() got multiple values for argument 'name'",
        ),
        (
            args(vec![s("a"), s("PYRO:x@h:1")], &[("colour", s("b"))]),
            "NameServer.register() got an unexpected keyword argument 'colour'",
        ),
    ];
    for (a, text) in cases {
        assert_eq!(
            err(r.call("register", a)),
            ("builtins.TypeError".into(), text.into())
        );
    }
    assert_eq!(
        err(r.call("ping", args(vec![Value::None], &[]))).1,
        "NameServer.ping() takes 1 positional argument but 2 were given"
    );
    assert_eq!(
        err(r.call("list", args(vec![], &[("metadata_all", s("x"))]))).1,
        "metadata_all should not be a str, but another iterable (set, list, etc)"
    );
    let (class, msg) = err(r.call("register", args(vec![s("a"), s("nonsense")], &[])));
    assert_eq!(
        (class.as_str(), msg.as_str()),
        ("Pyro4.errors.PyroError", "invalid uri")
    );
    assert_eq!(r.count(), 1);
}

#[test]
fn remove_semantics() {
    let mut r = ns();
    for n in ["a.1", "a.2", "b.1"] {
        r.call("register", args(vec![s(n), s("PYRO:x@h:1")], &[]))
            .unwrap();
    }
    let remove = |r: &mut NameRegistry, kwargs: &[(&str, Value)]| {
        r.call("remove", args(vec![], kwargs)).unwrap()
    };
    assert_eq!(
        remove(&mut r, &[("name", s(NAMESERVER_NAME))]),
        Value::Int(0)
    );
    assert_eq!(remove(&mut r, &[("name", s("unknown"))]), Value::Int(0));
    assert_eq!(remove(&mut r, &[("name", s("b.1"))]), Value::Int(1));
    // an unknown name falls through to the prefix
    assert_eq!(
        remove(&mut r, &[("name", s("zzz")), ("prefix", s("a."))]),
        Value::Int(2)
    );
    assert_eq!(remove(&mut r, &[("prefix", s("Pyro"))]), Value::Int(0));
    assert_eq!(remove(&mut r, &[("regex", s(".*"))]), Value::Int(0));
    assert_eq!(r.count(), 1);
    assert_eq!(remove(&mut r, &[]), Value::Int(0));
}

#[test]
fn set_metadata_and_reregister_keep_order() {
    let mut r = ns();
    r.call("register", args(vec![s("a"), s("PYRO:x@h:1")], &[]))
        .unwrap();
    r.call("register", args(vec![s("b"), s("PYRO:x@h:2")], &[]))
        .unwrap();
    r.call("register", args(vec![s("a"), s("PYRO:x@h:3")], &[]))
        .unwrap();
    r.call(
        "set_metadata",
        args(vec![s("a"), Value::List(vec![s("m")])], &[]),
    )
    .unwrap();
    let names: Vec<&str> = r
        .list(&Filter::All)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["Pyro.NameServer", "a", "b"]);
    let e = r.lookup("a").unwrap();
    assert_eq!(e.uri, "PYRO:x@h:3");
    assert_eq!(e.metadata, BTreeSet::from(["m".to_string()]));
}

#[test]
fn locator_codec() {
    assert!(is_locator_request(b"GET_NSURI"));
    assert!(!is_locator_request(b"GET_NSURI\n"));
    assert!(!is_locator_request(b"get_nsuri"));
    let uri = Uri::parse("PYRO:Pyro.NameServer@0.0.0.0:9090").unwrap();
    assert_eq!(
        locator_reply(&uri, Some("192.168.1.100")).unwrap(),
        b"PYRO:Pyro.NameServer@192.168.1.100:9090"
    );
    assert_eq!(
        locator_reply(&uri, None).unwrap(),
        b"PYRO:Pyro.NameServer@0.0.0.0:9090"
    );
    let bound = Uri::parse("PYRO:Pyro.NameServer@10.0.0.1:9090").unwrap();
    assert_eq!(
        locator_reply(&bound, Some("192.168.1.100")).unwrap(),
        b"PYRO:Pyro.NameServer@10.0.0.1:9090"
    );
    assert_eq!(
        parse_locator_reply(b"PYRO:Pyro.NameServer@10.0.0.1:9090").unwrap(),
        bound
    );
    let unicode = Uri::pyro("\u{263a}", "h", 1).unwrap();
    assert_eq!(locator_reply(&unicode, None), None);
    let latin = Uri::pyro("caf\u{e9}", "h", 1).unwrap();
    assert_eq!(locator_reply(&latin, None).unwrap(), b"PYRO:caf\xe9@h:1");
}

#[test]
fn resolution_of_magic_uris() {
    let u = Uri::parse("PYRONAME:thing@nshost:1234").unwrap();
    assert_eq!(
        resolution(&u),
        Resolution::Lookup {
            name: "thing".into(),
            host: Some("nshost".into()),
            port: Some(1234)
        }
    );
    let m = Uri::parse("PYROMETA:a,b").unwrap();
    let Resolution::Meta { metadata, host, .. } = resolution(&m) else {
        panic!("not meta")
    };
    assert_eq!(host, None);
    let err = meta_candidates(&Value::Dict(Dict::new()), &metadata).unwrap_err();
    assert_eq!(
        err.message(),
        "no registrations available with desired metadata properties {'a', 'b'}"
    );
    let reply = Value::Dict(Dict(vec![(s("x"), s("PYRO:x@h:1"))]));
    assert_eq!(
        meta_candidates(&reply, &metadata).unwrap(),
        [Uri::parse("PYRO:x@h:1").unwrap()]
    );
}

#[test]
fn servant_exposes_the_methods() {
    use crate::servant::Servant;
    let uri = Uri::parse("PYRO:Pyro.NameServer@127.0.0.1:9090").unwrap();
    let ns = NameServer::new(&uri);
    assert_eq!(
        ns.metadata().methods,
        [
            "count",
            "list",
            "lookup",
            "ping",
            "register",
            "remove",
            "set_metadata"
        ]
    );
    assert_eq!(ns.registry().count(), 1);
}

/// Texts checked against CPython 3.11 + Pyro4 4.82's `NameServer` called
/// directly (`python -c 'from Pyro4.naming import NameServer; ...'`).
#[test]
fn more_python_texts() {
    let mut r = ns();
    let cases: Vec<(&str, Args, &str)> = vec![
        (
            "lookup",
            args(vec![], &[]),
            "NameServer.lookup() missing 1 required positional argument: 'name'",
        ),
        (
            "lookup",
            args(vec![s("a")], &[("x", Value::Int(1))]),
            "NameServer.lookup() got an unexpected keyword argument 'x'",
        ),
        (
            "set_metadata",
            args(vec![s("a"), Value::None, Value::Int(1)], &[]),
            "NameServer.set_metadata() takes 3 positional arguments but 4 were given",
        ),
        (
            "remove",
            args(vec![Value::None; 4], &[]),
            "NameServer.remove() takes from 1 to 4 positional arguments but 5 were given",
        ),
        (
            "count",
            args(vec![Value::None; 2], &[]),
            "NameServer.count() takes 1 positional argument but 3 were given",
        ),
        (
            "register",
            args(
                vec![s("b"), s("PYRO:x@h:1")],
                &[("metadata", Value::Int(5))],
            ),
            "'int' object is not iterable",
        ),
        (
            "lookup",
            args(vec![Value::Int(5)], &[]),
            "can only concatenate str (not \"int\") to str",
        ),
        (
            "list",
            args(vec![], &[("prefix", Value::Int(5))]),
            "startswith first arg must be str or a tuple of str, not int",
        ),
        (
            "list",
            args(vec![], &[("regex", Value::Int(5))]),
            "first argument must be string or compiled pattern",
        ),
    ];
    for (method, a, text) in cases {
        assert_eq!(
            err(r.call(method, a)),
            ("builtins.TypeError".into(), text.into()),
            "{method}"
        );
    }
    // remove(name=<not a str>) finds nothing, as `5 in storage` is False.
    assert_eq!(
        r.call("remove", args(vec![Value::Int(5)], &[])).unwrap(),
        Value::Int(0)
    );
}

#[test]
fn nameserver_uris_as_locate_ns_builds_them() {
    assert_eq!(
        nameserver_uri("10.0.0.1", 9090).unwrap().to_string(),
        "PYRO:Pyro.NameServer@10.0.0.1:9090"
    );
    assert_eq!(
        nameserver_uri("::1", 9090).unwrap().to_string(),
        "PYRO:Pyro.NameServer@[::1]:9090"
    );
    assert_eq!(
        nameserver_uri("./u:/tmp/ns.sock", 9090)
            .unwrap()
            .to_string(),
        "PYRO:Pyro.NameServer@./u:/tmp/ns.sock"
    );
}
