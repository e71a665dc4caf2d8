//! The class layer (`value::classes`, `value::error`) against the captured
//! Pyro4 4.82 sessions and against live Python Pyro4 deserializers.
//!
//! * every exception reply in every vector file decodes through
//!   `SerializerId::loads` the way the Python client decoded it (rebuilt, or
//!   refused with the same message), and renders like Python's traceback line;
//! * `*_exception_kinds`, `*_batch`, `*_classes`: per-call outcomes equal the
//!   "client-side result" the capture recorded;
//! * a corpus of class dicts goes through Pyro4's own `loads` (serpent, json
//!   and marshal) and through ours: same acceptance, same Pyro error type and text;
//! * `Value::py_eq` agrees with Python's `==`.

use std::io::Write;
use std::process::{Command, Stdio};

use pyro_proto::serialize::{serpent, SerializeError, SerializerId};
use pyro_proto::value::{ClassDict, Dict, ExceptionWrapper, RemoteError, Value};
use pyro_tests::python::script;
use pyro_tests::vectors::{self, raw_frame, VectorFile};

const INVOKE: u16 = 4;
const RESULT: u16 = 5;
const FLAG_EXCEPTION: u16 = 0x0001;
const FLAG_BATCH: u16 = 0x0008;
const FLAG_ITEMSTREAMRESULT: u16 = 0x0020;

/// True while a codec is still the placeholder that refuses everything (the
/// codecs land on main separately); such payloads are counted, not checked.
fn codec_missing(ser: SerializerId) -> bool {
    matches!(
        ser.loads_raw(b"N"),
        Err(SerializeError::Unsupported { what, .. }) if what.contains("not implemented")
    )
}

/// The capture's "client-side result" header line.
fn client_result(file: &VectorFile) -> String {
    file.header
        .iter()
        .find_map(|l| l.strip_prefix("# client-side result: "))
        .unwrap_or_else(|| panic!("{}: no client-side result line", file.name))
        .to_string()
}

/// `(method, reply frame)` pairs of INVOKE/RESULT exchanges in file order.
fn exchanges(file: &VectorFile) -> Vec<(String, vectors::RawFrame, usize)> {
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for line in &file.lines {
        if line.tag != "C2S" && line.tag != "S2C" {
            continue;
        }
        let f = raw_frame(&line.bytes);
        if line.tag == "C2S" && f.msg_type == INVOKE {
            let ser = SerializerId::from_id(f.serializer_id).unwrap();
            pending = ser.loads_call_raw(&f.payload).ok().map(|c| c.method.into());
        } else if line.tag == "S2C" && f.msg_type == RESULT {
            out.push((pending.take().unwrap_or_default(), f, line.line_no));
        }
    }
    out
}

/// What Python's `str(type(e).__name__) + ": " + str(e)` would show for our outcome.
fn outcome(result: &Result<Value, SerializeError>) -> String {
    match result {
        Ok(v) => match RemoteError::from_value(v) {
            Ok(e) => format!("{}: {}", e.short_name(), e.message()),
            Err(err) => format!("not an exception: {err}"),
        },
        Err(SerializeError::DunderClass(_)) => {
            format!("SecurityError: {}", result.as_ref().unwrap_err())
        }
        Err(e) => format!("SerializeError: {e}"),
    }
}

#[test]
fn every_exception_reply_decodes_like_the_python_client() {
    let mut checked = [0usize; 5];
    let mut skipped = 0;
    for file in vectors::all() {
        for line in &file.lines {
            if line.tag != "S2C" {
                continue;
            }
            let f = raw_frame(&line.bytes);
            if f.msg_type != RESULT
                || f.flags & FLAG_EXCEPTION == 0
                || f.flags & FLAG_ITEMSTREAMRESULT != 0
            {
                continue;
            }
            let at = format!("{}:{}", file.name, line.line_no);
            let ser = SerializerId::from_id(f.serializer_id).unwrap();
            if codec_missing(ser) {
                skipped += 1;
                continue;
            }
            let value = match ser.loads(&f.payload) {
                Ok(v) => v,
                Err(SerializeError::UnknownClass(name)) => {
                    // Only custom exception classes may be refused, exactly
                    // as the Python client refused them.
                    assert!(
                        !name.starts_with("builtins.") && !name.starts_with("Pyro4."),
                        "{at}: {name}"
                    );
                    if ser != SerializerId::Pickle {
                        let raw = ser.loads_raw(&f.payload).unwrap();
                        let d = raw.as_dict().unwrap_or_else(|| panic!("{at}: {raw:?}"));
                        assert_eq!(
                            d.get_str("__class__").and_then(Value::as_str),
                            Some(name.as_str()),
                            "{at}"
                        );
                        assert_eq!(d.get_str("__exception__"), Some(&Value::Bool(true)), "{at}");
                    }
                    let expected = format!("unsupported serialized class: {name}");
                    // Python's pickle rebuilds any importable class; our pickle
                    // codec refuses classes outside its whitelist on purpose
                    // (it never imports code), so only the other codecs must
                    // agree with the recorded client here.
                    // Raw captures (no recorded client) follow the rule the
                    // Python-oracle test below checks.
                    let recorded = file
                        .header
                        .iter()
                        .any(|l| l.starts_with("# client-side result: "));
                    assert!(
                        ser == SerializerId::Pickle
                            || !recorded
                            || client_result(&file).contains(&expected),
                        "{at}: Python's client did not refuse {name}"
                    );
                    checked[ser.id() as usize] += 1;
                    continue;
                }
                Err(e) => panic!("{at}: {e}"),
            };
            let e = RemoteError::from_value(&value)
                .unwrap_or_else(|err| panic!("{at}: {err}: {value:?}"));
            // Python's traceback ends with format_exception_only's line: our
            // Display must be that line.
            let tb = e
                .traceback
                .as_deref()
                .unwrap_or_else(|| panic!("{at}: no traceback"));
            let last = tb.trim_end_matches('\n').rsplit('\n').next().unwrap();
            assert_eq!(e.to_string(), last, "{at}");
            // And our re-encoding is read back to the same exception.
            let again = ser.dumps(&e.to_value()).unwrap();
            let back = RemoteError::from_value(&ser.loads(&again).unwrap()).unwrap();
            assert_eq!(back, e, "{at}");
            checked[ser.id() as usize] += 1;
        }
    }
    eprintln!("exception replies checked per serializer id: {checked:?}, skipped (codec missing): {skipped}");
    for ser in [
        SerializerId::Serpent,
        SerializerId::Json,
        SerializerId::Pickle,
    ] {
        if !codec_missing(ser) {
            assert!(
                checked[ser.id() as usize] >= 4,
                "{ser:?}: only {} replies",
                checked[ser.id() as usize]
            );
        }
    }
    assert!(checked.iter().sum::<usize>() >= 8);
}

#[test]
fn exception_kinds_match_the_recorded_client_results() {
    let mut n = 0;
    for ser in ["serpent", "json", "marshal", "pickle"] {
        let file = vectors::named(&format!("{ser}_exception_kinds.txt"));
        let want = client_result(&file);
        for (method, f, line_no) in exchanges(&file) {
            if !method.starts_with("raise_") {
                continue;
            }
            let id = SerializerId::from_id(f.serializer_id).unwrap();
            if codec_missing(id) {
                continue;
            }
            let mut got = format!("{method}: {}", outcome(&id.loads(&f.payload)));
            if id == SerializerId::Pickle
                && got.contains("unsupported serialized class: vectorsvc.MyError")
            {
                // Whitelisting pickle codec (see above): Python rebuilt the
                // custom class; the raw content must still be that exception.
                got = "raise_custom: MyError: ('custom failure', 42)".to_string();
                assert_eq!(
                    id.loads(&f.payload),
                    Err(SerializeError::UnknownClass("vectorsvc.MyError".into()))
                );
            }
            assert!(
                want.contains(&got),
                "{}:{line_no}: {got:?} not in the client result {want}",
                file.name
            );
            n += 1;
        }
    }
    assert!(n >= 9, "only {n} calls checked");
}

#[test]
fn batch_replies_unwrap_like_the_python_client() {
    let mut n = 0;
    for ser in ["serpent", "json", "pickle"] {
        let file = vectors::named(&format!("{ser}_batch.txt"));
        assert_eq!(client_result(&file), "[42, 'hi', 'ZeroDivisionError']");
        for (method, f, line_no) in exchanges(&file) {
            if method != "<batch>" || f.flags & FLAG_BATCH == 0 {
                continue;
            }
            let id = SerializerId::from_id(f.serializer_id).unwrap();
            if codec_missing(id) {
                continue;
            }
            let at = format!("{}:{line_no}", file.name);
            let reply = id.loads(&f.payload).unwrap_or_else(|e| panic!("{at}: {e}"));
            let results = ExceptionWrapper::unwrap_batch(reply).unwrap();
            assert_eq!(results.len(), 3, "{at}");
            assert_eq!(results[0], Ok(Value::Int(42)), "{at}");
            assert_eq!(results[1], Ok(Value::from("hi")), "{at}");
            let err = results[2].as_ref().unwrap_err();
            assert_eq!(err.short_name(), "ZeroDivisionError", "{at}");
            assert!(err.traceback.is_some(), "{at}");
            n += 1;
        }
    }
    assert!(n >= 2, "only {n} batch replies checked");
}

#[test]
fn class_replies_match_the_recorded_client_results() {
    let mut n = 0;
    for ser in ["serpent", "json", "marshal", "pickle"] {
        let file = vectors::named(&format!("{ser}_classes.txt"));
        let want = client_result(&file);
        for (method, f, line_no) in exchanges(&file) {
            let id = SerializerId::from_id(f.serializer_id).unwrap();
            if codec_missing(id) || method.is_empty() {
                continue;
            }
            let at = format!("{}:{line_no} {method}", file.name);
            let got = id.loads(&f.payload);
            match method.as_str() {
                "get_uri" => {
                    let v = got.unwrap_or_else(|e| panic!("{at}: {e}"));
                    let c = v.as_class().unwrap_or_else(|| panic!("{at}: {v:?}"));
                    assert_eq!(c.class_name, "Pyro4.core.URI", "{at}");
                    let state = c.fields.get_str("state").unwrap().as_seq().unwrap();
                    assert_eq!(state[1].as_str(), Some("some.object"), "{at}");
                    assert!(want.contains("PYRO:some.object@localhost:9999"));
                }
                "weird_floats" => {
                    let v = got.unwrap_or_else(|e| panic!("{at}: {e}"));
                    let items = v.as_seq().unwrap();
                    assert_eq!(items[0].as_f64(), Some(f64::INFINITY), "{at}");
                    assert_eq!(items[1].as_f64(), Some(f64::NEG_INFINITY), "{at}");
                    assert!(items[2].as_f64().unwrap().is_nan(), "{at}");
                    assert!(want.contains("[inf, -inf, nan]"));
                }
                "custom_class" => {
                    let refused = "custom_class: SerializeError: unsupported serialized class: vectorsvc.Thing";
                    match got {
                        Err(e) => {
                            assert_eq!(
                                e,
                                SerializeError::UnknownClass("vectorsvc.Thing".into()),
                                "{at}"
                            );
                            // Our whitelisting pickle codec refuses what Python's pickle imports.
                            assert!(
                                id == SerializerId::Pickle || want.contains(refused),
                                "{at}: Python accepted it: {want}"
                            );
                        }
                        Ok(v) => {
                            assert!(
                                !want.contains(refused),
                                "{at}: Python refused it, we got {v:?}"
                            );
                            match &v {
                                // pickle: the real object.
                                Value::Class(c) => {
                                    assert_eq!(c.class_name, "vectorsvc.Thing", "{at}")
                                }
                                // json/marshal on Python 3.11: __getstate__ dict without __class__.
                                Value::Dict(d) => {
                                    assert_eq!(
                                        d.get_str("name"),
                                        Some(&Value::from("widget")),
                                        "{at}"
                                    );
                                    assert!(want.contains("{'name': 'widget', 'size': 3}"));
                                }
                                other => panic!("{at}: {other:?}"),
                            }
                        }
                    }
                }
                _ => continue,
            }
            n += 1;
        }
    }
    assert!(n >= 9, "only {n} calls checked");
}

// ------------------------------------------------------------------ Python oracle

fn d(pairs: Vec<(&str, Value)>) -> Value {
    Value::Dict(
        pairs
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect::<Dict>(),
    )
}

fn exc(name: &str, marker: Value) -> Value {
    d(vec![
        ("__class__", name.into()),
        ("__exception__", marker),
        ("args", Value::tuple(["msg"])),
        (
            "attributes",
            d(vec![("_pyroTraceback", Value::list(["tb\n"]))]),
        ),
    ])
}

fn proxy_state(n: usize, hmac: Value) -> Value {
    let full = vec![
        Value::from("PYRO:obj@localhost:9999"),
        Value::tuple(["ow"]),
        Value::tuple(["m"]),
        Value::tuple(["a"]),
        Value::Float(0.0),
        hmac,
        Value::from("hello"),
        Value::Int(0),
        Value::None,
    ];
    d(vec![
        ("__class__", "Pyro4.core.Proxy".into()),
        ("state", Value::Tuple(full.into_iter().take(n).collect())),
    ])
}

fn corpus() -> Vec<(&'static str, Value)> {
    let t = Value::Bool(true);
    let uri5 = Value::tuple([
        Value::from("PYRO"),
        "obj".into(),
        Value::None,
        "localhost".into(),
        9999.into(),
    ]);
    vec![
        ("builtin", exc("builtins.ValueError", t.clone())),
        ("py2 spelling", exc("exceptions.KeyError", t.clone())),
        ("bare builtin", exc("ZeroDivisionError", t.clone())),
        ("bare pyro", exc("NamingError", t.clone())),
        ("pyro error", exc("Pyro4.errors.DaemonError", t.clone())),
        (
            "pyro error no marker",
            exc("Pyro4.errors.SecurityError", Value::Bool(false)),
        ),
        (
            "builtin no marker",
            exc("builtins.ValueError", Value::Bool(false)),
        ),
        (
            "builtin int marker",
            exc("builtins.ValueError", Value::Int(1)),
        ),
        (
            "builtin str marker",
            exc("builtins.ValueError", Value::from("yes")),
        ),
        (
            "builtin empty marker",
            exc("builtins.ValueError", Value::from("")),
        ),
        ("custom exception", exc("vectorsvc.MyError", t.clone())),
        ("dunder module", exc("__main__.MyError", t.clone())),
        ("dunder anywhere", exc("app.x__y", t.clone())),
        ("sqlite3 error", exc("sqlite3.OperationalError", t.clone())),
        ("sqlite3 warning", exc("sqlite3.Warning", t.clone())),
        ("not an exception", exc("builtins.int", t.clone())),
        (
            "unknown pyro error",
            exc("Pyro4.errors.NoSuchError", t.clone()),
        ),
        (
            "uri",
            d(vec![
                ("__class__", "Pyro4.core.URI".into()),
                ("state", uri5.clone()),
            ]),
        ),
        (
            "uri in list",
            Value::list([
                Value::Int(1),
                d(vec![
                    ("__class__", "Pyro4.core.URI".into()),
                    ("state", uri5.clone()),
                ]),
            ]),
        ),
        (
            "uri in dict value",
            d(vec![(
                "k",
                d(vec![
                    ("__class__", "Pyro4.core.URI".into()),
                    ("state", uri5),
                ]),
            )]),
        ),
        (
            "unknown nested",
            Value::tuple([Value::list([d(vec![("__class__", "app.Thing".into())])])]),
        ),
        ("proxy", proxy_state(9, Value::None)),
        ("proxy 8 items", proxy_state(8, Value::None)),
        ("proxy b64 hmac", proxy_state(9, "b64:c2VjcmV0".into())),
        ("proxy empty hmac", proxy_state(9, "".into())),
        ("proxy bad hmac", proxy_state(9, "secret".into())),
        (
            "daemon",
            d(vec![
                ("__class__", "Pyro4.core.Daemon".into()),
                ("state", Value::tuple(Vec::<Value>::new())),
            ]),
        ),
        (
            "other core class",
            d(vec![("__class__", "Pyro4.core.DaemonObject".into())]),
        ),
        (
            "serializer",
            d(vec![("__class__", "Pyro4.util.JsonSerializer".into())]),
        ),
        (
            "unknown util",
            d(vec![("__class__", "Pyro4.util.Nope".into())]),
        ),
        (
            "exception wrapper",
            d(vec![
                ("__class__", "Pyro4.futures._ExceptionWrapper".into()),
                ("exception", exc("builtins.ZeroDivisionError", t.clone())),
            ]),
        ),
        (
            "wrapper of custom",
            d(vec![
                ("__class__", "Pyro4.futures._ExceptionWrapper".into()),
                ("exception", exc("app.Custom", t.clone())),
            ]),
        ),
        (
            "float dict",
            d(vec![("__class__", "float".into()), ("value", "nan".into())]),
        ),
        (
            "float dict inf",
            d(vec![
                ("__class__", "float".into()),
                ("value", "-inf".into()),
            ]),
        ),
        (
            "complex dict",
            d(vec![
                ("__class__", "complex".into()),
                ("real", 1.0.into()),
                ("imag", 2.0.into()),
            ]),
        ),
        (
            "ordered dict",
            d(vec![
                ("__class__", "collections.OrderedDict".into()),
                ("items", Value::list(Vec::<Value>::new())),
            ]),
        ),
        (
            "user class",
            d(vec![
                ("name", "widget".into()),
                ("__class__", "vectorsvc.Thing".into()),
            ]),
        ),
        ("custom inside exception args", {
            let mut e = exc("builtins.ValueError", t.clone());
            if let Value::Dict(dd) = &mut e {
                dd.insert(
                    "args",
                    Value::tuple([d(vec![("__class__", "app.Hidden".into())])]),
                );
            }
            e
        }),
        ("plain dict", d(vec![("a", Value::Int(1))])),
        ("args as str", {
            let mut e = exc("builtins.ValueError", t.clone());
            if let Value::Dict(dd) = &mut e {
                dd.insert("args", "abc");
            }
            e
        }),
        ("args as int", {
            let mut e = exc("builtins.ValueError", t.clone());
            if let Value::Dict(dd) = &mut e {
                dd.insert("args", 5);
            }
            e
        }),
        (
            "args missing",
            d(vec![
                ("__class__", "builtins.ValueError".into()),
                ("__exception__", t.clone()),
            ]),
        ),
        ("attributes not a dict", {
            let mut e = exc("builtins.ValueError", t.clone());
            if let Value::Dict(dd) = &mut e {
                dd.insert("attributes", Value::list([1]));
            }
            e
        }),
        ("attribute name not str", {
            let mut e = exc("builtins.ValueError", t.clone());
            if let Value::Dict(dd) = &mut e {
                dd.insert(
                    "attributes",
                    Value::Dict([(Value::Int(1), Value::from("x"))].into_iter().collect()),
                );
            }
            e
        }),
        ("class name not str", d(vec![("__class__", Value::Int(5))])),
        (
            "uri short state",
            d(vec![
                ("__class__", "Pyro4.core.URI".into()),
                ("state", Value::tuple([1, 2])),
            ]),
        ),
        ("proxy 7 items", proxy_state(7, Value::None)),
        (
            "daemon without state",
            d(vec![("__class__", "Pyro4.core.Daemon".into())]),
        ),
        (
            "wrapper without exception",
            d(vec![(
                "__class__",
                "Pyro4.futures._ExceptionWrapper".into(),
            )]),
        ),
        (
            "float dict without value",
            d(vec![("__class__", "float".into())]),
        ),
        (
            "float dict bad value",
            d(vec![("__class__", "float".into()), ("value", "abc".into())]),
        ),
    ]
}

/// Our outcome in the oracle's words.
fn our_outcome(r: &Result<Value, SerializeError>) -> String {
    match r {
        Ok(Value::Class(c)) => format!("ok {}", python_type(c)),
        Ok(v) => format!("ok builtins.{}", v.type_name()),
        Err(SerializeError::DunderClass(_)) => {
            format!("err SecurityError\t{}", r.as_ref().unwrap_err())
        }
        Err(SerializeError::UnknownClass(_)) => {
            format!("err SerializeError\t{}", r.as_ref().unwrap_err())
        }
        Err(SerializeError::Conversion(m)) if m == "hmac encoding error" => {
            "err ProtocolError\thmac encoding error".into()
        }
        Err(e) => format!("err other\t{e}"),
    }
}

/// The Python type Pyro4 builds for an accepted class name.
fn python_type(c: &ClassDict) -> String {
    let name = c.class_name.as_str();
    let short = c.short_name();
    if name.starts_with("exceptions.") || !name.contains('.') {
        if ["NamingError", "DaemonError", "SecurityError"].contains(&short) {
            return format!("Pyro4.errors.{short}");
        }
        return format!("builtins.{short}");
    }
    name.to_string()
}

fn oracle(input: &str) -> Vec<String> {
    oracle_mode("classes", input)
}

fn oracle_mode(mode: &str, input: &str) -> Vec<String> {
    let mut cmd: Command = script("value_classes.py");
    cmd.arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start the Python oracle");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn dict_to_class_matches_python_pyro4() {
    let mut cases = Vec::new();
    for ser in [
        SerializerId::Serpent,
        SerializerId::Json,
        SerializerId::Marshal,
    ] {
        assert!(!codec_missing(ser), "{ser:?} codec missing");
        for (name, value) in corpus() {
            let payload = ser.dumps(&value).unwrap_or_else(|e| panic!("{name}: {e}"));
            cases.push((ser, name, payload));
        }
    }
    assert!(!cases.is_empty(), "no codec available");
    let input: String = cases
        .iter()
        .map(|(ser, _, p)| {
            format!(
                "{} {}\n",
                ser.name(),
                p.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )
        })
        .collect();
    let py = oracle(&input);
    assert_eq!(py.len(), cases.len());
    let mut pyro_errors = 0;
    for ((ser, name, payload), py) in cases.iter().zip(&py) {
        let ours = our_outcome(&ser.loads(payload));
        let at = format!("{} {name}", ser.name());
        let py_kind = py.split('\t').next().unwrap();
        if py.starts_with("ok")
            || [
                "err SerializeError",
                "err SecurityError",
                "err ProtocolError",
            ]
            .contains(&py_kind)
        {
            // Accepted with the same type, or refused with the same Pyro error and text.
            assert_eq!(&ours, py, "{at}");
            pyro_errors += usize::from(py.starts_with("err"));
        } else {
            // Python failed with a plain Python error (KeyError, ...): we must fail too.
            assert!(ours.starts_with("err"), "{at}: Python: {py}, ours: {ours}");
        }
    }
    assert!(pyro_errors >= 30, "only {pyro_errors} refusals compared");
}

/// serpent text written by Python itself for the NaN and class forms decodes
/// through our serpent codec + class layer.
#[test]
fn serpent_nan_dict_from_python_text() {
    let text = b"# serpent utf-8 python3.2\n[1e30000,-1e30000,{'__class__':'float','value':'nan'}]";
    let v = SerializerId::Serpent.loads(text).unwrap();
    let raw = serpent::loads(text).unwrap();
    assert!(raw.as_seq().unwrap()[2].as_dict().is_some());
    assert!(v.as_seq().unwrap()[2].as_f64().unwrap().is_nan());
}

/// `Value::py_eq` against Python's `==` on every pair of a pool of numbers
/// and containers (cross-type numbers, exact int/float comparison, NaN,
/// signed zeros, set/frozenset, order-insensitive dicts and sets).
#[test]
fn py_eq_matches_python_equality() {
    let big = |s: &str| Value::from_bigint(s.parse().unwrap());
    let nums = vec![
        Value::Int(0),
        Value::Int(1),
        Value::Int(-1),
        Value::Bool(true),
        Value::Bool(false),
        Value::Float(1.0),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(0.5),
        Value::Int(1 << 53),
        Value::Int((1 << 53) + 1),
        Value::Float((1u64 << 53) as f64),
        Value::Float(9007199254740994.0),
        Value::Int(i64::MAX),
        Value::Float(9223372036854775808.0),
        big("9223372036854775808"),
        big("18446744073709551616"),
        Value::Float(18446744073709551616.0),
        big("-18446744073709551617"),
        Value::Float(1e300),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NAN),
        Value::Complex { re: 1.0, im: 0.0 },
        Value::Complex { re: 1.0, im: 1.0 },
        Value::Complex { re: 0.0, im: 0.0 },
        Value::from("1"),
        Value::None,
    ];
    let mut pool = nums.clone();
    pool.extend([
        Value::list([1, 2]),
        Value::list([Value::Float(1.0), Value::Float(2.0)]),
        Value::tuple([1, 2]),
        Value::tuple([Value::Bool(true), Value::Int(2)]),
        Value::Set(vec![1.into(), 2.into()]),
        Value::Set(vec![Value::Float(2.0), Value::Bool(true)]),
        Value::Set(vec![1.into(), 3.into()]),
        Value::list([Value::Float(f64::NAN)]),
        d(vec![("a", 1.into()), ("b", Value::tuple([1]))]),
        d(vec![
            ("b", Value::tuple([Value::Float(1.0)])),
            ("a", Value::Bool(true)),
        ]),
        d(vec![("a", 1.into())]),
        Value::Dict(
            [
                (Value::Int(1), Value::from("x")),
                (Value::from("k"), Value::None),
            ]
            .into_iter()
            .collect(),
        ),
        Value::Dict(
            [
                (Value::from("k"), Value::None),
                (Value::Float(1.0), Value::from("x")),
            ]
            .into_iter()
            .collect(),
        ),
    ]);
    let hex = |v: &Value| {
        serpent::dumps(v)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let mut input = String::new();
    let mut pairs = Vec::new();
    for a in &pool {
        for b in &pool {
            input.push_str(&format!("{} {}\n", hex(a), hex(b)));
            pairs.push((a, b));
        }
    }
    let py = oracle_mode("eq", &input);
    assert_eq!(py.len(), pairs.len());
    let mut equal = 0;
    for ((a, b), py) in pairs.iter().zip(&py) {
        let want = py == "1";
        // Python's list/tuple/dict comparison has an identity shortcut, so a
        // container holding the very same NaN object equals itself; two
        // separately decoded NaNs (as here) are not identical.
        assert_eq!(a.py_eq(b), want, "{a:?} == {b:?}: Python says {want}");
        equal += usize::from(want);
    }
    assert!(
        equal > pool.len(),
        "only {equal} equal pairs: the pool is too uniform"
    );
}
