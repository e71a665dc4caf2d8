"""What `pyro call` must print, computed by a real Pyro4 4.82 proxy (pyro-cli/tests/cli_call.rs).

Reads JSON on stdin: {"uri": URI, "serializer": NAME, "hmac": KEY or null,
"cases": [{"method": M, "args": [LITERAL, ...], "kwargs": {NAME: LITERAL}}]}
and writes a JSON list with, per case, the output a Python user gets for
the same call: {"stdout": ..., "stderr": ..., "code": ...}, or {"skip": why}
when Python itself cannot send the arguments with this serializer (with
"bad_literal": true when an argument is not a Python literal at all).

- arguments are read with ast.literal_eval (what serpent's reader accepts);
- a result prints as print(repr(result)); an iterator result one repr per item;
- a remote exception prints like Pyro4.util.getPyroTraceback(): the remote
  traceback block, then the exception's last line (traceback's
  format_exception_only), exit code 1; an exception raised by the proxy
  itself (e.g. AttributeError for a name the metadata lacks) prints only its
  last line, exit code 1.
"""

import ast
import json
import sys
import traceback

import Pyro4
import Pyro4.core
import Pyro4.errors
import Pyro4.util


def remote_block(exc):
    tb = "".join(Pyro4.util.getPyroTraceback(type(exc), exc, exc.__traceback__))
    marker = " +--- This exception occured remotely (Pyro) - Remote traceback:"
    return tb[tb.index(marker):] if marker in tb else ""


def run_case(proxy, case):
    try:
        args = [ast.literal_eval(a) for a in case["args"]]
        kwargs = {k: ast.literal_eval(v) for k, v in case.get("kwargs", {}).items()}
    except (ValueError, SyntaxError) as e:
        return {"skip": "not a literal: %s" % e, "bad_literal": True}
    try:
        result = getattr(proxy, case["method"])(*args, **kwargs)
        if isinstance(result, Pyro4.core._StreamResultIterator):
            lines = [repr(item) for item in result]
        else:
            lines = [repr(result)]
        return {"stdout": "".join(line + "\n" for line in lines), "stderr": "", "code": 0}
    except (Pyro4.errors.SerializeError, TypeError, ValueError) as e:
        if not getattr(e, "_pyroTraceback", None):
            # Raised here, before sending: Python cannot send these arguments.
            return {"skip": "%s: %s" % (type(e).__name__, e)}
        last = "".join(traceback.format_exception_only(type(e), e))
        return {"stdout": "", "stderr": remote_block(e) + last, "code": 1}
    except Pyro4.errors.CommunicationError as e:
        return {"stdout": "", "stderr": "communication: %s" % e, "code": 4}
    except Exception as e:
        last = "".join(traceback.format_exception_only(type(e), e))
        return {"stdout": "", "stderr": remote_block(e) + last, "code": 1}


def main():
    job = json.load(sys.stdin)
    Pyro4.config.SERIALIZER = job["serializer"]
    results = []
    for case in job["cases"]:
        # A fresh proxy per case, as each `pyro call` is a process of its own.
        with Pyro4.Proxy(job["uri"]) as proxy:
            if job.get("hmac"):
                proxy._pyroHmacKey = job["hmac"].encode()
            results.append(run_case(proxy, case))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
