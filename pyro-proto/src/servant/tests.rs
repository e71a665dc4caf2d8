use super::*;
use crate::message::Annotations;
use alloc::vec;

fn ctx() -> CallContext {
    CallContext {
        client: None,
        seq: 1,
        serializer: SerializerId::Serpent,
        flags: Flags::NONE,
        annotations: Annotations::new(),
        correlation_id: [0; 16],
        response_annotations: Annotations::new(),
    }
}

fn call(s: &Arc<dyn Servant>, method: &str, vargs: Vec<Value>) -> Result<Value, RemoteError> {
    match s.invoke(&mut ctx(), method, Args::positional(vargs))? {
        Reply::Value(v) => Ok(v),
        Reply::Stream(_) => panic!("unexpected stream"),
    }
}

#[test]
fn metadata_follows_from_the_builder() {
    let s = ServantBuilder::new("Thing")
        .method("b", |(): ()| Ok(1))
        .oneway("a", |(): ()| Ok(()))
        .generator("g", |(): ()| Ok(vec![1, 2]))
        .attr("x", || 1)
        .attr_rw("y", || 2, |_: i64| Ok(()))
        .build();
    let m = s.metadata();
    assert_eq!(m.methods, ["a", "b", "g"]);
    assert_eq!(m.oneway, ["a"]);
    assert_eq!(m.attrs, ["x", "y"]);
    assert_eq!(s.class_name(), "Thing");
}

/// Pyro4 runs a `@oneway` method called without the ONEWAY flag like any
/// other and sends its result (test_server.py's testOnewayMetaOn:
/// `oneway_multiply(5, 11) == 55` once the proxy's oneway set is cleared).
#[test]
fn oneway_methods_called_without_the_flag_answer_with_their_result() {
    let s = ServantBuilder::new("T")
        .oneway("oneway_multiply", |(x, y): (i64, i64)| Ok(x * y))
        .oneway("log", |(_line,): (String,)| Ok(()))
        .build();
    assert_eq!(s.metadata().oneway, ["log", "oneway_multiply"]);
    assert_eq!(
        call(&s, "oneway_multiply", vec![Value::Int(5), Value::Int(11)]).unwrap(),
        Value::Int(55)
    );
    assert_eq!(
        call(&s, "log", vec![Value::Str("x".into())]).unwrap(),
        Value::None
    );
}

#[test]
fn typed_arguments_and_results_go_through_serde() {
    let s = ServantBuilder::new("T")
        .method("concat", |(a, b): (String, Vec<u8>)| Ok((a.len(), b)))
        .method("none", |(): ()| Ok(Option::<i32>::None))
        .build();
    assert_eq!(
        call(
            &s,
            "concat",
            vec![Value::Str("ab".into()), Value::Bytes(vec![1])]
        )
        .unwrap(),
        Value::Tuple(vec![Value::Int(2), Value::List(vec![Value::Int(1)])])
    );
    assert_eq!(call(&s, "none", vec![]).unwrap(), Value::None);
    let e = call(&s, "concat", vec![Value::Int(1)]).unwrap_err();
    assert_eq!(e.class_name, "builtins.TypeError");
    let e = s
        .invoke(
            &mut ctx(),
            "none",
            Args {
                vargs: vec![],
                kwargs: Dict(vec![(Value::Str("k".into()), Value::None)]),
            },
        )
        .unwrap_err();
    assert_eq!(e.message(), "none() got an unexpected keyword argument 'k'");
}

#[test]
fn generators_become_streams_of_converted_items() {
    let s = ServantBuilder::new("G")
        .generator("letters", |(n,): (usize,)| {
            Ok("abcdef"
                .chars()
                .take(n)
                .map(String::from)
                .collect::<Vec<_>>())
        })
        .build();
    let Ok(Reply::Stream(items)) =
        s.invoke(&mut ctx(), "letters", Args::positional(vec![Value::Int(2)]))
    else {
        panic!("not a stream")
    };
    let items: Vec<_> = items.map(Result::unwrap).collect();
    assert_eq!(items, [Value::Str("a".into()), Value::Str("b".into())]);
}

#[test]
fn attributes_and_callbacks() {
    let s = ServantBuilder::new("A")
        .attr("ro", || "x")
        .callback("cb", |(): ()| Ok(()))
        .build();
    assert_eq!(
        s.get_attr(&mut ctx(), "ro").unwrap(),
        Value::Str("x".into())
    );
    assert_eq!(
        s.set_attr(&mut ctx(), "ro", Value::None)
            .unwrap_err()
            .class_name,
        "builtins.AttributeError"
    );
    assert!(s.is_callback("cb"));
    assert!(!s.is_callback("ro"));
    let e = call(&s, "missing", vec![]).unwrap_err();
    assert_eq!(e.message(), "'A' object has no attribute 'missing'");
}

#[test]
fn private_names_follow_pyro4() {
    for name in [
        "_x",
        "__x",
        "__init__",
        "__call__",
        "__getattr__",
        "_",
        "____",
    ] {
        assert!(is_private_name(name), "{name}");
    }
    for name in ["x", "x_", "__len__", "__special__", "__a__", "a.b"] {
        assert!(!is_private_name(name), "{name}");
    }
}
